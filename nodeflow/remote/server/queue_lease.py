"""The runner half of the task queue (mixed into ``TaskQueue``): leases,
results and heartbeats.

``lease`` hands in a runner's finished results and claims up to its free
slots in one short write transaction: one ordered index walk per tag set the
runner can serve (``ix_tasks_lease_order``), then one conditional
``UPDATE … WHERE state = 'queued'`` with a fresh lease token. A result counts
only under the lease it was given for (a stale one — the task went elsewhere
after its lease ran out — is ignored, so a task completes at most once).
``heartbeat`` renews the leases a runner lists, stores log chunks and
progress, takes back tasks given back, and answers which tasks to cancel.
"""
from __future__ import annotations

import json
import secrets

from sqlalchemy import bindparam, select, update

from ..protocol import (TASK_CANCELLED, TASK_QUEUED, TASK_RUNNING, TASK_SUCCEEDED, Heartbeat, HeartbeatReply,
                        LeasedTask, LeaseRequest, TaskReport)
from .db import task_logs, tasks
from .sql import chunks as _chunks

_LEASE_QUERY = (select(tasks.c.id, tasks.c.slots, tasks.c.spec, tasks.c.retries, tasks.c.client, tasks.c.priority)
                .where(tasks.c.state == TASK_QUEUED).order_by(tasks.c.priority.desc(), tasks.c.id)
                .limit(bindparam("n")))


class Leasing:
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
            cs = self._next_seq(conn)
            accepted = self._apply_results(conn, runner["id"], req.results, now, changed, cs)
            self.runners.seen(conn, runner["id"], now)
            if want and sets:
                # one query per tag set, each an ordered walk of ix_tasks_lease_order, then merged
                cands = []
                for key in sets:
                    q = _LEASE_QUERY.where(tasks.c.tags == key)
                    if not runner["owner_admin"]:
                        q = q.where(tasks.c.owner_id == runner["owner_id"])
                    found = conn.execute(q, {"n": want + 8}).all()
                    if not found and runner["owner_admin"]:
                        with self._lock:  # that tag set has nothing queued (any more)
                            if self._hint is not None:
                                self._hint.discard(key)
                    cands.extend(found)
                if len(sets) > 1:
                    cands.sort(key=lambda c: (-c.priority, c.id))
                take = []
                for c in cands:
                    if len(take) >= want:
                        break
                    if c.slots <= free:
                        take.append(c)
                        free -= c.slots
                if take:
                    token = secrets.token_hex(8)
                    ids = [c.id for c in take]
                    n = conn.execute(update(tasks).where(tasks.c.id.in_(ids), tasks.c.state == TASK_QUEUED).values(
                        state=TASK_RUNNING, runner_id=runner["id"], lease=token,
                        lease_expires=now + self.lease_timeout_s, started_at=now, **self._bump(cs))).rowcount
                    if n != len(take):  # another server process claimed some meanwhile: keep what is ours
                        ours = {i for (i,) in conn.execute(select(tasks.c.id).where(tasks.c.lease == token))}
                        take = [c for c in take if c.id in ours]
                    for c in take:
                        spec = json.loads(c.spec)
                        out.append(LeasedTask(task_id=c.id, lease=token, spec=spec, slots=c.slots,
                                              retries=c.retries, timeout_s=spec.get("timeout_s")))
                        changed.append((c.id, c.client))
        self._changed(changed)
        return out, accepted

    def _apply_results(self, conn, runner_id: int, reports: list[TaskReport], now: float,
                       changed: list[tuple[int, str]], cs: int) -> list[int]:
        if not reports:
            return []
        rows = {}
        for part in _chunks([r.task_id for r in reports]):
            for r in conn.execute(select(tasks.c.id, tasks.c.state, tasks.c.lease, tasks.c.runner_id,
                                         tasks.c.client, tasks.c.cancel_requested).where(tasks.c.id.in_(part))):
                rows[r.id] = r
        params = []
        for rep in reports:
            row = rows.get(rep.task_id)
            if row is None or row.state != TASK_RUNNING or row.lease != rep.lease or row.runner_id != runner_id:
                continue  # stale (the lease ran out and the task went elsewhere) or a repeat: ignore
            state = rep.state
            if row.cancel_requested and state != TASK_SUCCEEDED:
                state = TASK_CANCELLED
            rows[rep.task_id] = None  # a second report in the same batch is a repeat
            params.append({"tid": rep.task_id, "st": state, "rs": rep.reason, "res": rep.result.model_dump_json()})
            changed.append((rep.task_id, row.client))
        if params:  # one statement for the batch; the lease stays, so late log chunks still fit
            conn.execute(update(tasks).where(tasks.c.id == bindparam("tid")).values(
                state=bindparam("st"), reason=bindparam("rs"), result=bindparam("res"), finished_at=now,
                lease_expires=None, **self._bump(cs)), params)
        return [r.task_id for r in reports]

    def heartbeat(self, runner: dict, hb: Heartbeat) -> HeartbeatReply:
        now = self.clock()
        rid = runner["id"]
        changed: list[tuple[int, str]] = []
        requeued = False
        with self.db.write() as conn:
            cs = self._next_seq(conn)
            self.runners.seen(conn, rid, now, draining=hb.draining)
            accepted = self._apply_results(conn, rid, hb.results, now, changed, cs)
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
                conn.execute(task_logs.insert().values(task_id=c.task_id, seq=seq, lines=json.dumps(lines),
                                                       change_seq=cs))
                conn.execute(update(tasks).where(tasks.c.id == c.task_id).values(
                    log_seq=seq, log_lines=tasks.c.log_lines + len(lines), **self._bump(cs)))
                r["log_seq"], r["log_lines"] = seq, r["log_lines"] + len(lines)
                changed.append((c.task_id, r["client"]))
            for pr in hb.progress:
                r = mine(pr.task_id, pr.lease)
                if r is not None:
                    conn.execute(update(tasks).where(tasks.c.id == pr.task_id).values(
                        progress=pr.fraction, progress_message=pr.message, **self._bump(cs)))
                    changed.append((pr.task_id, r["client"]))
            for rel in hb.release:
                r = mine(rel.task_id, rel.lease)
                if r is not None:
                    values = ({"state": TASK_CANCELLED, "reason": "cancelled", "finished_at": now}
                              if r["cancel_requested"] else {"state": TASK_QUEUED, "started_at": None})
                    conn.execute(update(tasks).where(tasks.c.id == rel.task_id).values(
                        runner_id=None, lease=None, lease_expires=None, **self._bump(cs), **values))
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
