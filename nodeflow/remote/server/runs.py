"""Runs on the server: a published workflow version run by the same engine,
its nodes handed to the server's own queue (no HTTP to itself), so a run goes
on after the laptop that started it is closed.

Each run gets a thread that calls ``run_workflow`` with one in-process
``RunnerExecutor`` per executor name the workflow uses (on the server every
node goes to the runner queue, with the tags its settings ask for), the
server's run history, and an observer that buffers events. A flusher thread
writes buffered events to ``run_events`` every 0.2 s, keeps the run's row
(state, counts, node states) current and wakes ``run:<id>`` long-polls.

A run left ``running`` by a server that stopped is re-attached at start-up:
same run id, succeeded nodes reused, tasks already in the queue taken over
by their idempotency keys (the engine's journal), the rest submitted.
"""
from __future__ import annotations

import json
import threading
import time
import traceback
from pathlib import Path

from sqlalchemy import select, update

from ...engine.events import EventKind
from .auth import Principal
from .db import Database, run_events, runs, users
from .errors import ApiError, NotFound
from .notify import Notifier
from .queue import TaskQueue

FLUSH_S = 0.2
MAX_LOG_EVENTS = 50_000
LIVE = ("starting", "running")


class QueueTaskService:
    """``TaskService`` for a ``RunnerExecutor`` inside the server: calls the queue directly."""

    def __init__(self, queue: TaskQueue, notifier: Notifier, owner: Principal, run_id: str):
        self.queue, self.notifier, self.owner, self.run_id = queue, notifier, owner, run_id
        self._event = threading.Event()
        self._topics: list[str] = []

    def submit(self, client: str, tasks: list) -> list[int]:
        topic = f"client:{client}"
        if topic not in self._topics:
            self.notifier.subscribe(topic, self._event.set)
            self._topics.append(topic)
        return self.queue.submit(self.owner, client, tasks, server_run=self.run_id)

    def changes(self, client: str, since: int, wait_s: float) -> tuple[list, int]:
        self._event.clear()
        states, cursor = self.queue.changes(self.owner, client, since)
        if not states and wait_s > 0:
            self._event.wait(wait_s)
        return states, cursor

    def status(self, client: str, watches: list, wait_s: float) -> list:
        return self.queue.status(self.owner, watches)

    def cancel(self, ids: list[int]) -> None:
        self.queue.cancel(self.owner, ids)

    def close(self) -> None:
        for t in self._topics:
            self.notifier.unsubscribe(t, self._event.set)
        self._event.set()


class _Live:
    """One run in this process: its scheduler (for cancel) and unflushed events."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.scheduler = None
        self.cancel = False
        self.buffer: list[dict] = []
        self.nodes: dict[str, str] = {}
        self.counts: dict[str, int] = {}
        self.state = "running"
        self.log_events = 0
        self.seq = 0
        self.error: str | None = None
        self.finished_at: float | None = None
        self.flush_lock = threading.Lock()  # batches reach the database in seq order

    def on_event(self, e) -> None:
        if e.kind == EventKind.NODE_LOG:
            self.log_events += 1
            if self.log_events > MAX_LOG_EVENTS:
                return
        d = e.to_json()
        if e.node is not None:
            state = {"node_queued": "queued", "node_started": "running", "node_succeeded": "succeeded",
                     "node_skipped": "skipped", "node_retrying": "queued"}.get(d["kind"])
            if d["kind"] == "node_failed":
                state = "cancelled" if e.data.get("reason") == "cancelled" else "failed"
            if state:
                self.nodes[e.node] = state
        if e.kind == EventKind.RUN_PROGRESS:
            self.counts = {k: v for k, v in e.data.items() if isinstance(v, int)}
        self.buffer.append(d)


class RunManager:
    def __init__(self, db: Database, queue: TaskQueue, notifier: Notifier, store, data_dir: Path):
        self.db, self.queue, self.notifier, self.store = db, queue, notifier, store
        self.runs_dir = Path(data_dir) / "runs"
        self.history_path = Path(data_dir) / "history.sqlite"
        self._lock = threading.Lock()
        self._live: dict[str, _Live] = {}
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        self._history = None
        self._registry = None

    def start(self) -> None:
        from ...history.store import HistoryStore
        from ...library import default_registry

        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self._history = HistoryStore(self.history_path)
        self._registry = default_registry()
        self._stop.clear()
        self._flusher = threading.Thread(target=self._flush_loop, name="nodeflow-run-events", daemon=True)
        self._flusher.start()

    def close(self) -> None:
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(timeout=5)
        self._flush()
        if self._history is not None:
            self._history.close()

    # -- starting ---------------------------------------------------------------------------
    def execute(self, p: Principal, wf: dict, version: dict, trigger: str, failure_policy: str | None = None,
                run_id: str | None = None, attach: bool = False) -> str:
        from ...engine.runfolders import new_run_id

        content = self.store.content(wf, version)
        run_id = run_id or new_run_id()
        if not attach:
            with self.db.write() as conn:
                conn.execute(runs.insert().values(
                    id=run_id, owner_id=p.user_id, workflow_id=wf["id"], workflow=wf["name"],
                    workflow_owner=wf["owner"], version=version["version"], commit=version["commit"],
                    state="starting", trigger=trigger, failure_policy=failure_policy, created_at=time.time(),
                    counts="{}", nodes="{}", event_count=0))
        live = _Live(run_id)
        if attach:
            with self.db.read() as conn:
                live.seq = conn.execute(select(runs.c.event_count).where(runs.c.id == run_id)).scalar() or 0
        with self._lock:
            self._live[run_id] = live
        t = threading.Thread(target=self._run, args=(p, wf, content, live, failure_policy, attach),
                             name=f"nodeflow-run-{run_id}", daemon=True)
        t.start()
        return run_id

    def _run(self, p: Principal, wf: dict, content: bytes, live: _Live, policy: str | None, attach: bool) -> None:
        from ...engine import run_workflow
        from ...engine.runner import build_plan
        from ...executors.factory import executor_names
        from ...executors.runner import RunnerExecutor, RunnerSettings
        from ...model import loads
        from ...model.fileio import atomic_write_bytes

        run_dir = self.runs_dir / live.run_id
        executors: dict = {}
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            path = run_dir / f"{wf['name']}.nc"
            atomic_write_bytes(path, content)
            workflow = loads(content, path=str(path))
            plan, params = build_plan(workflow, self._registry)  # parameters and sub-workflows as on the desktop
            for name in executor_names(plan, plan.settings.executor):
                executors[name] = RunnerExecutor(QueueTaskService(self.queue, self.notifier, p, live.run_id),
                                                 RunnerSettings(wait_s=30.0), name=name)

            def keep(s):
                live.scheduler = s
                if live.cancel:
                    s.cancel()

            result = run_workflow(workflow, registry=self._registry, plan=plan, params=params, executors=executors,
                                  observers=[live], failure_policy=policy, runs_dir=self.runs_dir,
                                  history=self._history, run_id=None if attach else live.run_id,
                                  attach=live.run_id if attach else None, on_scheduler=keep)
            live.state = result.state.value
        except Exception as e:
            live.state = "failed"
            live.error = f"{type(e).__name__}: {e}"
            if not isinstance(e, ValueError):
                traceback.print_exc()
        finally:
            for ex in executors.values():
                ex.close()
            live.finished_at = time.time()
            self.flush_one(live)
            with self._lock:
                self._live.pop(live.run_id, None)

    def resume(self) -> int:
        """Re-attach runs a previous server process left running; returns how many."""
        with self.db.read() as conn:
            rows = conn.execute(select(runs, users.c.name.label("owner"), users.c.admin)
                                .join(users, users.c.id == runs.c.owner_id).where(runs.c.state.in_(LIVE))).all()
        n = 0
        for r in rows:
            p = Principal(r.owner_id, r.owner, bool(r.admin), "user", 0)
            try:
                wf = self.store.find(p, r.workflow, r.workflow_owner)
                version = next(v for v in self.store.versions(wf) if v["commit"] == r.commit)
                known = self._history is not None and self._history.run(r.id) is not None
                self.execute(p, wf, version, r.trigger, r.failure_policy, run_id=r.id, attach=known)
                n += 1
            except (ApiError, StopIteration, ValueError) as e:
                with self.db.write() as conn:
                    conn.execute(update(runs).where(runs.c.id == r.id).values(
                        state="failed", finished_at=time.time(), error=f"could not resume after a restart: {e}"))
        return n

    # -- watching and stopping --------------------------------------------------------------
    def cancel(self, run_id: str) -> bool:
        with self._lock:
            live = self._live.get(run_id)
        if live is None:
            return False
        live.cancel = True
        if live.scheduler is not None:
            live.scheduler.cancel()
        return True

    def cancel_all(self) -> int:
        with self._lock:
            ids = list(self._live)
        return sum(1 for i in ids if self.cancel(i))

    def row(self, p: Principal, run_id: str) -> dict:
        with self.db.read() as conn:
            r = conn.execute(select(runs, users.c.name.label("owner")).join(users, users.c.id == runs.c.owner_id)
                             .where(runs.c.id == run_id)).first()
        if r is None or (r.owner_id != p.user_id and not p.admin):
            raise NotFound(f"no run {run_id!r}")
        return _info(r)

    def list(self, p: Principal, limit: int = 100) -> list[dict]:
        with self.db.read() as conn:
            q = select(runs, users.c.name.label("owner")).join(users, users.c.id == runs.c.owner_id)
            if not p.admin:
                q = q.where(runs.c.owner_id == p.user_id)
            return [_info(r) for r in conn.execute(q.order_by(runs.c.created_at.desc()).limit(limit))]

    def events(self, run_id: str, after: int, limit: int = 2000) -> tuple[list[dict], int]:
        with self.db.read() as conn:
            rows = conn.execute(select(run_events.c.seq, run_events.c.data)
                                .where(run_events.c.run_id == run_id, run_events.c.seq > after)
                                .order_by(run_events.c.seq).limit(limit)).all()
        events = [json.loads(d) for _, d in rows]
        return events, (rows[-1].seq if rows else after)

    # -- flushing ---------------------------------------------------------------------------
    def _flush_loop(self) -> None:
        while not self._stop.wait(FLUSH_S):
            try:
                self._flush()
            except Exception:
                traceback.print_exc()

    def _flush(self) -> None:
        with self._lock:
            lives = list(self._live.values())
        for live in lives:
            self.flush_one(live)

    def flush_one(self, live: _Live) -> None:
        with live.flush_lock:
            self._flush_one(live)

    def _flush_one(self, live: _Live) -> None:
        with self._lock:
            events, live.buffer = live.buffer, []
            first = live.seq + 1
            live.seq += len(events)
            values = {"state": live.state, "counts": json.dumps(live.counts), "nodes": json.dumps(live.nodes),
                      "event_count": live.seq, "error": live.error, "finished_at": live.finished_at}
        with self.db.write() as conn:
            if events:
                conn.execute(run_events.insert(), [{"run_id": live.run_id, "seq": first + i, "data": json.dumps(e)}
                                                   for i, e in enumerate(events)])
            conn.execute(update(runs).where(runs.c.id == live.run_id).values(**values))
        self.notifier.notify(f"run:{live.run_id}")


def _info(r) -> dict:
    return {"run_id": r.id, "owner": r.owner, "workflow": r.workflow, "version": r.version, "commit": r.commit,
            "state": r.state, "trigger": r.trigger, "created_at": r.created_at, "finished_at": r.finished_at,
            "error": r.error, "counts": json.loads(r.counts or "{}"), "nodes": json.loads(r.nodes or "{}")}
