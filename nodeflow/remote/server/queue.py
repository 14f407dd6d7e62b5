"""The task queue: submit, cancel, expire, and the bookkeeping both halves
share (``queue_lease``: runners' leases, results, heartbeats;
``queue_watch``: what changed, for the submitting side).

States: ``queued`` → ``running`` (leased) → ``succeeded`` | ``failed`` |
``cancelled``. A lease lives ``lease_timeout_s`` and is renewed by every
heartbeat that lists it; ``expire()`` re-queues tasks whose lease ran out
(one more retry; past ``max_retries`` the task fails with reason ``lost``). A
cancel of a queued task ends it at once; of a running one, it is flagged and
told to the runner at its next heartbeat.

Bookkeeping:

* every write transaction takes the next *change number* and stamps the
  tasks (and log chunks) it touches, so watchers can ask "what changed
  after N" with one indexed query; each change also bumps the task's
  ``version`` (for watchers that ask by id);
* after a commit, ``_changed`` wakes the long-polls of the clients concerned
  (``client:<id>``) and, when tasks became leasable, the runners (``queue``);
* an in-memory *hint* of the tag sets that may have queued tasks (added on
  every enqueue, dropped when a lease query finds none) keeps the lease path
  from looking at tag sets with nothing in them.

Change numbers and wake-ups live in this process: run one server process
per database (the claim itself stays safe with more — see ``queue_lease``).
"""
from __future__ import annotations

import json
import threading
import time
from typing import Iterable

from sqlalchemy import delete, func, select, update

from ..protocol import TASK_CANCELLED, TASK_FINAL, TASK_QUEUED, TASK_RUNNING, TaskSubmit, WireResult
from .auth import Principal
from .db import Database, task_logs, tasks
from .notify import Notifier
from .queue_lease import Leasing
from .queue_watch import Watching
from .runners import RunnerRegistry
from .sql import chunks as _chunks

_VERSION_UP = tasks.c.version + 1


def tag_key(tags: Iterable[str]) -> str:
    return ",".join(sorted(set(tags)))


class TaskQueue(Watching, Leasing):
    def __init__(self, db: Database, notifier: Notifier, runners: RunnerRegistry, *, lease_timeout_s: float = 60.0,
                 max_retries: int = 3, max_log_lines: int = 200_000, clock=time.time):
        self.db = db
        self.notifier = notifier
        self.runners = runners
        self.lease_timeout_s = lease_timeout_s
        self.max_retries = max_retries
        self.max_log_lines = max_log_lines
        self.clock = clock
        self._lock = threading.Lock()
        self._hint: set[str] | None = None  # tag sets that may have queued tasks
        self._versions: dict[int, tuple[int, int, int]] = {}  # id → (version, log_seq, owner_id)
        self._epoch = 0
        self._seq: int | None = None  # the last change sequence number handed out

    def _next_seq(self, conn) -> int:
        """A new change number (inside a write transaction: writers are serialized, so numbers
        commit in order and a watcher's cursor never skips one)."""
        if self._seq is None:
            self._seq = max(conn.execute(select(func.max(tasks.c.change_seq))).scalar() or 0,
                            conn.execute(select(func.max(task_logs.c.change_seq))).scalar() or 0)
        self._seq += 1
        return self._seq

    @staticmethod
    def _bump(cs: int) -> dict:
        return {"version": _VERSION_UP, "change_seq": cs}

    # -- bookkeeping ------------------------------------------------------------------------
    def _hint_sets(self) -> set[str]:
        with self._lock:
            if self._hint is not None:
                return set(self._hint)
        with self.db.read() as conn:
            found = {t for (t,) in conn.execute(select(tasks.c.tags).where(tasks.c.state == TASK_QUEUED).distinct())}
        with self._lock:
            if self._hint is None:
                self._hint = found
            else:
                self._hint |= found
            return set(self._hint)

    def _hint_add(self, keys: Iterable[str]) -> None:
        with self._lock:
            if self._hint is not None:
                self._hint.update(keys)

    def _changed(self, changed: list[tuple[int, str]], queue: bool = False) -> None:
        """After a commit: forget cached versions, wake the watchers (and leasers)."""
        if not changed and not queue:
            return
        with self._lock:
            self._epoch += 1
            for tid, _ in changed:
                self._versions.pop(tid, None)
        topics = {f"client:{c}" for _, c in changed if c}
        if changed:
            topics.add("tasks")
        if queue:
            topics.add("queue")
        self.notifier.notify(*topics)

    # -- submitting side --------------------------------------------------------------------
    def submit(self, p: Principal, client: str, items: list[TaskSubmit], server_run: str | None = None) -> list[int]:
        now = self.clock()
        keys = [t.key for t in items]
        changed: list[tuple[int, str]] = []
        with self.db.write() as conn:
            cs = self._next_seq(conn)
            known: dict[str, tuple[int, str]] = {}
            for part in _chunks(keys):
                for tid, key, cl in conn.execute(select(tasks.c.id, tasks.c.key, tasks.c.client)
                                                 .where(tasks.c.owner_id == p.user_id, tasks.c.key.in_(part))):
                    known[key] = (tid, cl)
            rows, seen = [], set()
            for t in items:
                if t.key in known:
                    tid, cl = known[t.key]
                    if cl != client:  # taken over by a new watcher (e.g. a re-attached run)
                        conn.execute(update(tasks).where(tasks.c.id == tid).values(client=client, **self._bump(cs)))
                        changed.append((tid, client))
                    continue
                if t.key in seen:
                    continue
                seen.add(t.key)
                spec = t.spec
                rows.append({"owner_id": p.user_id, "key": t.key, "client": client,
                             "run_id": str(spec.get("run_id", ""))[:100], "node": str(spec.get("node", "")),
                             "attempt": int(spec.get("attempt") or 1), "spec": json.dumps(spec),
                             "tags": tag_key(t.tags), "slots": t.slots, "priority": t.priority,
                             "state": TASK_QUEUED, "retries": 0,
                             "max_retries": self.max_retries if t.max_retries is None else t.max_retries,
                             "submitted_at": now, "version": 1, "change_seq": cs, "log_seq": 0, "log_lines": 0,
                             "cancel_requested": False, "server_run": server_run})
            if rows:
                conn.execute(tasks.insert(), rows)
                for part in _chunks([r["key"] for r in rows]):
                    for tid, key in conn.execute(select(tasks.c.id, tasks.c.key)
                                                 .where(tasks.c.owner_id == p.user_id, tasks.c.key.in_(part))):
                        if key not in known:
                            known[key] = (tid, client)
                            changed.append((tid, client))
        self._hint_add(r["tags"] for r in rows)
        self._changed(changed, queue=bool(rows))
        return [known[k][0] for k in keys]

    def cancel(self, p: Principal | None, ids: list[int] | None = None, *, only_queued: bool = False) -> list[int]:
        """Cancel tasks (``ids`` None: all of them — admin). Queued ones end at once."""
        now = self.clock()
        done, changed = [], []
        with self.db.write() as conn:
            cs = self._next_seq(conn)
            q = select(tasks.c.id, tasks.c.state, tasks.c.owner_id, tasks.c.client, tasks.c.cancel_requested)
            states = [TASK_QUEUED] if only_queued else [TASK_QUEUED, TASK_RUNNING]
            rows = []
            if ids is None:
                rows = conn.execute(q.where(tasks.c.state.in_(states))).all()
            else:
                for part in _chunks(list(ids)):
                    rows.extend(conn.execute(q.where(tasks.c.id.in_(part))).all())
            for r in rows:
                if p is not None and r.owner_id != p.user_id and not p.admin:
                    continue
                if r.state == TASK_QUEUED:
                    n = conn.execute(update(tasks).where(tasks.c.id == r.id, tasks.c.state == TASK_QUEUED).values(
                        state=TASK_CANCELLED, reason="cancelled", finished_at=now, **self._bump(cs))).rowcount
                elif r.state == TASK_RUNNING and not only_queued and not r.cancel_requested:
                    n = conn.execute(update(tasks).where(tasks.c.id == r.id).values(
                        cancel_requested=True, **self._bump(cs))).rowcount
                else:
                    n = 0
                if n:
                    done.append(r.id)
                    changed.append((r.id, r.client))
        self._changed(changed)
        return done

    # -- maintenance ------------------------------------------------------------------------
    def expire(self) -> int:
        """Re-queue (or fail) running tasks whose lease ran out. Returns how many."""
        now = self.clock()
        changed: list[tuple[int, str]] = []
        requeued: set[str] = set()
        with self.db.write() as conn:
            cs = self._next_seq(conn)
            rows = conn.execute(select(tasks.c.id, tasks.c.lease, tasks.c.client, tasks.c.retries, tasks.c.tags,
                                       tasks.c.max_retries, tasks.c.cancel_requested)
                                .where(tasks.c.state == TASK_RUNNING, tasks.c.lease_expires < now)).all()
            for r in rows:
                if r.cancel_requested:
                    values = {"state": TASK_CANCELLED, "reason": "cancelled", "finished_at": now}
                elif r.retries + 1 > r.max_retries:
                    values = {"state": "failed", "reason": "lost", "finished_at": now, "retries": r.retries + 1,
                              "result": WireResult(ok=False, error=f"its runner was lost {r.retries + 1} times "
                                                   "(no heartbeat within the lease time)").model_dump_json()}
                else:
                    values = {"state": TASK_QUEUED, "started_at": None, "retries": r.retries + 1}
                    requeued.add(r.tags)
                n = conn.execute(update(tasks).where(tasks.c.id == r.id, tasks.c.lease == r.lease).values(
                    runner_id=None, lease=None, lease_expires=None, **self._bump(cs), **values)).rowcount
                if n:
                    changed.append((r.id, r.client))
        self._hint_add(requeued)
        self._changed(changed, queue=bool(requeued))
        return len(changed)

    def prune(self, keep_s: float) -> int:
        """Forget finished tasks (and their logs) that ended more than ``keep_s`` ago."""
        cutoff = self.clock() - keep_s
        with self.db.write() as conn:
            old = select(tasks.c.id).where(tasks.c.state.in_(list(TASK_FINAL)), tasks.c.finished_at < cutoff)
            conn.execute(delete(task_logs).where(task_logs.c.task_id.in_(old)))
            n = conn.execute(delete(tasks).where(tasks.c.state.in_(list(TASK_FINAL)),
                                                 tasks.c.finished_at < cutoff)).rowcount
        with self._lock:
            self._versions.clear()
        return n

    def grace(self) -> None:
        """At start-up: give runners a full lease time to come back before their tasks move."""
        t = self.clock() + self.lease_timeout_s
        with self.db.write() as conn:
            conn.execute(update(tasks).where(tasks.c.state == TASK_RUNNING, tasks.c.lease_expires < t)
                         .values(lease_expires=t))

    def counts(self) -> dict[str, int]:
        with self.db.read() as conn:
            return {s: n for s, n in conn.execute(select(tasks.c.state, func.count()).group_by(tasks.c.state))}

    def queue_status(self) -> dict:
        with self.db.read() as conn:
            counts = {s: n for s, n in conn.execute(select(tasks.c.state, func.count()).group_by(tasks.c.state))}
            sets = {t: n for t, n in conn.execute(select(tasks.c.tags, func.count())
                                                  .where(tasks.c.state == TASK_QUEUED).group_by(tasks.c.tags))}
            oldest = conn.execute(select(func.min(tasks.c.submitted_at)).where(tasks.c.state == TASK_QUEUED)).scalar()
        return {"counts": counts, "tag_sets": sets, "oldest_queued_at": oldest}
