"""The window's run side: Run, Run selected + downstream, Stop, Rerun failed, progress.

``RunActions`` owns the run actions, the executor combo and the progress
widget, starts runs through the ``RunController`` and shows what it reports:
node colours and durations on the canvas, output values stored in the
document (as Nodeworks stores results), the selected node's log, the plot
figure, and the counts in the status bar.

``RunProgress`` is the status-bar widget: a progress bar with the counts,
and ``set_eta_text`` — the place where issue 7's ETA text goes.
"""
from __future__ import annotations

import time

from PySide6 import QtCore, QtGui, QtWidgets

from ..engine.settings import SettingsError, WorkflowSettings
from .settings_dialog import fill_executor_combo
from .style import STATES

Btn = QtWidgets.QMessageBox.StandardButton


class RunProgress(QtWidgets.QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.bar = QtWidgets.QProgressBar()
        self.bar.setMinimumWidth(220)
        self.bar.setMaximumWidth(320)
        self.bar.setFormat("idle")
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.counts = QtWidgets.QLabel("")
        self.eta = QtWidgets.QLabel("")  # issue 7: estimated completion time
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.counts)
        lay.addWidget(self.bar)
        lay.addWidget(self.eta)

    def set_progress(self, data: dict) -> None:
        total = int(data.get("total") or 0)
        done = int(data.get("done") or 0)
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(min(done, max(total, 1)))
        self.bar.setFormat(f"{done} / {total} done")
        parts = []
        for key in ("running", "queued", "failed", "skipped", "cancelled"):
            n = int(data.get(key) or 0)
            if n:
                parts.append(f"{n} {key}")
        self.counts.setText(" · ".join(parts))

    def set_running(self) -> None:
        self.bar.setFormat("starting…")
        self._show_state("running")

    def set_finished(self, state: str, seconds: float | None) -> None:
        took = f" in {seconds:.1f} s" if seconds is not None else ""
        self.bar.setFormat(f"{state}{took}")
        self._show_state(state)

    def _show_state(self, state: str | None) -> None:
        """The bar's colour follows the run: green while all is well, red after a failure."""
        self.bar.setProperty("state", state or "")
        self.bar.style().unpolish(self.bar)
        self.bar.style().polish(self.bar)

    def set_eta_text(self, text: str) -> None:
        self.eta.setText(text)


class RunActions(QtCore.QObject):
    def __init__(self, window):
        super().__init__(window)
        self.w = window
        self.run = window.run
        self.progress = RunProgress()
        self.executor = QtWidgets.QComboBox()
        self.executor.setToolTip("Where nodes run (nodes may name their own executor in their run settings)")
        self.executor.setMinimumContentsLength(10)
        self.refresh_executors()
        style = window.style()
        SP = QtWidgets.QStyle.StandardPixmap

        def act(text, icon, shortcut, slot, tip):
            a = QtGui.QAction(style.standardIcon(icon), text, window)
            if shortcut:
                a.setShortcut(shortcut)
            a.setToolTip(f"{tip} ({shortcut})" if shortcut else tip)
            a.triggered.connect(slot)
            return a

        self.act_run = act("&Run", SP.SP_MediaPlay, "F5", lambda: self.start(), "Run the workflow")
        self.act_run_selected = act("Run &selected + downstream", SP.SP_MediaSeekForward, "Shift+F5",
                                    self.start_selected, "Run the selected nodes and everything downstream")
        self.act_stop = act("S&top", SP.SP_MediaStop, "Shift+Esc", self.stop, "Stop the run")
        self.act_rerun = act("Rerun &failed", SP.SP_BrowserReload, "Ctrl+F5", self.rerun_failed,
                             "Run again what failed or did not run in the last run, reusing what succeeded")
        self._t0: float | None = None
        self._stale = False
        window.doc.reset.connect(self._on_reset)
        r = self.run
        r.running_changed.connect(self._update_actions)
        r.states_changed.connect(self._on_states)
        r.progress_changed.connect(self.progress.set_progress)
        r.outputs_ready.connect(self._on_outputs)
        r.log_appended.connect(self.w.log_panel.append)
        r.run_finished.connect(self._on_finished)
        r.run_error.connect(self._on_error)
        self._update_actions(False)

    def actions(self) -> list:
        return [self.act_run, self.act_run_selected, self.act_stop, self.act_rerun]

    def refresh_executors(self, prefer: str | None = None) -> None:
        current = prefer or self.executor.currentText() or self.w.config.app.default_executor
        fill_executor_combo(self.executor, self.w.config, current)

    def _on_reset(self) -> None:
        """Another workflow is shown: a run of the old one stops, and its own executor is preselected."""
        if self.run.running:
            self.run.stop()
            self._stale = True  # what the stopped run still reports belongs to the old workflow
        try:
            own = WorkflowSettings.of(self.w.doc.workflow).executor
        except SettingsError:
            own = None
        self.refresh_executors(prefer=own if own and own != "local" else self.w.config.app.default_executor)

    def _update_actions(self, running: bool) -> None:
        self.act_run.setEnabled(not running)
        self.act_run_selected.setEnabled(not running)
        self.act_stop.setEnabled(running)
        failed = self.run.last_state in ("failed", "cancelled") and self.run.last_run_id is not None
        self.act_rerun.setEnabled(not running and failed)
        self.executor.setEnabled(not running)

    # -- starting -------------------------------------------------------------
    def start_selected(self) -> bool:
        names = self.w.canvas.selected_names()
        if not names:
            self.w.show_message("Select the nodes to run first (they run with everything downstream of them).")
            return False
        return self.start(only=names)

    def rerun_failed(self) -> bool:
        if self.run.last_run_id is None:
            self.w.show_message("There is no earlier run to take results from.")
            return False
        return self.start(rerun_failed=self.run.last_run_id)

    def start(self, only=None, rerun_failed: str | None = None, attach: str | None = None) -> bool:
        if self.run.running:
            return False
        doc = self.w.doc
        wf = doc.workflow
        errors = [p for p in self.w.current_problems() if p.is_error]
        if errors:
            self.w.show_problems()
            self.w.show_message(f"Cannot run: {errors[0]}" + (f" (and {len(errors) - 1} more problems)"
                                                             if len(errors) > 1 else ""))
            return False
        unknown = [n for n in wf.nodes.values() if doc.registry.get(n.path) is None]
        skip = False
        if unknown:
            listed = "\n".join(f"  {n.uniquename}: {n.type_name}" for n in unknown[:10])
            answer = QtWidgets.QMessageBox.question(
                self.w, "Unknown node types",
                f"These nodes have types this installation does not have:\n{listed}\n\n"
                "Run the rest, skipping them and everything that depends on them?", Btn.Yes | Btn.Cancel, Btn.Yes)
            if answer != Btn.Yes:
                return False
            skip = True
        self.w.canvas.clear_states()
        self._stale = False
        self._t0 = time.monotonic()
        self.progress.set_eta_text("")
        self.progress.set_running()
        jobs = int(self.w.config.app.jobs) if self.w.config.app.jobs else None
        ok = self.run.start(wf, path=doc.path, executor=self.executor.currentText() or "local", jobs=jobs,
                            only=only, rerun_failed=rerun_failed, skip_unknown=skip, attach=attach)
        if ok:
            self.progress.set_progress({"done": 0, "total": len(only) if only else len(wf.nodes)})
            self.w.show_message("Running…")
        return ok

    def stop(self) -> None:
        if self.run.running:
            self.run.stop()
            self.w.show_message("Stopping: running nodes are being cancelled…")

    # -- what the run reports ------------------------------------------------------
    def _on_states(self, changed: dict) -> None:
        if self._stale:
            return
        states = {}
        canvas = self.w.canvas
        for name, info in changed.items():
            if info.state == "pending" and canvas.state_of(name) is None:
                continue  # already drawn as not run
            note = ""
            if info.state in ("failed", "skipped", "cancelled") and info.error:
                note = info.error.strip().splitlines()[0] if info.error.strip() else ""
            seconds = info.duration if info.state in ("running", "succeeded", "failed", "cancelled") else None
            states[name] = (info.state if info.state in STATES else None, seconds, note)
        self.w.canvas.set_states(states)
        sel = self.w.log_panel.node
        if sel in changed and changed[sel].state != "running":
            self.w.log_panel.show_node(sel, changed[sel])

    def _on_outputs(self, outputs: dict) -> None:
        if self._stale:
            return
        self.w.doc.store_results(outputs)
        fig = self.w.figure_panel
        for name, outs in outputs.items():
            if isinstance(outs.get("figure"), str) and (fig.path is None or self.w.selected_node == name):
                self.w.show_figure(name, reveal=False)

    def _on_finished(self, state: str) -> None:
        if self._stale:
            self.progress.set_finished(state, None)
            self._update_actions(False)
            self.w.show_message("The run of the previous workflow was stopped")
            return
        took = time.monotonic() - self._t0 if self._t0 is not None else None
        self.progress.set_finished(state, took)
        self._update_actions(False)
        if state != "error":
            counts = self.run.progress
            failed = int(counts.get("failed") or 0)
            self.w.show_message(f"Run {state}" + (f" in {took:.1f} s" if took is not None else "")
                                + (f" — {failed} failed; select a red node to see why" if failed else ""))
        if self.w.selected_node:
            self.w.log_panel.show_node(self.w.selected_node, self.run.info(self.w.selected_node))
        if state != "error" and int(self.run.progress.get("failed") or 0):
            from .slurm_dialogs import offer_trust_for_failures  # an unknown host key: offer the trust dialog

            offer_trust_for_failures(self.w, self.run.nodes)

    def _on_error(self, message: str) -> None:
        if "stopped before it started" in message:
            self.w.show_message(message)
            return
        self.w.show_message("The run could not start: " + message.splitlines()[0])
        from .slurm_dialogs import offer_trust_for_error  # an unknown host key: offer the trust dialog

        if offer_trust_for_error(self.w, message) is None:
            QtWidgets.QMessageBox.warning(self.w, "Cannot run", message)
