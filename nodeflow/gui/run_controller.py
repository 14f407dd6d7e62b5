"""The RunController: runs the engine off the GUI thread and turns its events into Qt signals.

This is the only place where the window meets the engine (DESIGN rule 2: the
scheduler owns run state; the GUI observes). ``start`` snapshots the workflow
on the GUI thread (as plain dicts), then a worker ``threading.Thread`` makes
an independent copy, plans, builds the executors and calls
``engine.run_workflow`` with this controller as an observer. Events arrive on
the scheduler's thread and only go into a ``queue.SimpleQueue``; a ``QTimer``
on the GUI thread drains the queue at most ``REFRESH_HZ`` times a second,
within a time budget, folds the events into one ``NodeRunInfo`` per node and
emits coalesced signals — so a run of thousands of fast nodes never floods or
freezes the window. ``stop`` calls ``Scheduler.cancel()`` (thread-safe).
Garbage collection pauses are kept out of runs: see ``settle_heap``.

Signals for the window and for later features (issue 7's timeline dock and
ETA text can hang off ``event_received`` / ``events_received``, which carry
every ``RunEvent`` in order, on the GUI thread):

* ``run_started(run_id, total)``, ``run_finished(state)``, ``run_error(message)``
* ``states_changed({name: NodeRunInfo})`` — only nodes that changed
* ``progress_changed(data)`` — the last RUN_PROGRESS counts
* ``log_appended(node, [(stream, line), …])``
* ``outputs_ready({name: outputs})`` — nodes that succeeded since the last refresh
"""
from __future__ import annotations

import gc
import json
import os
import queue
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from PySide6 import QtCore

from ..engine.events import EventKind, RunEvent

REFRESH_HZ = 20
DRAIN_BUDGET_S = 0.015  # events folded per refresh stop after this long; the rest wait for the next one
DRAIN_MAX_EVENTS = 300  # …or after this many, so the window's own work per refresh stays small too
LOG_LINES_KEPT = 5000  # per node
AFTER_RUN_COLLECT_MS = 250  # the one full garbage collection, once a run is over


def settle_heap() -> None:
    """Collect garbage once, then freeze what is left out of the cyclic collector's reach.

    A big workflow is hundreds of thousands of long-lived objects (model and
    views). A full collection walking them stops every thread, the GUI's
    too, for 0.1-0.5 s at moments nobody chooses. So the window does it at
    moments it chooses — after opening a file, and after a run (the engine
    keeps the collector quiet during a run, ``model.gcpause.quiet_gc``, and
    unfreezes everything when it ends) — and freezes the survivors; objects
    made later are collected as usual.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


@dataclass
class NodeRunInfo:
    state: str = "pending"
    attempt: int = 0
    queued_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    stdout_path: str | None = None
    stderr_path: str | None = None
    executor: str | None = None
    host: str | None = None
    outputs: dict[str, Any] | None = None
    log: deque = field(default_factory=lambda: deque(maxlen=LOG_LINES_KEPT))

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else time.time()
        return max(0.0, end - self.started_at)


class _Observer:
    """The engine-side half: called on the scheduler thread, only enqueues."""

    __slots__ = ("put",)

    def __init__(self, q: queue.SimpleQueue):
        self.put = q.put

    def on_event(self, event: RunEvent) -> None:
        self.put(event)


class RunController(QtCore.QObject):
    event_received = QtCore.Signal(object)
    events_received = QtCore.Signal(list)
    run_started = QtCore.Signal(str, int)
    states_changed = QtCore.Signal(dict)
    progress_changed = QtCore.Signal(dict)
    log_appended = QtCore.Signal(str, list)
    outputs_ready = QtCore.Signal(dict)
    run_finished = QtCore.Signal(str)
    run_error = QtCore.Signal(str)
    running_changed = QtCore.Signal(bool)

    def __init__(self, registry, *, config_loader=None, history_path=None, runs_dir=None, parent=None):
        super().__init__(parent)
        self.registry = registry
        self._config_loader = config_loader
        self.history_path = history_path
        self.runs_dir = runs_dir
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(int(1000 / REFRESH_HZ))
        self._timer.timeout.connect(self.drain)
        mo = self.metaObject()
        self._event_signal = mo.method(mo.indexOfSignal("event_received(PyObject)"))
        self._thread: threading.Thread | None = None
        self._scheduler = None
        self._cancel_asked = False
        self.nodes: dict[str, NodeRunInfo] = {}
        self.run_id: str | None = None
        self.last_run_id: str | None = None
        self.last_state: str | None = None
        self.progress: dict[str, Any] = {}
        self.total = 0
        self.started_at: float | None = None
        self._final_state: str | None = None
        # callables (plan=, history=, executors=, default_executor=, path=) -> extra run observer or None,
        # called on the worker thread before the run (issue 7: the ETA tracker, see eta_view.py)
        self.observer_factories: list = []

    # -- control -------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, workflow, *, path: str | None, executor: str = "local", jobs: int | None = None,
              only=None, rerun_failed: str | None = None, skip_unknown: bool = False,
              attach: str | None = None) -> bool:
        """Start a run of ``workflow`` (a snapshot is taken now); False if one is running."""
        if self.running:
            return False
        snapshot = snapshot_workflow(workflow)
        # out of the cyclic collector's reach what lives now (cheap; settle_heap collects after the run):
        # a full collection while the worker builds its copy would stop this thread too
        gc.freeze()
        self.nodes = {}
        self.progress = {}
        self.total = 0
        self.run_id = None
        self._scheduler = None
        self._cancel_asked = False
        self._final_state = None
        self.started_at = time.time()
        opts = dict(path=path, executor=executor or "local", jobs=jobs, only=list(only) if only else None,
                    rerun_failed=rerun_failed, skip_unknown=skip_unknown, attach=attach)
        self._thread = threading.Thread(target=self._work, args=(snapshot, opts), name="nodeflow-run", daemon=True)
        self._thread.start()
        self._timer.start()
        self.running_changed.emit(True)
        return True

    def stop(self) -> None:
        """Cancel the run: running nodes are killed, the rest skipped (any time, any thread)."""
        self._cancel_asked = True
        sched = self._scheduler
        if sched is not None:
            sched.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the worker thread ends (tests, closing the window); then drain."""
        t = self._thread
        if t is not None:
            t.join(timeout)
            if t.is_alive():
                return False
        self.drain()
        return True

    def info(self, name: str) -> NodeRunInfo | None:
        return self.nodes.get(name)

    # -- worker thread -----------------------------------------------------------
    def _got_scheduler(self, sched) -> None:
        self._scheduler = sched
        if self._cancel_asked:
            sched.cancel()

    def _work(self, snapshot: dict, opts: dict) -> None:
        from ..engine import PlanError, run_workflow
        from ..model.gcpause import paused_gc
        from ..model.nodeworks import from_dict, to_dict
        from ..model.values import json_default

        put = self._queue.put
        executors: dict = {}
        history = None
        try:
            # a deep, independent copy: the snapshot's values are shared with the GUI's model (read-only here)
            with paused_gc():  # many objects, no cycles: nothing for the collector to find
                wf = from_dict(json.loads(json.dumps(to_dict(snapshot), default=json_default)))
            wf.source_path = opts["path"]
            # sub-workflows inlined and list parameters expanded first (issue 8), as the CLI does
            from ..engine.runner import build_plan

            plan, run_params = build_plan(wf, self.registry, skip_unknown=opts["skip_unknown"], only=opts["only"])
            from ..config import load_config
            from ..executors.factory import executor_names, make_executors

            config = self._config_loader() if self._config_loader else load_config()
            default = opts["executor"]
            executors = make_executors(executor_names(plan, default), config=config, registry=self.registry,
                                       jobs=plan.settings.jobs or opts["jobs"])  # the workflow's own setting wins
            if self.history_path is not None:
                from ..history.store import HistoryStore

                history = HistoryStore(self.history_path)
            if self._cancel_asked:
                put(("error", "the run was stopped before it started"))
                return
            extra = []
            for factory in list(self.observer_factories):
                try:
                    obs = factory(plan=plan, history=history, executors=executors, default_executor=default,
                                  path=opts["path"])
                except Exception:  # an observer that cannot start never stops the run
                    traceback.print_exc()
                    obs = None
                if obs is not None:
                    extra.append(obs)
            result = run_workflow(wf, registry=self.registry, plan=plan, executors=executors,
                                  default_executor=default, observers=[*extra, _Observer(self._queue)],
                                  history=history, params=run_params,
                                  runs_dir=self.runs_dir, rerun_failed=opts["rerun_failed"],
                                  on_scheduler=self._got_scheduler, attach=opts.get("attach"))
            put(("done", result.state.value))
        except PlanError as e:
            put(("error", str(e)))
        except ImportError as e:
            put(("error", f"this executor is not available in this installation: {e}"))
        except Exception as e:  # never let a run take the window down
            put(("error", f"{type(e).__name__}: {e}", traceback.format_exc()))
        finally:
            for ex in executors.values():
                try:
                    ex.close()
                except Exception:
                    pass
            if history is not None:
                history.close()
            put(("exit",))

    # -- GUI thread ---------------------------------------------------------------------
    def drain(self) -> None:
        """Fold queued events into node states and emit the coalesced signals (GUI thread)."""
        deadline = time.perf_counter() + DRAIN_BUDGET_S
        batch: list[RunEvent] = []
        changed: dict[str, NodeRunInfo] = {}
        logs: dict[str, list] = {}
        outputs: dict[str, dict] = {}
        finished_state = error = None
        exited = False
        get = self._queue.get_nowait
        n = 0
        while True:
            try:
                item = get()
            except queue.Empty:
                break
            if type(item) is RunEvent:
                self._apply(item, changed, logs, outputs)
                batch.append(item)
            elif item[0] == "done":
                finished_state = self._final_state = item[1]
            elif item[0] == "error":
                error = item[1]
            elif item[0] == "exit":
                exited = True
            n += 1
            if n >= DRAIN_MAX_EVENTS or (n % 20 == 0 and time.perf_counter() > deadline):
                break
        for name, info in self.nodes.items():  # running nodes: refresh their elapsed time
            if info.state == "running":
                changed.setdefault(name, info)
        if batch:
            if self.isSignalConnected(self._event_signal):
                emit = self.event_received.emit
                for ev in batch:
                    emit(ev)
            self.events_received.emit(batch)
        if changed:
            self.states_changed.emit(changed)
        for name, lines in logs.items():
            self.log_appended.emit(name, lines)
        if outputs:
            self.outputs_ready.emit(outputs)
        if batch and self.progress:
            self.progress_changed.emit(dict(self.progress))
        if error is not None:
            self.last_state = "error"
            self.run_error.emit(error)
        if finished_state is not None:
            self.last_state = finished_state
        if exited:
            self._finish(self._final_state, error)

    def _finish(self, state: str | None, error: str | None) -> None:
        t = self._thread
        self._thread = None
        self._scheduler = None
        if t is not None:
            t.join(5)
        self._timer.stop()
        if self.run_id is not None:
            self.last_run_id = self.run_id
        self.running_changed.emit(False)
        self.run_finished.emit(state or ("error" if error else "cancelled"))
        QtCore.QTimer.singleShot(AFTER_RUN_COLLECT_MS, self._after_run)

    def _after_run(self) -> None:
        if not self.running:
            settle_heap()

    def _apply(self, ev: RunEvent, changed: dict, logs: dict, outputs: dict) -> None:
        kind = ev.kind
        if kind is EventKind.RUN_PROGRESS:
            self.progress = dict(ev.data)
            return
        if kind is EventKind.RUN_STARTED:
            self.run_id = ev.run_id
            self.total = int(ev.data.get("total") or 0)
            self.progress = {"done": 0, "total": self.total, "running": 0, "failed": 0}
            for name in ev.data.get("nodes") or ():
                self.nodes[name] = info = NodeRunInfo()
                changed[name] = info
            self.run_started.emit(ev.run_id, self.total)
            return
        if kind is EventKind.RUN_FINISHED:
            counts = ev.data.get("counts") or {}
            if counts:
                p = dict(self.progress)
                p.update(counts)
                self.progress = p
            return
        name = ev.node
        if name is None:
            return
        info = self.nodes.get(name)
        if info is None:
            info = self.nodes[name] = NodeRunInfo()
        d = ev.data
        if kind is EventKind.NODE_LOG:
            line = (d.get("stream", "stdout"), d.get("line", ""))
            info.log.append(line)
            logs.setdefault(name, []).append(line)
            return
        if kind is EventKind.NODE_QUEUED:
            info.state, info.attempt, info.queued_at = "queued", ev.attempt, ev.time
            info.executor = d.get("executor")
            info.started_at = info.finished_at = None
        elif kind is EventKind.NODE_STARTED:
            info.state, info.started_at = "running", ev.time
            info.host = d.get("host")
        elif kind is EventKind.NODE_SUCCEEDED:
            info.state, info.finished_at = "succeeded", ev.time
            info.outputs = dict(d.get("outputs") or {})
            outputs[name] = info.outputs
            if info.started_at is None:
                info.started_at = info.queued_at or ev.time
            self._paths(info, d)
        elif kind is EventKind.NODE_FAILED:
            info.state = "cancelled" if d.get("reason") == "cancelled" else "failed"
            info.finished_at, info.error = ev.time, d.get("error")
            self._paths(info, d)
        elif kind is EventKind.NODE_RETRYING:
            info.state, info.error = "queued", d.get("error")
            self._paths(info, d)
        elif kind is EventKind.NODE_SKIPPED:
            info.state, info.error, info.finished_at = "skipped", d.get("reason"), ev.time
        else:
            return
        changed[name] = info

    @staticmethod
    def _paths(info: NodeRunInfo, d) -> None:
        if d.get("stdout_path"):
            info.stdout_path = d.get("stdout_path")
        if d.get("stderr_path"):
            info.stderr_path = d.get("stderr_path")


def snapshot_workflow(wf):
    """A copy of ``wf`` whose structure (nodes, terminals, connections) the GUI can no longer change.

    Made on the GUI thread in a few milliseconds: terminal values and opts are
    shared, not copied — the document never changes a value in place (edits
    and results replace it) — and the worker deep-copies them itself.
    """
    from ..model import Connection, Node, Terminal, Workflow

    nodes = {}
    for k, n in wf.nodes.items():
        terms = {t: Terminal(x.value, x.flipped, x.opts, x.extra, x.key_order) for t, x in n.terminals.items()}
        nodes[k] = Node(n.uniquename, n.path, n.name, list(n.pos), terms, n.tunnel, n.forcerun, n.hidden,
                        n.customState, n.layer, n.geometry, n.stored_uniquename, n.extra, n.key_order)
    conns = {k: Connection(c.uniquename, c.input, c.output, c.name, c.line, c.controlpoints, c.feedback,
                           c.stored_uniquename, c.extra, c.key_order) for k, c in wf.connections.items()}
    return Workflow(nodes, conns, wf.key_order, wf.source_path)


def read_log_file(path: str | None, limit: int = 200_000) -> str:
    """The end of a log file (at most ``limit`` bytes), or "" when there is none."""
    if not path or not os.path.exists(path):
        return ""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - limit))
        data = f.read()
    text = data.decode("utf-8", "replace")
    return ("…\n" if size > limit else "") + text
