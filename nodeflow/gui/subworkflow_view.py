"""Issue 8 in the window: sub-workflows, instance badges, generator-added nodes, File → Import.

``SubworkflowView`` owns:

* **Opening a child**: double-click on a ``nodeflow/Sub-workflow`` node opens
  its child file in the same window (after the usual "save changes?"
  question; ``server:`` references are only reported in the status bar).
* **Choosing a child** (properties panel, ``PropertiesPanel.commit_hook``):
  the ``workflow`` value and the node's terminals (the child's exposed
  inputs/outputs, ``exposed_terminals``) change in one undo step; the node is
  replaced by a copy with the new terminals, keeping connections whose
  terminal still exists.
* **Roll-up**: at run time the child's nodes run as ``PARENT/child-node``;
  the parent node shows their combined state and "k/n done" (failed when one
  failed); its tooltip lists the failing inner nodes with their errors, and
  the failures go into the Log dock's status line.
* **Instance badges**: "×N" on a node a list-valued workflow parameter
  expands to N instances (``params.instance_count``), kept current on edits.
* **Generator-added nodes** (``NODES_ADDED`` events): drawn as run-only
  items (dashed outline, state colour) in a column right of their generator,
  with dashed lines from it; they are not put into the document (the file
  the user saves stays as drawn) and go away when the next run starts or
  another workflow is opened.
* **File → Import Daggy… / Import donut-dagger…**: importer → a new untitled,
  modified document; ``DefinitionError`` in a message box.
"""
from __future__ import annotations

import copy
import os

from PySide6 import QtCore, QtGui, QtWidgets

from ..library.builtins.workflow_nodes import SUBWORKFLOW_PATH
from ..model import Terminal
from .style import STATES

SEP = "/"
FAILED = ("failed",)
STATE_COLOURS = {"succeeded": "#3fa34d", "failed": "#d64545", "running": "#e0a526", "queued": "#7f8fa6",
                 "skipped": "#9a9a9a", "cancelled": "#b0703c"}


class RunOnlyNode(QtWidgets.QGraphicsRectItem):
    """A node a generator added during the run: drawn, not part of the document."""

    W, H = 170.0, 44.0

    def __init__(self, name: str, type_name: str):
        super().__init__(0, 0, self.W, self.H)
        self.name = name
        self.state: str | None = None
        pen = QtGui.QPen(QtGui.QColor("#9aa7b4"), 1.5, QtCore.Qt.PenStyle.DashLine)
        self.setPen(pen)
        self.setBrush(QtGui.QColor(30, 36, 44, 230))
        self.label = QtWidgets.QGraphicsSimpleTextItem(f"{name}\n{type_name} · run only", self)
        self.label.setBrush(QtGui.QColor("#e6e6e6"))
        self.label.setPos(8, 5)
        self.setToolTip(f"{name}: added by a generator during this run (not saved in the file)")
        self.setZValue(5)

    def set_state(self, state: str | None) -> None:
        self.state = state
        colour = QtGui.QColor(STATE_COLOURS.get(state or "", "#9aa7b4"))
        self.setPen(QtGui.QPen(colour, 2.0, QtCore.Qt.PenStyle.DashLine))


class SubworkflowView(QtCore.QObject):
    def __init__(self, window):
        super().__init__(window)
        self.w = window
        self.doc, self.canvas, self.run = window.doc, window.canvas, window.run
        self.run_only: dict[str, RunOnlyNode] = {}
        self._run_only_lines: list[QtWidgets.QGraphicsLineItem] = []
        self._rollup_tips: dict[str, str] = {}
        window.properties.commit_hook = self._commit_hook
        self.canvas.node_activated.connect(self._on_activated)
        self.run.states_changed.connect(self._on_states)
        self.run.events_received.connect(self._on_events)
        self.run.running_changed.connect(lambda on: self.clear_run_only() if on else None)
        self.doc.reset.connect(self.clear_run_only)
        self.doc.reset.connect(self._badges_soon)
        self.doc.changed.connect(self._badges_soon)
        self._badge_timer = QtCore.QTimer(self, singleShot=True, interval=0)
        self._badge_timer.timeout.connect(self.update_badges)
        self._add_import_actions()

    # -- File → Import -------------------------------------------------------------------
    def _add_import_actions(self) -> None:
        w = self.w
        self.act_import_daggy = QtGui.QAction("Import &Daggy…", w)
        self.act_import_daggy.triggered.connect(lambda: self.import_file("daggy"))
        self.act_import_donut = QtGui.QAction("Import d&onut-dagger…", w)
        self.act_import_donut.triggered.connect(lambda: self.import_file("donut"))
        file_menu = w.menuBar().actions()[0].menu()
        before = w.act_settings if w.act_settings in file_menu.actions() else None
        for act in (self.act_import_daggy, self.act_import_donut):
            file_menu.insertAction(before, act) if before is not None else file_menu.addAction(act)
        if before is not None:
            file_menu.insertSeparator(before)

    def import_file(self, kind: str) -> bool:
        from ..importers import DefinitionError
        from ..model.nodeworks import dumps

        title = "Import Daggy DAG" if kind == "daggy" else "Import donut-dagger workflow"
        filt = "Daggy DAG (*.json);;All files (*)" if kind == "daggy" else "donut-dagger (*.yaml *.yml);;All files (*)"
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self.w, title, "", filt)
        if not path:
            return False
        if not self.w.files.maybe_discard():
            return False
        if kind == "daggy":
            from ..importers import daggy as importer
        else:
            from ..importers import donut as importer
        try:
            wf = importer.load(path)
        except (DefinitionError, OSError, ValueError) as e:
            QtWidgets.QMessageBox.critical(self.w, "Cannot import", f"{os.path.basename(path)} cannot be imported:"
                                           f"\n\n{e}")
            return False
        self.doc.open_text(dumps(wf), None, modified=True)
        self.w.show_message(f"Imported {len(wf.nodes)} nodes from {os.path.basename(path)} (not saved yet)")
        return True

    # -- sub-workflows: open, choose the child ---------------------------------------------
    def child_path(self, name: str) -> str | None:
        node = self.doc.node(name)
        if node is None or tuple(node.path) != SUBWORKFLOW_PATH:
            return None
        ref = str(node.terminals["workflow"].value or "")
        if not ref or ref.startswith("server:"):
            return ref or None
        p = os.path.expanduser(ref)
        if not os.path.isabs(p) and self.doc.path:
            p = os.path.join(os.path.dirname(self.doc.path), p)
        return os.path.normpath(p)

    def _on_activated(self, name: str) -> None:
        path = self.child_path(name)
        if path is None:
            node = self.doc.node(name)
            if node is not None and tuple(node.path) == SUBWORKFLOW_PATH:
                self.w.show_message("Choose the child workflow file in the Properties panel first")
            return
        if path.startswith("server:"):
            self.w.show_message(f"{path} lives on the server: pull it to open it here")
            return
        if not os.path.exists(path):
            self.w.show_message(f"The child workflow {path} does not exist")
            return
        QtCore.QTimer.singleShot(0, lambda: self.w.files.open_path(path))  # after the double-click is over

    def _commit_hook(self, name: str, terminal: str, value) -> bool:
        node = self.doc.node(name)
        if node is None or tuple(node.path) != SUBWORKFLOW_PATH or terminal != "workflow":
            return False
        return self.set_child(name, str(value or ""))

    def set_child(self, name: str, ref: str) -> bool:
        """Point sub-workflow node ``name`` at ``ref``; its terminals become the child's exposed ones
        (one undo step). A child that cannot be read only sets the value."""
        from ..engine.subworkflows import SubworkflowError, exposed_terminals, file_resolver
        from .commands import ItemsCmd

        doc = self.doc
        node = doc.node(name)
        if ref and not ref.startswith("server:") and os.path.isabs(ref) and doc.path:
            try:
                ref = os.path.relpath(ref, os.path.dirname(doc.path))  # relative to the parent file
            except ValueError:
                pass
        base = os.path.dirname(doc.path) if doc.path else None
        try:
            ins, outs = exposed_terminals(file_resolver(ref, base)[2]) if ref else ([], [])
        except (SubworkflowError, OSError, ImportError) as e:
            self.w.show_message(f"Child workflow not read: {e}")
            return False  # the plain value change goes ahead
        new = copy.deepcopy(node)
        new.terminals["workflow"].value = ref
        terms = {"workflow": new.terminals["workflow"]}
        for t in ins:
            old = node.terminals.get(t)
            terms[t] = copy.deepcopy(old) if old is not None and old.is_input else \
                Terminal(None, False, {"in": True, "out": False, "showlabel": True, "dtype": "None",
                                       "multiinput": False})
        for t in outs:
            old = node.terminals.get(t)
            terms[t] = copy.deepcopy(old) if old is not None and old.is_output else \
                Terminal(None, False, {"in": False, "out": True, "showlabel": True, "dtype": "None",
                                       "multiinput": False})
        new.terminals = terms
        conns = [c for c in doc.workflow.connections.values() if name in (c.input[0], c.output[0])]
        keep = [c for c in conns if (c.input[0] != name or (c.input[1] in terms and terms[c.input[1]].is_output))
                and (c.output[0] != name or (c.output[1] in terms and terms[c.output[1]].is_input))]
        doc.undo_stack.push(ItemsCmd(doc, f"choose child workflow of {name}", add_nodes=[new],
                                     add_connections=keep, remove_nodes=[name],
                                     remove_connections=[c.uniquename for c in conns]))
        self.canvas.select([name])
        self.w.properties.show_node(name)
        return True

    # -- roll-up of inlined nodes ------------------------------------------------------------
    def rollup(self, parent: str) -> tuple[str | None, str, list[tuple[str, str]]]:
        """(state, "k/n done" text, [(failed inner node, error)]) of a sub-workflow node's inlined nodes."""
        prefix = parent + SEP
        inner = {n: i for n, i in self.run.nodes.items() if n.startswith(prefix)}
        if not inner:
            return None, "", []
        states = [i.state for i in inner.values()]
        done = sum(s == "succeeded" for s in states)
        failed = [(n, (i.error or "").strip().splitlines()[0] if (i.error or "").strip() else "")
                  for n, i in inner.items() if i.state == "failed"]
        if failed:
            state = "failed"
        elif any(s in ("running", "queued") for s in states):
            state = "running"
        elif done == len(states):
            state = "succeeded"
        elif any(s == "cancelled" for s in states):
            state = "cancelled"
        elif all(s in ("skipped", "pending") for s in states):
            state = "skipped" if any(s == "skipped" for s in states) else None
        else:
            state = "running" if self.run.running else "skipped"
        text = f"{done}/{len(states)} done" + (f", {len(failed)} failed" if failed else "")
        return state, text, failed

    def _on_states(self, changed: dict) -> None:
        parents = {n.split(SEP, 1)[0] for n in changed if SEP in n}
        for name in changed:
            item = self.run_only.get(name)
            if item is not None:
                item.set_state(changed[name].state)
        states = {}
        for parent in parents:
            if self.doc.node(parent) is None:
                continue
            state, text, failed = self.rollup(parent)
            states[parent] = (state if state in STATES else None, None, text)
            item = self.canvas.item(parent)
            if item is not None:
                self._rollup_tips.setdefault(parent, item.toolTip())
                tip = f"{parent}: {text}"
                if failed:
                    tip += "\nfailed inside:\n" + "\n".join(f"  {n}: {e}" for n, e in failed)
                item.setToolTip(tip)
            if failed and not self.run.running:
                self.w.show_message(f"{parent}: failed inside — " + ", ".join(n for n, _ in failed))
        if states:
            self.canvas.set_states(states)

    # -- instance badges -----------------------------------------------------------------------
    def _badges_soon(self) -> None:
        self._badge_timer.start()

    def update_badges(self) -> None:
        from ..engine.params import instance_count
        from ..engine.settings import SettingsError, WorkflowSettings

        try:
            params = WorkflowSettings.of(self.doc.workflow).parameters
        except SettingsError:
            params = {}
        for name, node in self.doc.workflow.nodes.items():
            item = self.canvas.item(name)
            if item is None:
                continue
            n = instance_count(node, params) if params else 1
            badge = f"×{n}" if n != 1 else ""
            if badge != item.badge:
                item.badge = badge
                item.setToolTip(f"{name}: expands to {n} instances (list parameters)" if badge else "")
                item.update()

    # -- generator-added nodes -------------------------------------------------------------------
    def _on_events(self, events: list) -> None:
        from ..engine.events import EventKind

        for ev in events:
            if ev.kind is EventKind.NODES_ADDED:
                self.add_run_only(ev.data.get("by"), ev.data.get("nodes") or {}, ev.data.get("connections") or {})

    def add_run_only(self, by: str | None, nodes: dict, connections: dict) -> None:
        scene = self.canvas.scene
        anchor = self.canvas.item(by) if by else None
        if anchor is None and by and SEP in by:
            anchor = self.canvas.item(by.split(SEP, 1)[0])
        base = anchor.sceneBoundingRect() if anchor is not None else QtCore.QRectF(0, 0, 0, 0)
        x0 = base.right() + 60
        y0 = base.top()  # stacked under the ones this generator already added
        taken = len([n for n in self.run_only.values() if n.data(0) == by])
        for k, (name, d) in enumerate(nodes.items()):
            if name in self.run_only:
                continue
            path = d.get("path") or []
            item = RunOnlyNode(name, "/".join(path) if isinstance(path, list) else str(path))
            item.setData(0, by)
            item.setPos(x0, y0 + (taken + k) * (RunOnlyNode.H + 12))
            scene.addItem(item)
            self.run_only[name] = item
            info = self.run.info(name)
            item.set_state(info.state if info is not None else None)
            if anchor is not None:
                a = anchor.sceneBoundingRect()
                line = QtWidgets.QGraphicsLineItem(QtCore.QLineF(QtCore.QPointF(a.right(), a.center().y()),
                                                                 item.sceneBoundingRect().center()))
                line.setPen(QtGui.QPen(QtGui.QColor("#9aa7b4"), 1.0, QtCore.Qt.PenStyle.DotLine))
                line.setZValue(4)
                scene.addItem(line)
                self._run_only_lines.append(line)

    def clear_run_only(self) -> None:
        scene = self.canvas.scene
        for item in list(self.run_only.values()) + self._run_only_lines:
            if item.scene() is scene:
                scene.removeItem(item)
        self.run_only.clear()
        self._run_only_lines.clear()
        for name, tip in self._rollup_tips.items():
            item = self.canvas.item(name)
            if item is not None:
                item.setToolTip(tip)
        self._rollup_tips.clear()
