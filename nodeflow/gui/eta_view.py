"""Issue 7 in the window: the ETA on the progress bar, expected starts in tooltips, the Timeline dock.

``EtaView`` hangs off the ``RunController``: it adds an observer factory that
makes an ``EtaTracker`` for each run's plan (on the worker thread, estimates
from the run's history store), and while a run goes a ``QTimer`` on the GUI
thread reads the tracker's forecast ``UPDATE_HZ`` times a second at most:
``format_eta`` into ``RunProgress.set_eta_text`` (", from priors" when the
history has nothing yet), "expected start hh:mm:ss" into the tooltips of
nodes that have not started, and the current run's bars (actual solid,
predicted hatched) into the Timeline dock. The dock's past runs come from
the history store (runs of the current file), refreshed on open/save/run end.
"""
from __future__ import annotations

import os
import threading
import time

from PySide6 import QtCore

from .timeline import TimelinePanel

UPDATE_HZ = 4
NOT_STARTED = ("pending", "queued")


class EtaView(QtCore.QObject):
    def __init__(self, window):
        super().__init__(window)
        self.w = window
        self.run = window.run
        self.tracker = None
        self.forecast = None
        self._made: tuple | None = None  # (worker thread, tracker): set on the worker thread
        self._run_thread = None
        self._dock_hooked = False
        self.panel = TimelinePanel()
        self._tips: dict[str, str] = {}  # node → the tooltip it had before ours
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(int(1000 / UPDATE_HZ))
        self._timer.timeout.connect(self.refresh)
        self.run.observer_factories.append(self._make_tracker)
        self.run.running_changed.connect(self._on_running)
        self.run.run_finished.connect(lambda _s: self._after_run())
        self.panel.node_clicked.connect(self._select)
        window.doc.path_changed.connect(lambda _p: self.load_past_runs())
        window.doc.reset.connect(self.load_past_runs)

    # -- worker thread --------------------------------------------------------------------
    def _make_tracker(self, *, plan, history, executors, default_executor, path):
        from ..history.eta import EtaTracker, slots_from_executors

        tracker = EtaTracker.for_plan(plan, history, default_executor=default_executor,
                                      slots=slots_from_executors(executors), workflow_path=path,
                                      workflow_hash=plan.workflow_hash)
        self._made = (threading.current_thread(), tracker)
        return tracker

    # -- GUI thread -----------------------------------------------------------------------
    def _on_running(self, running: bool) -> None:
        if running:
            self.tracker = self.forecast = None
            self._run_thread = self.run._thread  # a tracker made by another (older) run's thread is not ours
            self._restore_tips()
            self.panel.set_current([])
            self._timer.start()
        else:
            self._timer.stop()

    def _after_run(self) -> None:
        self.refresh()
        self._restore_tips()
        self.load_past_runs()

    def refresh(self) -> None:
        made = self._made
        if self.tracker is None and made is not None and made[0] is self._run_thread:
            self.tracker = made[1]
        tracker = self.tracker
        if tracker is None:
            return
        try:
            fc = tracker.update()
        except Exception:
            return
        self.forecast = fc
        from ..history.eta import format_eta

        self.w.runs.progress.set_eta_text(format_eta(fc))
        if self.run.running:
            self._update_tips(fc)
        dock = self.w.docks.get("timeline")
        shown = dock is None or dock.isVisible()  # a hidden dock is drawn when it is shown (big runs stay cheap)
        if dock is not None and not self._dock_hooked:
            dock.visibilityChanged.connect(lambda on: self.panel.redraw() if on else None)
            self._dock_hooked = True
        self.panel.set_current(self.current_bars(fc), draw=shown)

    def expected_start_text(self, name: str) -> str | None:
        fc = self.forecast
        if fc is None or name not in fc.index:
            return None
        t = fc.expected_start(name)
        if t is None:
            return None
        src = fc.node(name).source
        return f"expected start {time.strftime('%H:%M:%S', time.localtime(t))} (estimate: {src})"

    def _update_tips(self, fc) -> None:
        canvas = self.w.canvas
        for name in fc.names:
            item = canvas.item(name)
            if item is None:
                continue
            info = self.run.info(name)
            state = info.state if info is not None else "pending"
            if state in NOT_STARTED:
                text = self.expected_start_text(name)
                if text:
                    self._tips.setdefault(name, item.toolTip())
                    item.setToolTip(f"{name}: {state}, {text}")
            elif name in self._tips:
                item.setToolTip(self._tips.pop(name))

    def _restore_tips(self) -> None:
        for name, tip in self._tips.items():
            item = self.w.canvas.item(name)
            if item is not None:
                item.setToolTip(tip)
        self._tips.clear()

    def current_bars(self, fc) -> list[dict]:
        now = time.time()
        bars = []
        for i, name in enumerate(fc.names):
            info = self.run.info(name)
            state = info.state if info is not None else "pending"
            if info is not None and info.started_at is not None:
                end = info.finished_at
                bars.append({"node": name, "start": info.started_at, "finish": end if end is not None else now,
                             "state": state})
                if end is None and state == "running" and fc.finish[i] is not None and fc.finish[i] > now:
                    bars.append({"node": name, "start": now, "finish": fc.finish[i], "state": "predicted",
                                 "predicted": True})
            elif state in NOT_STARTED and not fc.finished and fc.start[i] is not None:
                bars.append({"node": name, "start": fc.start[i], "finish": fc.finish[i], "state": "predicted",
                             "predicted": True})
        return bars

    def load_past_runs(self) -> None:
        path = self.w.doc.path
        hp = self.run.history_path
        if not path or hp is None or not os.path.exists(hp):
            self.panel.set_past_runs([], lambda _r: [])
            return
        from ..history.store import HistoryStore

        def attempts_of(run_id):
            with HistoryStore(hp) as s:
                return s.attempts(run_id)

        try:
            with HistoryStore(hp) as store:
                runs = [r for r in store.runs(workflow_path=os.fspath(path), limit=30)
                        if r["run_id"] != self.run.run_id or not self.run.running]
        except Exception:
            runs = []
        self.panel.set_past_runs(runs, attempts_of)

    def _select(self, name: str) -> None:
        canvas = self.w.canvas
        if canvas.item(name) is not None:
            canvas.select([name])
            canvas.center_on(name)
