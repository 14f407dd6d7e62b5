"""The properties panel: the selected node's name, values, outputs and run settings.

Editors follow each terminal's Nodeworks ``opts``: ``spinbox`` → QSpinBox and
``doublespinbox`` → QDoubleSpinBox (with ``min``/``max``), ``combobox`` →
QComboBox with ``items``, ``checkbox`` → QCheckBox, ``lineedit`` → QLineEdit,
``browsetype`` (or widget ``browse``) → a line edit with a "…" file/folder
button; anything else is edited as JSON text. A connected input shows where its
value comes from instead of an editor.

Below them, nodeflow's per-node settings (``NodeSettings``: executor,
max_retries, retry_interval_s, timeout_s, resources as ``key=value``,
isolate). Every change goes to the document as one edit (undoable); the panel
updates its editors in place when the model changes, without taking focus.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from PySide6 import QtCore, QtGui, QtWidgets

from ..engine.settings import NodeSettings, SettingsError
from ..model import Terminal
from .document import WorkflowDocument
from .style import short_value

INT_RANGE = (-(2 ** 31), 2 ** 31 - 1)
FLOAT_RANGE = (-1e15, 1e15)


class FloatSpin(QtWidgets.QDoubleSpinBox):
    """A double spin box that shows 2.5 as "2.5", not "2.500000"."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setDecimals(10)
        self.setStepType(QtWidgets.QAbstractSpinBox.StepType.AdaptiveDecimalStepType)

    def textFromValue(self, value: float) -> str:
        return f"{value:.10g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text.replace(",", "."))
        except ValueError:
            return self.value()

    def validate(self, text, pos):
        t = text.strip().replace(",", ".")
        if t in ("", "-", "+", ".", "-.", "+.") or t.lower().endswith("e") or t.lower().endswith(("e-", "e+")):
            return QtGui.QValidator.State.Intermediate, text, pos
        try:
            float(t)
        except ValueError:
            return QtGui.QValidator.State.Invalid, text, pos
        return QtGui.QValidator.State.Acceptable, text, pos


class PathEdit(QtWidgets.QWidget):
    """A line edit with a browse button (file, folder or save-as, from ``browsetype``)."""

    editingFinished = QtCore.Signal()

    def __init__(self, browsetype: str | None, parent=None):
        super().__init__(parent)
        self.browsetype = (browsetype or "file").lower()
        self.edit = QtWidgets.QLineEdit()
        self.button = QtWidgets.QToolButton()
        self.button.setText("…")
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.edit)
        lay.addWidget(self.button)
        self.edit.editingFinished.connect(self.editingFinished)
        self.button.clicked.connect(self._browse)

    def text(self) -> str:
        return self.edit.text()

    def setText(self, text: str) -> None:
        self.edit.setText(text)

    def _browse(self) -> None:
        start = self.edit.text()
        if "dir" in self.browsetype or "folder" in self.browsetype:
            path = QtWidgets.QFileDialog.getExistingDirectory(self, "Choose a folder", start)
        elif "save" in self.browsetype:
            path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Choose a file", start)
        else:
            path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Choose a file", start)
        if path:
            self.edit.setText(path)
            self.editingFinished.emit()


def _dtype(term: Terminal) -> str:
    return term.dtype


def _num(opts: dict, key: str, default: float) -> float:
    v = opts.get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else default


def make_editor(term: Terminal, commit: Callable[[Any], None]) -> tuple[QtWidgets.QWidget, Callable[[Any], None]]:
    """An editor for ``term`` and a function that shows a value in it without committing."""
    opts = term.opts
    widget = (opts.get("widget") or "")
    widget = widget.lower() if isinstance(widget, str) else ""
    dtype = _dtype(term)
    value = term.value
    if opts.get("browsetype") or widget in ("browse", "file", "filebrowse", "path"):
        ed = PathEdit(opts.get("browsetype"))

        def show(v):
            ed.setText("" if v is None else str(v))

        ed.editingFinished.connect(lambda: commit(ed.text()))
    elif widget == "combobox" or isinstance(opts.get("items"), list):
        ed = QtWidgets.QComboBox()
        items = [str(i) for i in opts.get("items") or []]
        ed.addItems(items)

        def show(v):
            text = "" if v is None else str(v)
            if ed.findText(text) < 0:
                ed.addItem(text)
            ed.setCurrentIndex(ed.findText(text))

        ed.currentTextChanged.connect(lambda t: commit(t))
    elif widget == "checkbox" or dtype == "<class 'bool'>":
        ed = QtWidgets.QCheckBox()

        def show(v):
            ed.setChecked(bool(v))

        ed.toggled.connect(lambda b: commit(bool(b)))
    elif (widget == "spinbox" or dtype == "<class 'int'>") and (value is None or isinstance(value, int)):
        ed = QtWidgets.QSpinBox()
        ed.setRange(int(_num(opts, "min", INT_RANGE[0])), int(_num(opts, "max", INT_RANGE[1])))
        ed.setKeyboardTracking(False)

        def show(v):
            ed.setValue(int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0)

        ed.valueChanged.connect(lambda v: commit(int(v)))
    elif (widget == "doublespinbox" or dtype == "<class 'float'>") and (value is None
                                                                        or isinstance(value, (int, float))):
        ed = FloatSpin()
        ed.setRange(_num(opts, "min", FLOAT_RANGE[0]), _num(opts, "max", FLOAT_RANGE[1]))
        ed.setKeyboardTracking(False)

        def show(v):
            ed.setValue(float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0.0)

        ed.valueChanged.connect(lambda v: commit(float(v)))
    elif dtype == "<class 'str'>" and (value is None or isinstance(value, str)):
        ed = QtWidgets.QLineEdit()

        def show(v):
            ed.setText("" if v is None else str(v))

        ed.editingFinished.connect(lambda: commit(ed.text()))
    else:  # lists, dicts, "any": JSON, or plain text when it is not JSON
        ed = QtWidgets.QLineEdit()
        ed.setPlaceholderText("JSON, e.g. [\"-n\", \"3\"] or {\"KEY\": \"value\"}")

        def show(v):
            ed.setText(v if isinstance(v, str) else json.dumps(v))

        def parse():
            text = ed.text()
            try:
                return json.loads(text)
            except ValueError:
                return text

        ed.editingFinished.connect(lambda: commit(parse()))
    show(value)
    return ed, show


def parse_resources(text: str) -> dict[str, Any]:
    """``"cpus=2, mem=4G"`` → ``{"cpus": 2, "mem": "4G"}``."""
    out: dict[str, Any] = {}
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise ValueError(f"{part.strip()!r} is not key=value")
        k, v = (s.strip() for s in part.split("=", 1))
        if not k:
            raise ValueError(f"{part.strip()!r} has no key")
        for conv in (int, float):
            try:
                out[k] = conv(v)
                break
            except ValueError:
                continue
        else:
            out[k] = v
    return out


def format_resources(res: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in res.items())


class PropertiesPanel(QtWidgets.QScrollArea):
    status_message = QtCore.Signal(str)

    def __init__(self, document: WorkflowDocument, executor_choices: Callable[[], list[str]] = lambda: ["local"],
                 parent=None):
        super().__init__(parent)
        self.doc = document
        self.executor_choices = executor_choices
        self.setWidgetResizable(True)
        self.name: str | None = None
        self._show: dict[str, Callable[[Any], None]] = {}
        self._editors: dict[str, QtWidgets.QWidget] = {}
        self._outputs: dict[str, QtWidgets.QLabel] = {}
        self._settings: dict[str, QtWidgets.QWidget] = {}
        self._building = False
        d = document
        d.node_changed.connect(self._on_node_changed)
        d.values_stored.connect(self._on_values_stored)
        d.reset.connect(lambda: self.show_node(None))
        d.nodes_removed.connect(lambda names: self.show_node(None) if self.name in names else None)
        d.connections_added.connect(lambda _n: self._rebuild_if_shown())
        d.connections_removed.connect(lambda _n: self._rebuild_if_shown())
        self.show_node(None)

    # -- public --------------------------------------------------------------
    def editor(self, terminal: str) -> QtWidgets.QWidget | None:
        return self._editors.get(terminal)

    def setting(self, key: str) -> QtWidgets.QWidget | None:
        return self._settings.get(key)

    def show_node(self, name: str | None) -> None:
        node = self.doc.node(name) if name else None
        self.name = name if node is not None else None
        self._show.clear()
        self._editors.clear()
        self._outputs.clear()
        self._settings.clear()
        page = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(page)
        if node is None:
            hint = QtWidgets.QLabel("Select a node to see and edit its values.\n\n"
                                    "Add nodes from the palette (drag or double-click) or press Tab on the canvas.")
            hint.setWordWrap(True)
            hint.setEnabled(False)
            lay.addWidget(hint)
            lay.addStretch(1)
            self.setWidget(page)
            return
        self._building = True
        try:
            self._build(node, lay)
        finally:
            self._building = False
        lay.addStretch(1)
        self.setWidget(page)

    # -- building ---------------------------------------------------------------
    def _build(self, node, lay) -> None:
        known = self.doc.registry.get(node.path) is not None
        title = QtWidgets.QLabel(f"<b>{node.name or node.uniquename}</b>")
        title.setTextFormat(QtCore.Qt.TextFormat.RichText)
        info = QtWidgets.QLabel(f"{node.uniquename} · {node.type_name}" + ("" if known else " · unknown type"))
        info.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        info.setWordWrap(True)
        lay.addWidget(title)
        lay.addWidget(info)
        if not known:
            warn = QtWidgets.QLabel("This node type is not installed here. The node is kept and saved back "
                                    "exactly as it is, but it cannot run.")
            warn.setWordWrap(True)
            lay.addWidget(warn)
        name_edit = QtWidgets.QLineEdit(node.name)
        name_edit.editingFinished.connect(lambda: self.doc.set_name(node.uniquename, name_edit.text().strip()))
        form = QtWidgets.QFormLayout()
        form.addRow("Name", name_edit)
        self._editors["__name__"] = name_edit
        lay.addLayout(form)

        sources: dict[str, list] = {}
        for c in self.doc.workflow.connections.values():
            if c.output[0] == node.uniquename:
                sources.setdefault(c.output[1], []).append(f"{c.input[0]}.{c.input[1]}")
        values_box = QtWidgets.QGroupBox("Values")
        vform = QtWidgets.QFormLayout(values_box)
        outputs = []
        for tname, term in node.terminals.items():
            if term.is_input:
                src = sources.get(tname)
                if src:
                    lab = QtWidgets.QLabel("← " + ", ".join(src))
                    lab.setWordWrap(True)
                    lab.setEnabled(False)
                    vform.addRow(tname, lab)
                    continue
                self._add_editor(vform, node.uniquename, tname, term)
            elif term.is_output:
                if term.opts.get("widget") not in (None, "display"):  # a constant's own value
                    self._add_editor(vform, node.uniquename, tname, term)
                else:
                    outputs.append((tname, term))
        if vform.rowCount():
            lay.addWidget(values_box)
        if outputs:
            out_box = QtWidgets.QGroupBox("Outputs")
            oform = QtWidgets.QFormLayout(out_box)
            for tname, term in outputs:
                lab = QtWidgets.QLabel()
                lab.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
                lab.setWordWrap(True)
                self._outputs[tname] = lab
                self._show_output(tname, term.value)
                oform.addRow(tname, lab)
            lay.addWidget(out_box)
        if known:
            lay.addWidget(self._settings_box(node))

    def _add_editor(self, form, name: str, tname: str, term: Terminal) -> None:
        ed, show = make_editor(term, lambda v, n=name, t=tname: self._commit(n, t, v))
        ed.setToolTip(f"{tname}: {term.dtype}")
        self._editors[tname] = ed
        self._show[tname] = show
        form.addRow(tname, ed)

    def _show_output(self, tname: str, value) -> None:
        lab = self._outputs.get(tname)
        if lab is not None:
            lab.setText(short_value(value, 60) if value is not None else "—")
            full = value if isinstance(value, str) else repr(value)
            lab.setToolTip(full[:2000])

    def _settings_box(self, node) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("Run settings")
        form = QtWidgets.QFormLayout(box)
        try:
            s = NodeSettings.of(node)
        except SettingsError as e:
            err = QtWidgets.QLabel(f"these settings are not valid: {e}")
            err.setWordWrap(True)
            form.addRow(err)
            s = NodeSettings()
        ex = QtWidgets.QComboBox()
        ex.setEditable(True)
        ex.addItem("")
        ex.addItems([c for c in self.executor_choices() if c])
        ex.setCurrentText(s.executor or "")
        ex.lineEdit().setPlaceholderText("the run's executor")
        retries = QtWidgets.QSpinBox()
        retries.setRange(0, 100)
        retries.setValue(s.max_retries)
        interval = FloatSpin()
        interval.setRange(0, 86400)
        interval.setValue(s.retry_interval_s)
        interval.setSuffix(" s")
        timeout = FloatSpin()
        timeout.setRange(0, 10 ** 7)
        timeout.setSpecialValueText("none")
        timeout.setValue(s.timeout_s or 0)
        timeout.setSuffix(" s")
        resources = QtWidgets.QLineEdit(format_resources(s.resources))
        resources.setPlaceholderText("cpus=2, mem=4G")
        isolate = QtWidgets.QCheckBox("run in its own process")
        isolate.setChecked(s.isolate)
        tags_edit = QtWidgets.QLineEdit(", ".join(s.tags))  # issue 6: tags a runner must have
        tags_edit.setPlaceholderText("runner tags: gpu, linux")
        for w in (retries, interval, timeout):
            w.setKeyboardTracking(False)
        form.addRow("Executor", ex)
        form.addRow("Retries", retries)
        form.addRow("Retry after", interval)
        form.addRow("Timeout", timeout)
        form.addRow("Resources", resources)
        form.addRow("Isolate", isolate)
        form.addRow("Runner tags", tags_edit)
        self._settings.update(executor=ex, max_retries=retries, retry_interval_s=interval, timeout_s=timeout,
                              resources=resources, isolate=isolate, tags=tags_edit)
        tags = s.tags
        commit = lambda *_a: self._commit_settings(node.uniquename, tags)  # noqa: E731
        ex.lineEdit().editingFinished.connect(commit)
        ex.activated.connect(commit)
        retries.valueChanged.connect(commit)
        interval.valueChanged.connect(commit)
        timeout.valueChanged.connect(commit)
        resources.editingFinished.connect(commit)
        isolate.toggled.connect(commit)
        tags_edit.editingFinished.connect(commit)
        return box

    # -- committing ---------------------------------------------------------------
    def _commit(self, name: str, terminal: str, value) -> None:
        if self._building or self.doc.node(name) is None:
            return
        hook = getattr(self, "commit_hook", None)  # e.g. a sub-workflow's child: terminals follow (subworkflow_view)
        if hook is not None and hook(name, terminal, value):
            return
        self.doc.set_value(name, terminal, value)

    def _commit_settings(self, name: str, tags) -> None:
        if self._building or self.doc.node(name) is None:
            return
        w = self._settings
        try:
            resources = parse_resources(w["resources"].text())
        except ValueError as e:
            self.status_message.emit(f"Resources not changed: {e}")
            return
        timeout = w["timeout_s"].value()
        if "tags" in w:
            tags = tuple(t for t in w["tags"].text().replace(",", " ").split() if t)
        s = NodeSettings(executor=w["executor"].currentText().strip() or None, max_retries=w["max_retries"].value(),
                         retry_interval_s=w["retry_interval_s"].value(), resources=resources,
                         timeout_s=timeout if timeout > 0 else None, isolate=w["isolate"].isChecked(), tags=tags)
        self.doc.set_settings(name, s.to_state())

    # -- model changed ------------------------------------------------------------------
    def _rebuild_if_shown(self) -> None:
        if self.name is not None:
            self.show_node(self.name)

    def _on_node_changed(self, name: str) -> None:
        if name != self.name:
            return
        node = self.doc.node(name)
        if node is None:
            return
        self._building = True
        try:
            for tname, show in self._show.items():
                ed = self._editors[tname]
                ed.blockSignals(True)
                try:
                    show(node.terminals[tname].value)
                finally:
                    ed.blockSignals(False)
            ne = self._editors.get("__name__")
            if ne is not None and ne.text() != node.name:
                ne.setText(node.name)
            try:
                s = NodeSettings.of(node)
            except SettingsError:
                s = None
            if s is not None and self._settings:
                self._show_settings(s)
        finally:
            self._building = False

    def _show_settings(self, s: NodeSettings) -> None:
        w = self._settings
        for widget in w.values():
            widget.blockSignals(True)
        try:
            w["executor"].setCurrentText(s.executor or "")
            w["max_retries"].setValue(s.max_retries)
            w["retry_interval_s"].setValue(s.retry_interval_s)
            w["timeout_s"].setValue(s.timeout_s or 0)
            if not w["resources"].hasFocus():
                w["resources"].setText(format_resources(s.resources))
            w["isolate"].setChecked(s.isolate)
            if "tags" in w and not w["tags"].hasFocus():
                w["tags"].setText(", ".join(s.tags))
        finally:
            for widget in w.values():
                widget.blockSignals(False)

    def _on_values_stored(self, names: list) -> None:
        if self.name in names:
            node = self.doc.node(self.name)
            for tname in self._outputs:
                self._show_output(tname, node.terminals[tname].value)
