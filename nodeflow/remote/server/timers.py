"""Timers: start server runs of a workflow on a cron schedule (croniter).

Cron strings have 5 fields, or 6 with seconds last (``* * * * * */2``: every
two seconds). A timer comes from the API (``source = "api"``) or from the
workflow itself: publishing a version whose settings carry ``schedule``
creates or updates that workflow's ``workflow`` timer, and a version without
one removes it. Timers can be paused, resumed and deleted.

A thread (``start``/``close``) looks for due timers four times a second. A
fire moves ``next_fire`` to the next time after *now*, so fires missed while
the server was down are skipped, not caught up in a burst. Runs belong to the
timer's owner, who must still be able to see the workflow.
"""
from __future__ import annotations

import threading
import time
import traceback

from croniter import croniter
from sqlalchemy import delete, select, update

from .auth import Principal
from .db import Database, timers, users, workflows
from .errors import ApiError, NotFound, Unprocessable

TICK_S = 0.25


class BadCron(Unprocessable):
    pass


def next_fire(cron: str, after: float) -> float:
    return croniter(cron, after).get_next(float)


def check_cron(cron: str) -> str:
    cron = " ".join(cron.split())
    try:
        ok = croniter.is_valid(cron)
    except Exception:
        ok = False
    if not ok or len(cron.split()) not in (5, 6):
        raise BadCron(f"{cron!r} is not a cron schedule: use 5 fields (min hour day month weekday) "
                      "or 6 with seconds last, e.g. '*/5 * * * *' or '* * * * * */2'")
    return cron


class Timers:
    def __init__(self, db: Database, store, runs, *, clock=time.time):
        self.db, self.store, self.runs, self.clock = db, store, runs, clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- the loop ---------------------------------------------------------------------------
    def start(self) -> None:
        now = self.clock()
        with self.db.write() as conn:  # skip what was missed while the server was down
            for tid, cron in conn.execute(select(timers.c.id, timers.c.cron)).all():
                conn.execute(update(timers).where(timers.c.id == tid).values(next_fire=next_fire(cron, now)))
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="nodeflow-timers", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(TICK_S):
            try:
                self.fire_due()
            except Exception:
                traceback.print_exc()

    def fire_due(self) -> list[str]:
        now = self.clock()
        started = []
        with self._lock:
            with self.db.read() as conn:
                due = conn.execute(select(timers, users.c.name.label("owner"), users.c.admin)
                                   .join(users, users.c.id == timers.c.owner_id)
                                   .where(timers.c.paused == False, timers.c.next_fire <= now)).all()  # noqa: E712
            for t in due:
                run_id = self._fire(t, now)
                if run_id:
                    started.append(run_id)
        return started

    def _fire(self, t, now: float) -> str | None:
        with self.db.write() as conn:
            conn.execute(update(timers).where(timers.c.id == t.id).values(next_fire=next_fire(t.cron, now),
                                                                          last_fire=now))
        p = Principal(t.owner_id, t.owner, bool(t.admin), "user", 0)
        with self.db.read() as conn:
            w = conn.execute(select(workflows.c.name, users.c.name.label("wf_owner"))
                             .join(users, users.c.id == workflows.c.owner_id)
                             .where(workflows.c.id == t.workflow_id)).first()
        try:
            if w is None:
                raise NotFound("the workflow is gone")
            wf = self.store.find(p, w.name, w.wf_owner)
            version = self.store.version(wf, t.version)
            run_id = self.runs.execute(p, wf, version, f"timer:{t.id}")
        except (ApiError, ValueError) as e:
            print(f"timer {t.id}: cannot start a run: {e}; pausing it", flush=True)
            with self.db.write() as conn:
                conn.execute(update(timers).where(timers.c.id == t.id).values(paused=True))
            return None
        with self.db.write() as conn:
            conn.execute(update(timers).where(timers.c.id == t.id).values(last_run_id=run_id))
        return run_id

    # -- managing ---------------------------------------------------------------------------
    def create(self, p: Principal, wf: dict, cron: str, version: str | None = None, source: str = "api") -> dict:
        cron = check_cron(cron)
        if version is not None:
            self.store.version(wf, version)  # must exist
        now = self.clock()
        with self.db.write() as conn:
            tid = conn.execute(timers.insert().values(
                owner_id=p.user_id, workflow_id=wf["id"], cron=cron, version=version, paused=False, source=source,
                next_fire=next_fire(cron, now), created_at=now)).inserted_primary_key[0]
        return self.get(p, tid)

    def sync_workflow(self, p: Principal, wf: dict, schedule: str | None) -> None:
        """After a publish: the workflow's own timer follows its ``schedule`` setting."""
        with self.db.write() as conn:
            row = conn.execute(select(timers.c.id, timers.c.cron).where(timers.c.workflow_id == wf["id"],
                                                                        timers.c.source == "workflow")).first()
            if not schedule:
                if row is not None:
                    conn.execute(delete(timers).where(timers.c.id == row.id))
                return
            cron = check_cron(schedule)
            if row is None:
                conn.execute(timers.insert().values(owner_id=p.user_id, workflow_id=wf["id"], cron=cron,
                                                    paused=False, source="workflow",
                                                    next_fire=next_fire(cron, self.clock()),
                                                    created_at=self.clock()))
            elif row.cron != cron:
                conn.execute(update(timers).where(timers.c.id == row.id).values(
                    cron=cron, next_fire=next_fire(cron, self.clock())))

    def _query(self):
        return (select(timers, users.c.name.label("owner"), workflows.c.name.label("workflow"))
                .join(users, users.c.id == timers.c.owner_id)
                .join(workflows, workflows.c.id == timers.c.workflow_id))

    def list(self, p: Principal) -> list[dict]:
        q = self._query()
        if not p.admin:
            q = q.where(timers.c.owner_id == p.user_id)
        with self.db.read() as conn:
            return [_info(r) for r in conn.execute(q.order_by(timers.c.id))]

    def get(self, p: Principal, timer_id: int) -> dict:
        with self.db.read() as conn:
            r = conn.execute(self._query().where(timers.c.id == timer_id)).first()
        if r is None or (r.owner_id != p.user_id and not p.admin):
            raise NotFound(f"no timer {timer_id}")
        return _info(r)

    def set_paused(self, p: Principal, timer_id: int, paused: bool) -> dict:
        t = self.get(p, timer_id)
        values: dict = {"paused": paused}
        if not paused:
            values["next_fire"] = next_fire(t["cron"], self.clock())
        with self.db.write() as conn:
            conn.execute(update(timers).where(timers.c.id == timer_id).values(**values))
        return self.get(p, timer_id)

    def delete(self, p: Principal, timer_id: int) -> None:
        self.get(p, timer_id)
        with self.db.write() as conn:
            conn.execute(delete(timers).where(timers.c.id == timer_id))


def _info(r) -> dict:
    return {"id": r.id, "owner": r.owner, "workflow": r.workflow, "cron": r.cron, "version": r.version,
            "paused": bool(r.paused), "source": r.source, "next_fire": r.next_fire, "last_fire": r.last_fire,
            "last_run_id": r.last_run_id}
