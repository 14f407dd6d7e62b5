"""The task queue: submit, lease, heartbeat, report, watch, cancel, expire.

States: ``queued`` → ``running`` (leased) → ``succeeded`` | ``failed`` |
``cancelled``. The lease path is built for throughput:

* a runner leases up to its free slots in ONE request, and hands in the
  results of finished tasks in the same request;
* candidate tasks are found by *tag set*: an in-memory hint of the tag sets
  that may have queued tasks (added on every enqueue, dropped when a query
  finds none) picks the sets that are subsets of the runner's tags, then one
  indexed query takes the oldest tasks of those sets;
* the claim is one ``UPDATE … WHERE id IN (…) AND state = 'queued'`` with a
  fresh lease token, read back by that token — at most one live lease per
  task even with several server processes on one PostgreSQL database;
* long-polls sleep on the ``Notifier`` (no polling of the database).

A lease lives ``lease_timeout_s`` and is renewed by every heartbeat that
lists it. ``expire()`` re-queues tasks whose lease ran out (one more retry;
past ``max_retries`` the task fails with reason ``lost``); results carrying a
stale lease are ignored, so a task completes at most once. A cancel of a
running task is flagged and told to the runner at its next heartbeat.

Every change bumps the task's ``version``; watchers send the versions they
know and get back only what changed (an in-memory cache of versions keeps
that check off the database).
"""
from __future__ import annotations

import json
import secrets
import threading
import time
from typing import Iterable

from sqlalchemy import func, select, update

from ..protocol import (TASK_CANCELLED, TASK_FINAL, TASK_QUEUED, TASK_RUNNING, TASK_SUCCEEDED, Heartbeat,
                        HeartbeatReply, LeasedTask, LeaseRequest, TaskReport, TaskState, TaskSubmit, TaskWatch,
                        WireResult)
from .auth import Principal
from .db import Database, task_logs, tasks
from .errors import NotFound
from .notify import Notifier
from .runners import RunnerRegistry

CHUNK = 500  # ids per IN (…) list
MAX_LOG_CHUNKS_PER_STATUS = 50


def tag_key(tags: Iterable[str]) -> str:
    return ",".join(sorted(set(tags)))


def _chunks(seq: list, n: int = CHUNK):
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


class TaskQueue:
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
                        conn.execute(update(tasks).where(tasks.c.id == tid).values(client=client))
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
                             "submitted_at": now, "version": 1, "log_seq": 0, "log_lines": 0,
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

    def status(self, p: Principal, watches: list[TaskWatch]) -> list[TaskState]:
        """States of the watched tasks that changed since the versions given."""
        with self._lock:
            epoch = self._epoch
            cached = {w.id: self._versions.get(w.id) for w in watches}
        todo = [i for i, v in cached.items() if v is None]
        if todo:
            loaded: dict[int, tuple[int, int, int]] = {}
            with self.db.read() as conn:
                for part in _chunks(todo):
                    for tid, ver, seq, owner in conn.execute(select(tasks.c.id, tasks.c.version, tasks.c.log_seq,
                                                                    tasks.c.owner_id).where(tasks.c.id.in_(part))):
                        loaded[tid] = (ver, seq, owner)
            cached.update(loaded)
            with self._lock:
                if self._epoch == epoch:  # nothing changed while we read: safe to remember
                    if len(self._versions) > 200_000:
                        self._versions.clear()
                    self._versions.update(loaded)
        out: list[TaskState] = []
        want: dict[int, TaskWatch] = {}
        for w in watches:
            v = cached.get(w.id)
            if v is None or (v[2] != p.user_id and not p.admin):
                out.append(TaskState(id=w.id, version=0, state="unknown", missing=True))
            elif (v[0], v[1]) != (w.version, w.log_seq):
                want[w.id] = w
        if want:
            out.extend(self._states(want))
        return out

    def _states(self, want: dict[int, TaskWatch]) -> list[TaskState]:
        out = []
        with self.db.read() as conn:
            rows = []
            for part in _chunks(list(want)):
                rows.extend(conn.execute(select(tasks).where(tasks.c.id.in_(part))).all())
            runner_names = {}
            for r in rows:
                w = want[r.id]
                lines: list = []
                if r.log_seq > w.log_seq:
                    for (chunk,) in conn.execute(select(task_logs.c.lines).where(
                            task_logs.c.task_id == r.id, task_logs.c.seq > w.log_seq)
                            .order_by(task_logs.c.seq).limit(MAX_LOG_CHUNKS_PER_STATUS)):
                        lines.extend(json.loads(chunk))
                    log_seq = min(r.log_seq, w.log_seq + MAX_LOG_CHUNKS_PER_STATUS)
                else:
                    log_seq = r.log_seq
                runner = host = None
                if r.runner_id is not None:
                    if r.runner_id not in runner_names:
                        rr = self.runners.get(r.runner_id)
                        runner_names[r.runner_id] = (rr["name"], rr["host"]) if rr else (None, None)
                    runner, host = runner_names[r.runner_id]
                result = WireResult.model_validate_json(r.result) if r.result else None
                out.append(TaskState(id=r.id, version=r.version, state=r.state, reason=r.reason, runner=runner,
                                     host=host, retries=r.retries, submitted_at=r.submitted_at,
                                     started_at=r.started_at, finished_at=r.finished_at, progress=r.progress,
                                     progress_message=r.progress_message, result=result, log=lines,
                                     log_seq=log_seq))
        return out

    def logs(self, p: Principal, task_id: int, after: int = 0, limit: int = 1000) -> tuple[list, int]:
        with self.db.read() as conn:
            row = conn.execute(select(tasks.c.owner_id).where(tasks.c.id == task_id)).first()
            if row is None or (row.owner_id != p.user_id and not p.admin):
                raise NotFound(f"no task {task_id}")
            lines, last = [], after
            for seq, chunk in conn.execute(select(task_logs.c.seq, task_logs.c.lines).where(
                    task_logs.c.task_id == task_id, task_logs.c.seq > after).order_by(task_logs.c.seq).limit(limit)):
                lines.extend(json.loads(chunk))
                last = seq
        return lines, last

    def cancel(self, p: Principal | None, ids: list[int] | None = None, *, only_queued: bool = False) -> list[int]:
        """Cancel tasks (``ids`` None: all of them — admin). Queued ones end at once."""
        now = self.clock()
        done, changed = [], []
        with self.db.write() as conn:
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
                        state=TASK_CANCELLED, reason="cancelled", finished_at=now,
                        version=tasks.c.version + 1)).rowcount
                elif r.state == TASK_RUNNING and not only_queued and not r.cancel_requested:
                    n = conn.execute(update(tasks).where(tasks.c.id == r.id).values(
                        cancel_requested=True, version=tasks.c.version + 1)).rowcount
                else:
                    n = 0
                if n:
                    done.append(r.id)
                    changed.append((r.id, r.client))
        self._changed(changed)
        return done

    # -- runner side ------------------------------------------------------------------------
    def lease(self, runner: dict, req: LeaseRequest) -> tuple[list[LeasedTask], list[int]]:
        """One attempt (no waiting): apply the results handed in, then claim what fits."""
        now = self.clock()
        free = req.max_tasks if req.free_slots is None else req.free_slots
        want = 0 if (runner["shutdown"] or runner["draining"]) else min(req.max_tasks, free)
        sets = []
        if want:
            tagset = runner["tagset"]
            sets = [k for k in self._hint_sets() if (set(k.split(",")) - {""}) <= tagset]
        out: list[LeasedTask] = []
        changed: list[tuple[int, str]] = []
        with self.db.write() as conn:
            accepted = self._apply_results(conn, runner["id"], req.results, now, changed)
            self.runners.seen(conn, runner["id"], now)
            if want and sets:
                q = (select(tasks.c.id, tasks.c.slots).where(tasks.c.state == TASK_QUEUED, tasks.c.tags.in_(sets))
                     .order_by(tasks.c.priority.desc(), tasks.c.id).limit(max(4 * want, 16)))
                if not runner["owner_admin"]:
                    q = q.where(tasks.c.owner_id == runner["owner_id"])
                cands = conn.execute(q).all()
                if not cands and runner["owner_admin"]:
                    with self._lock:
                        if self._hint is not None:
                            self._hint.difference_update(sets)
                take = []
                for tid, slots in cands:
                    if len(take) >= want:
                        break
                    if slots <= free:
                        take.append(tid)
                        free -= slots
                if take:
                    token = secrets.token_hex(8)
                    conn.execute(update(tasks).where(tasks.c.id.in_(take), tasks.c.state == TASK_QUEUED).values(
                        state=TASK_RUNNING, runner_id=runner["id"], lease=token,
                        lease_expires=now + self.lease_timeout_s, started_at=now, version=tasks.c.version + 1))
                    for r in conn.execute(select(tasks.c.id, tasks.c.spec, tasks.c.slots, tasks.c.retries,
                                                 tasks.c.client).where(tasks.c.lease == token)):
                        spec = json.loads(r.spec)
                        out.append(LeasedTask(task_id=r.id, lease=token, spec=spec, slots=r.slots,
                                              retries=r.retries, timeout_s=spec.get("timeout_s")))
                        changed.append((r.id, r.client))
        self._changed(changed)
        return out, accepted

    def _apply_results(self, conn, runner_id: int, reports: list[TaskReport], now: float,
                       changed: list[tuple[int, str]]) -> list[int]:
        if not reports:
            return []
        rows = {}
        for part in _chunks([r.task_id for r in reports]):
            for r in conn.execute(select(tasks.c.id, tasks.c.state, tasks.c.lease, tasks.c.runner_id,
                                         tasks.c.client, tasks.c.cancel_requested).where(tasks.c.id.in_(part))):
                rows[r.id] = r
        for rep in reports:
            row = rows.get(rep.task_id)
            if row is None or row.state != TASK_RUNNING or row.lease != rep.lease or row.runner_id != runner_id:
                continue  # stale (the lease ran out and the task went elsewhere) or a repeat: ignore
            state = rep.state
            if row.cancel_requested and state != TASK_SUCCEEDED:
                state = TASK_CANCELLED
            conn.execute(update(tasks).where(tasks.c.id == rep.task_id).values(
                state=state, reason=rep.reason, result=rep.result.model_dump_json(), finished_at=now,
                lease_expires=None, version=tasks.c.version + 1))  # the lease stays: late log chunks still fit
            changed.append((rep.task_id, row.client))
        return [r.task_id for r in reports]

    def heartbeat(self, runner: dict, hb: Heartbeat) -> HeartbeatReply:
        now = self.clock()
        rid = runner["id"]
        changed: list[tuple[int, str]] = []
        requeued = False
        with self.db.write() as conn:
            self.runners.seen(conn, rid, now, draining=hb.draining)
            accepted = self._apply_results(conn, rid, hb.results, now, changed)
            listed = {r.task_id: r.lease for r in hb.running}
            for r in hb.release:
                listed[r.task_id] = r.lease
            for c in hb.logs:
                listed.setdefault(c.task_id, c.lease)
            for pr in hb.progress:
                listed.setdefault(pr.task_id, pr.lease)
            rows = {}
            for part in _chunks(list(listed)):
                for r in conn.execute(select(tasks.c.id, tasks.c.state, tasks.c.lease, tasks.c.runner_id,
                                             tasks.c.client, tasks.c.cancel_requested, tasks.c.log_seq,
                                             tasks.c.log_lines).where(tasks.c.id.in_(part))):
                    rows[r.id] = dict(r._mapping)

            def mine(tid: int, lease: str):
                r = rows.get(tid)
                return r if (r is not None and r["state"] == TASK_RUNNING and r["lease"] == lease
                             and r["runner_id"] == rid) else None

            for c in hb.logs:
                r = rows.get(c.task_id)
                if (r is None or not c.lines or r["lease"] != c.lease or r["runner_id"] != rid
                        or r["state"] == TASK_QUEUED):
                    continue
                lines = [list(x) for x in c.lines]
                room = self.max_log_lines - r["log_lines"]
                if room <= 0:
                    continue
                if len(lines) > room:
                    lines = lines[:room] + [["stderr", f"[log cut at {self.max_log_lines} lines by the server]"]]
                seq = r["log_seq"] + 1
                conn.execute(task_logs.insert().values(task_id=c.task_id, seq=seq, lines=json.dumps(lines)))
                conn.execute(update(tasks).where(tasks.c.id == c.task_id).values(
                    log_seq=seq, log_lines=tasks.c.log_lines + len(lines), version=tasks.c.version + 1))
                r["log_seq"], r["log_lines"] = seq, r["log_lines"] + len(lines)
                changed.append((c.task_id, r["client"]))
            for pr in hb.progress:
                r = mine(pr.task_id, pr.lease)
                if r is not None:
                    conn.execute(update(tasks).where(tasks.c.id == pr.task_id).values(
                        progress=pr.fraction, progress_message=pr.message, version=tasks.c.version + 1))
                    changed.append((pr.task_id, r["client"]))
            for rel in hb.release:
                r = mine(rel.task_id, rel.lease)
                if r is not None:
                    values = ({"state": TASK_CANCELLED, "reason": "cancelled", "finished_at": now}
                              if r["cancel_requested"] else {"state": TASK_QUEUED, "started_at": None})
                    conn.execute(update(tasks).where(tasks.c.id == rel.task_id).values(
                        runner_id=None, lease=None, lease_expires=None, version=tasks.c.version + 1, **values))
                    changed.append((rel.task_id, r["client"]))
                    requeued = requeued or not r["cancel_requested"]
            renew, cancel = [], []
            for r in hb.running:
                row = mine(r.task_id, r.lease)
                if row is None:
                    if r.task_id not in accepted:
                        cancel.append(r.task_id)
                else:
                    renew.append(r.task_id)
                    if row["cancel_requested"]:
                        cancel.append(r.task_id)
            for part in _chunks(renew):
                conn.execute(update(tasks).where(tasks.c.id.in_(part), tasks.c.runner_id == rid,
                                                 tasks.c.state == TASK_RUNNING)
                             .values(lease_expires=now + self.lease_timeout_s))
        if requeued:
            self._hint_add(self._tags_of([r.task_id for r in hb.release]))
        self._changed(changed, queue=requeued)
        return HeartbeatReply(cancel=cancel, shutdown=bool(runner["shutdown"]), accepted=accepted)

    def _tags_of(self, ids: list[int]) -> set[str]:
        with self.db.read() as conn:
            return {t for part in _chunks(ids)
                    for (t,) in conn.execute(select(tasks.c.tags).where(tasks.c.id.in_(part)))}

    # -- maintenance ------------------------------------------------------------------------
    def expire(self) -> int:
        """Re-queue (or fail) running tasks whose lease ran out. Returns how many."""
        now = self.clock()
        changed: list[tuple[int, str]] = []
        requeued: set[str] = set()
        with self.db.write() as conn:
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
                    runner_id=None, lease=None, lease_expires=None, version=tasks.c.version + 1, **values)).rowcount
                if n:
                    changed.append((r.id, r.client))
        self._hint_add(requeued)
        self._changed(changed, queue=bool(requeued))
        return len(changed)

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
