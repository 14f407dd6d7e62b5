"""Dock contents: the problems list, the node log and the figure viewer.

* ``ProblemsPanel`` lists validation results (errors first); clicking one asks
  the window to select and centre its node (``problem_activated``).
* ``LogPanel`` shows one node's stdout/stderr: lines streamed during a run
  (``NODE_LOG`` events, kept by the RunController), or for a finished command
  node the files its events name (``stdout_path``/``stderr_path``).
* ``FigurePanel`` shows a PNG a plot node wrote (its ``figure`` output).

The docks themselves are made in one place, ``MainWindow._create_docks``.
"""
from __future__ import annotations

import html
import os

from PySide6 import QtCore, QtGui, QtWidgets

from ..model import Problem
from .style import format_duration
from .run_controller import NodeRunInfo, read_log_file


class ProblemsPanel(QtWidgets.QWidget):
    problem_activated = QtCore.Signal(object)  # Problem

    def __init__(self, parent=None):
        super().__init__(parent)
        self.summary = QtWidgets.QLabel("No problems")
        self.tree = QtWidgets.QTreeWidget()
        self.tree.setHeaderLabels(["", "Node", "Problem"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.header().setStretchLastSection(True)
        self.tree.setColumnWidth(0, 70)
        self.tree.setColumnWidth(1, 140)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.summary)
        lay.addWidget(self.tree)
        self.problems: list[Problem] = []
        self.tree.itemClicked.connect(self._clicked)
        self.tree.itemActivated.connect(self._clicked)

    def set_problems(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (not p.is_error, p.uniquename))
        self.tree.clear()
        style = self.style()
        err_icon = style.standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MessageBoxCritical)
        warn_icon = style.standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MessageBoxWarning)
        items = []
        for i, p in enumerate(self.problems[:2000]):
            it = QtWidgets.QTreeWidgetItem(["error" if p.is_error else "warning", p.uniquename, p.message])
            it.setIcon(0, err_icon if p.is_error else warn_icon)
            it.setToolTip(2, p.message)
            it.setData(0, QtCore.Qt.ItemDataRole.UserRole, i)
            items.append(it)
        self.tree.addTopLevelItems(items)
        errors = sum(1 for p in problems if p.is_error)
        warnings = len(problems) - errors
        if not problems:
            self.summary.setText("No problems")
        else:
            parts = [f"{errors} error{'s' if errors != 1 else ''}"] if errors else []
            if warnings:
                parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
            self.summary.setText(", ".join(parts) + " — click one to show its node")

    def _clicked(self, item, column=0) -> None:
        i = item.data(0, QtCore.Qt.ItemDataRole.UserRole)
        if i is not None and 0 <= i < len(self.problems):
            self.problem_activated.emit(self.problems[i])


class LogPanel(QtWidgets.QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.header = QtWidgets.QLabel("Select a node to see its output.")
        self.text = QtWidgets.QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(20000)
        self.text.setLineWrapMode(QtWidgets.QPlainTextEdit.LineWrapMode.NoWrap)
        font = QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont)
        self.text.setFont(font)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.header)
        lay.addWidget(self.text)
        self.node: str | None = None
        self._err_color = "#e06c6c"

    def show_node(self, name: str | None, info: NodeRunInfo | None) -> None:
        self.node = name
        self.text.clear()
        if name is None:
            self.header.setText("Select a node to see its output.")
            return
        if info is None:
            self.header.setText(f"{name}: not run yet")
            return
        dur = format_duration(info.duration)
        self.header.setText(f"{name}: {info.state}" + (f" · {dur}" if dur else "")
                            + (f" · attempt {info.attempt}" if info.attempt > 1 else ""))
        if info.error:
            self._append_html(f"<b style='color:{self._err_color}'>{html.escape(info.error)}</b>")
        if info.log:
            self.append_lines(list(info.log))
        elif info.stdout_path or info.stderr_path:
            for stream, path in (("stdout", info.stdout_path), ("stderr", info.stderr_path)):
                text = read_log_file(path)
                if text:
                    self.append_lines([(stream, line) for line in text.splitlines()])

    def append(self, name: str, lines: list) -> None:
        if name == self.node:
            self.append_lines(lines)

    def append_lines(self, lines: list) -> None:
        out = []
        for stream, line in lines:
            esc = html.escape(line)
            out.append(f"<span style='color:{self._err_color}'>{esc}</span>" if stream == "stderr" else esc)
        if out:
            self._append_html("<br>".join(out))

    def _append_html(self, text: str) -> None:
        self.text.appendHtml(f"<pre style='margin:0'>{text}</pre>")

    def plain_text(self) -> str:
        return self.text.toPlainText()


class FigurePanel(QtWidgets.QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.header = QtWidgets.QLabel("Double-click a plot node after a run to see its figure.")
        self.label = QtWidgets.QLabel()
        self.label.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Ignored)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.header)
        lay.addWidget(self.label, 1)
        self._pixmap: QtGui.QPixmap | None = None
        self.path: str | None = None

    def show_file(self, path: str | None, title: str = "") -> bool:
        if not path or not os.path.exists(path):
            self.path, self._pixmap = None, None
            self.label.clear()
            self.header.setText(f"{title}: no figure yet — run the workflow first" if title else
                                "Double-click a plot node after a run to see its figure.")
            return False
        pm = QtGui.QPixmap(path)
        if pm.isNull():
            self.header.setText(f"{title}: {path} is not an image Qt can read")
            return False
        self.path, self._pixmap = path, pm
        self.header.setText(f"{title} — {path}" if title else path)
        self._rescale()
        return True

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._pixmap is not None:
            size = self.label.size()
            if size.width() > 10 and size.height() > 10:
                self.label.setPixmap(self._pixmap.scaled(size, QtCore.Qt.AspectRatioMode.KeepAspectRatio,
                                                         QtCore.Qt.TransformationMode.SmoothTransformation))
            else:
                self.label.setPixmap(self._pixmap)
