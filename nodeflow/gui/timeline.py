"""The Timeline dock (issue 7): bars per node for the current run and chosen past runs.

``TimelinePanel`` owns a list of this file's past runs (from the history
store; check the ones to show) and ``TimelineView``, a ``QGraphicsView`` that
draws one row per node and, in it, one bar per shown run, coloured by state.
The current run's actual part is solid; what is still predicted (the ETA
forecast's expected start → finish of unfinished nodes) is drawn hatched.
Clicking a bar emits ``node_clicked(name)`` (the window selects the node).
Time runs left to right, each run aligned at its own start.
"""
from __future__ import annotations

import time

from PySide6 import QtCore, QtGui, QtWidgets

STATE_COLOURS = {
    "succeeded": "#3fa34d", "failed": "#d64545", "running": "#e0a526", "queued": "#7f8fa6",
    "pending": "#7f8fa6", "skipped": "#9a9a9a", "cancelled": "#b0703c", "predicted": "#4a90d9",
}
ROW_H = 18
BAR_H = 12
LABEL_W = 160
MIN_SCALE_S = 1.0


class BarItem(QtWidgets.QGraphicsRectItem):
    def __init__(self, rect: QtCore.QRectF, node: str, run: str, state: str, predicted: bool = False):
        super().__init__(rect)
        self.node, self.run, self.state, self.predicted = node, run, state, predicted
        colour = QtGui.QColor(STATE_COLOURS.get(state, "#888888"))
        if predicted:
            self.setBrush(QtGui.QBrush(colour, QtCore.Qt.BrushStyle.BDiagPattern))
            self.setPen(QtGui.QPen(colour, 1, QtCore.Qt.PenStyle.DashLine))
        else:
            self.setBrush(colour)
            self.setPen(QtGui.QPen(colour.darker(140)))
        self.setToolTip(f"{node} — {run}: {'predicted' if predicted else state}")
        self.setCursor(QtCore.Qt.CursorShape.PointingHandCursor)


class TimelineView(QtWidgets.QGraphicsView):
    node_clicked = QtCore.Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QtWidgets.QGraphicsScene(self))
        self.setAlignment(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignTop)
        self.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
        self.bars: list[BarItem] = []

    def draw(self, runs: list[tuple[str, list[dict]]]) -> None:
        """``runs``: (label, bars) where each bar is {node, start, finish, state, predicted}; times are
        seconds (absolute); every run is drawn relative to its own earliest start."""
        scene = self.scene()
        scene.clear()
        self.bars = []
        nodes: list[str] = []
        for _label, bars in runs:
            for b in bars:
                if b["node"] not in nodes:
                    nodes.append(b["node"])
        span = MIN_SCALE_S
        origins = []
        for _label, bars in runs:
            starts = [b["start"] for b in bars if b.get("start") is not None]
            t0 = min(starts) if starts else 0.0
            origins.append(t0)
            for b in bars:
                if b.get("finish") is not None:
                    span = max(span, b["finish"] - t0)
        width = max(200, self.viewport().width() - LABEL_W - 20)
        scale = width / span
        nruns = max(1, len(runs))
        band = BAR_H / nruns
        row_of = {n: i for i, n in enumerate(nodes)}
        fg = self.palette().color(QtGui.QPalette.ColorRole.WindowText)
        for n, i in row_of.items():
            t = scene.addSimpleText(n)
            t.setBrush(fg)
            t.setPos(2, i * ROW_H + 1)
        for k, ((label, bars), t0) in enumerate(zip(runs, origins)):
            for b in bars:
                if b.get("start") is None:
                    continue
                finish = b.get("finish") if b.get("finish") is not None else time.time()
                x = LABEL_W + (b["start"] - t0) * scale
                w = max(2.0, (finish - b["start"]) * scale)
                y = row_of[b["node"]] * ROW_H + 3 + k * band
                item = BarItem(QtCore.QRectF(x, y, w, max(2.0, band - 1)), b["node"], label, b.get("state") or "",
                               bool(b.get("predicted")))
                scene.addItem(item)
                self.bars.append(item)
        scene.setSceneRect(scene.itemsBoundingRect().adjusted(0, 0, 10, 10))

    def bar_of(self, node: str, run: str | None = None) -> BarItem | None:
        for b in self.bars:
            if b.node == node and (run is None or b.run == run):
                return b
        return None

    def mousePressEvent(self, event) -> None:
        item = self.itemAt(event.position().toPoint())
        if isinstance(item, BarItem):
            self.node_clicked.emit(item.node)
            event.accept()
            return
        super().mousePressEvent(event)


class TimelinePanel(QtWidgets.QWidget):
    """Past runs to pick (checkable list) above the timeline view."""

    node_clicked = QtCore.Signal(str)
    CURRENT = "current run"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.past = QtWidgets.QListWidget()
        self.past.setMaximumHeight(90)
        self.past.setToolTip("Earlier runs of this file: check the ones to draw next to the current run")
        self.view = TimelineView()
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(QtWidgets.QLabel("Past runs of this file:"))
        lay.addWidget(self.past)
        lay.addWidget(self.view, 1)
        self.view.node_clicked.connect(self.node_clicked)
        self.past.itemChanged.connect(lambda _it: self.redraw())
        self._current: list[dict] = []
        self._past_bars: dict[str, list[dict]] = {}
        self._labels: dict[str, str] = {}

    # -- data -----------------------------------------------------------------------
    def set_past_runs(self, runs: list[dict], attempts_of) -> None:
        """``runs``: history store run dicts (newest first); ``attempts_of(run_id)`` → attempt dicts."""
        checked = {self.past.item(i).data(QtCore.Qt.ItemDataRole.UserRole) for i in range(self.past.count())
                   if self.past.item(i).checkState() == QtCore.Qt.CheckState.Checked}
        self.past.blockSignals(True)
        self.past.clear()
        self._attempts_of = attempts_of
        self._past_bars.clear()
        for r in runs:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.get("started_at") or 0))
            label = f"{when} · {r.get('state') or '?'} · {r['run_id'][:8]}"
            it = QtWidgets.QListWidgetItem(label)
            it.setData(QtCore.Qt.ItemDataRole.UserRole, r["run_id"])
            it.setFlags(it.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
            it.setCheckState(QtCore.Qt.CheckState.Checked if r["run_id"] in checked
                             else QtCore.Qt.CheckState.Unchecked)
            self._labels[r["run_id"]] = label
            self.past.addItem(it)
        self.past.blockSignals(False)
        self.redraw()

    def check_run(self, run_id: str, on: bool = True) -> None:
        for i in range(self.past.count()):
            it = self.past.item(i)
            if it.data(QtCore.Qt.ItemDataRole.UserRole) == run_id:
                it.setCheckState(QtCore.Qt.CheckState.Checked if on else QtCore.Qt.CheckState.Unchecked)

    def set_current(self, bars: list[dict], draw: bool = True) -> None:
        self._current = bars
        if draw:
            self.redraw()

    def _bars_of_past(self, run_id: str) -> list[dict]:
        if run_id not in self._past_bars:
            out = []
            for a in self._attempts_of(run_id):
                if a.get("started_at") is None:
                    continue
                out.append({"node": a["node"], "start": a["started_at"], "finish": a.get("finished_at"),
                            "state": a.get("state") or ""})
            self._past_bars[run_id] = out
        return self._past_bars[run_id]

    def redraw(self) -> None:
        runs = []
        if self._current:
            runs.append((self.CURRENT, self._current))
        for i in range(self.past.count()):
            it = self.past.item(i)
            if it.checkState() == QtCore.Qt.CheckState.Checked:
                rid = it.data(QtCore.Qt.ItemDataRole.UserRole)
                try:
                    runs.append((self._labels.get(rid, rid), self._bars_of_past(rid)))
                except Exception:  # a store that went away: nothing to draw for it
                    continue
        self.view.draw(runs)
