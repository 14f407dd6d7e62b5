"""The watching half of the task queue (mixed into ``TaskQueue``): what
changed, for the submitting side.

* ``status(watches)`` — tasks by id, with the version and log position the
  caller knows; only changed ones come back (an in-memory cache of versions
  keeps the unchanged ones off the database);
* ``changes(client, since)`` — cursor mode: every task of one client changed
  after a change number, with the log lines that came meanwhile. Writers are
  serialized and number each transaction, so a cursor never skips a change;
* ``logs(task, after)`` — a task's log chunks.
"""
from __future__ import annotations

import json

from sqlalchemy import select

from ..protocol import TaskState, TaskWatch, WireResult
from .auth import Principal
from .db import task_logs, tasks
from .errors import NotFound
from .sql import chunks as _chunks

MAX_LOG_CHUNKS_PER_STATUS = 50


class Watching:
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
            for r in rows:
                w = want[r.id]
                lines: list = []
                log_seq = r.log_seq
                if r.log_seq > w.log_seq:
                    for (chunk,) in conn.execute(select(task_logs.c.lines).where(
                            task_logs.c.task_id == r.id, task_logs.c.seq > w.log_seq)
                            .order_by(task_logs.c.seq).limit(MAX_LOG_CHUNKS_PER_STATUS)):
                        lines.extend(json.loads(chunk))
                    log_seq = min(r.log_seq, w.log_seq + MAX_LOG_CHUNKS_PER_STATUS)
                out.append(self._state(r, lines, log_seq))
        return out

    def _state(self, r, lines: list, log_seq: int) -> TaskState:
        runner = host = None
        if r.runner_id is not None:
            rr = self.runners.get(r.runner_id)
            if rr is not None:
                runner, host = rr["name"], rr["host"]
        result = WireResult.model_validate_json(r.result) if r.result else None
        return TaskState(id=r.id, version=r.version, state=r.state, reason=r.reason, runner=runner, host=host,
                         retries=r.retries, submitted_at=r.submitted_at, started_at=r.started_at,
                         finished_at=r.finished_at, progress=r.progress, progress_message=r.progress_message,
                         result=result, log=lines, log_seq=log_seq)

    def changes(self, p: Principal, client: str, since: int) -> tuple[list[TaskState], int]:
        """Cursor mode: every task of ``client`` changed after change number ``since``, with the log
        lines that came meanwhile, and the cursor to pass next time. One indexed query when idle."""
        with self.db.read() as conn:
            q = select(tasks).where(tasks.c.client == client, tasks.c.change_seq > since)
            if not p.admin:
                q = q.where(tasks.c.owner_id == p.user_id)
            rows = conn.execute(q.order_by(tasks.c.change_seq)).all()
            if not rows:
                return [], since
            cursor = rows[-1].change_seq
            lines: dict[int, list] = {}
            if any(r.log_seq for r in rows):
                for tid, chunk in conn.execute(
                        select(task_logs.c.task_id, task_logs.c.lines).join(tasks, tasks.c.id == task_logs.c.task_id)
                        .where(tasks.c.client == client, task_logs.c.change_seq > since,
                               task_logs.c.change_seq <= cursor).order_by(task_logs.c.task_id, task_logs.c.seq)):
                    lines.setdefault(tid, []).extend(json.loads(chunk))
        return [self._state(r, lines.get(r.id, []), r.log_seq) for r in rows], cursor

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
