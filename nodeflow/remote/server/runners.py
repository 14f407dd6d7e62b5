"""The runner registry: who is out there, with which tags and slots.

A registration is one runner *process*: each ``register`` makes a new row
(names need not be unique — two runners on one host may share it). A runner
is ``online`` while its heartbeats (or lease requests) keep coming,
``offline`` once none came for a lease timeout, ``draining`` when it said so,
``shutdown`` when someone asked it to stop (it is told at its next
heartbeat). Offline runners without tasks are forgotten after a day.

Rows are cached in memory for the lease path (tags, owner, whether the owner
is an admin); every change here drops that cache.
"""
from __future__ import annotations

import json
import threading
import time

from sqlalchemy import delete, select, update

from .auth import Principal
from .db import Database, runners, tasks, users
from .errors import NotFound

FORGET_OFFLINE_AFTER_S = 24 * 3600.0
SEEN_EVERY_S = 1.0


class RunnerRegistry:
    def __init__(self, db: Database, *, lease_timeout_s: float, clock=time.time):
        self.db = db
        self.lease_timeout_s = lease_timeout_s
        self.clock = clock
        self._cache: dict[int, dict] = {}
        self._lock = threading.Lock()

    def register(self, p: Principal, name: str, tags: list[str], slots: int, host: str, version: str) -> int:
        now = self.clock()
        with self.db.write() as conn:
            rid = conn.execute(runners.insert().values(
                name=name, owner_id=p.user_id, token_id=p.token_id, host=host, version=version,
                tags=json.dumps(sorted(set(tags))), slots=slots, registered_at=now, last_heartbeat=now,
                draining=False, shutdown=False)).inserted_primary_key[0]
        return rid

    def get(self, runner_id: int) -> dict | None:
        """The runner's row plus ``tagset`` and ``owner_admin`` (cached)."""
        with self._lock:
            hit = self._cache.get(runner_id)
        if hit is not None:
            return hit
        with self.db.read() as conn:
            row = conn.execute(select(runners, users.c.admin.label("owner_admin"), users.c.name.label("owner"))
                               .join(users, users.c.id == runners.c.owner_id)
                               .where(runners.c.id == runner_id)).first()
        if row is None:
            return None
        d = dict(row._mapping)
        d["tagset"] = frozenset(json.loads(d["tags"]))
        with self._lock:
            self._cache[runner_id] = d
        return d

    def _drop(self, runner_id: int | None = None) -> None:
        with self._lock:
            if runner_id is None:
                self._cache.clear()
            else:
                self._cache.pop(runner_id, None)

    def check(self, p: Principal, runner_id: int) -> dict:
        """The runner, if ``p`` may act as it (same user); else NotFound."""
        r = self.get(runner_id)
        if r is None or r["owner_id"] != p.user_id:
            raise NotFound(f"no runner {runner_id} of yours (register again)")
        return r

    def seen(self, conn, runner_id: int, now: float, draining: bool | None = None) -> None:
        """A sign of life (written at most once a second unless ``draining`` changes)."""
        with self._lock:
            hit = self._cache.get(runner_id)
            if (hit is not None and now - (hit.get("last_heartbeat") or 0) < SEEN_EVERY_S
                    and (draining is None or draining == hit["draining"])):
                return
            if hit is not None:
                hit["last_heartbeat"] = now
                if draining is not None:
                    hit["draining"] = draining
        values: dict = {"last_heartbeat": now}
        if draining is not None:
            values["draining"] = draining
        conn.execute(update(runners).where(runners.c.id == runner_id).values(**values))

    def shutdown(self, p: Principal, runner_id: int) -> None:
        r = self.get(runner_id)
        if r is None or (r["owner_id"] != p.user_id and not p.admin):
            raise NotFound(f"no runner {runner_id}")
        with self.db.write() as conn:
            conn.execute(update(runners).where(runners.c.id == runner_id).values(shutdown=True))
        self._drop(runner_id)

    def state(self, r: dict, now: float | None = None) -> str:
        now = self.clock() if now is None else now
        if r["shutdown"]:
            return "shutdown"
        if r["last_heartbeat"] is None or now - r["last_heartbeat"] > self.lease_timeout_s:
            return "offline"
        return "draining" if r["draining"] else "online"

    def list(self, p: Principal) -> list[dict]:
        now = self.clock()
        with self.db.read() as conn:
            q = select(runners, users.c.name.label("owner")).join(users, users.c.id == runners.c.owner_id)
            if not p.admin:  # your own runners and the shared (admin-owned) ones
                q = q.where((runners.c.owner_id == p.user_id) | (users.c.admin == True))  # noqa: E712
            rows = [dict(r._mapping) for r in conn.execute(q.order_by(runners.c.id))]
            running: dict[int, list[int]] = {}
            for tid, rid in conn.execute(select(tasks.c.id, tasks.c.runner_id).where(tasks.c.state == "running")):
                running.setdefault(rid, []).append(tid)
        out = []
        for r in rows:
            out.append({"id": r["id"], "name": r["name"], "owner": r["owner"], "host": r["host"],
                        "tags": json.loads(r["tags"]), "slots": r["slots"], "state": self.state(r, now),
                        "last_heartbeat": r["last_heartbeat"], "running_tasks": running.get(r["id"], [])})
        return out

    def online_count(self) -> int:
        cutoff = self.clock() - self.lease_timeout_s
        with self.db.read() as conn:
            return len(conn.execute(select(runners.c.id).where(runners.c.last_heartbeat >= cutoff,
                                                               runners.c.shutdown == False)).all())  # noqa: E712

    def prune(self) -> int:
        cutoff = self.clock() - FORGET_OFFLINE_AFTER_S
        with self.db.write() as conn:
            busy = select(tasks.c.runner_id).where(tasks.c.state == "running", tasks.c.runner_id.is_not(None))
            n = conn.execute(delete(runners).where(runners.c.last_heartbeat < cutoff,
                                                   runners.c.id.not_in(busy))).rowcount
        if n:
            self._drop()
        return n
