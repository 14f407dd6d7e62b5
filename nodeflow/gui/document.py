"""The open workflow: the model, its file, its undo stack, and every edit.

``WorkflowDocument`` is the single owner of the ``Workflow`` the window shows
(the truth; NodeGraphQt only draws it). It holds the file path, the modified
state (the undo stack's clean state) and a ``QUndoStack`` of commands that
touch only the model (``commands.py``).

Edits come in through the public methods (``add_node``, ``connect``,
``remove_nodes``, ``move_nodes``, ``set_value`` …), which check them, then push
one command. Commands change the model through the ``_``-prefixed primitives,
one method per kind of change, and each primitive announces its change once
with a Qt signal. The canvas, properties panel and problems dock listen.

Connections are checked here, before they reach the model: wrong direction,
dtype mismatch (``nodeflow.model.validate.dtypes_compatible``), a second link
into a single input, a node linked to itself, and a cycle are refused with a
reason the window shows in its status bar.
"""
from __future__ import annotations

import copy
import json
import os
from collections import deque
from typing import Any, Iterable

import shiboken6
from PySide6 import QtCore, QtGui

from .. import model
from ..model import Connection, Node, Workflow
from ..model.nodeworks import connection_to_dict, from_dict, node_to_dict
from ..model.validate import dtypes_compatible
from ..model.values import json_default
from .commands import ItemsCmd, MoveNodesCmd, SetNameCmd, SetSettingsCmd, SetValueCmd

FRAGMENT_MIME = "application/x-nodeflow-fragment"


def short_dtype(dtype: str) -> str:
    """``"<class 'float'>"`` → ``"float"``; ``"None"`` → ``"any"``."""
    return dtype[8:-2] if dtype.startswith("<class '") and dtype.endswith("'>") else ("any" if dtype == "None"
                                                                                         else dtype)


def unique_name(base: str, taken) -> str:
    """Workflow.unique_name's scheme (``float``, ``float.0`` …) against any set of taken names."""
    base = base.lower()
    if base not in taken:
        return base
    i = 0
    while f"{base}.{i}" in taken:
        i += 1
    return f"{base}.{i}"


def is_drawn(node: Node) -> bool:
    """Hidden nodes (nodeflow's settings node, Nodeworks' hidden flag) are kept but never drawn."""
    return not node.hidden


class WorkflowDocument(QtCore.QObject):
    reset = QtCore.Signal()  # the whole workflow was replaced (new, open, revert)
    nodes_added = QtCore.Signal(list)
    nodes_removed = QtCore.Signal(list)
    connections_added = QtCore.Signal(list)
    connections_removed = QtCore.Signal(list)
    nodes_moved = QtCore.Signal(list)
    node_changed = QtCore.Signal(str)  # value, name or settings of one node
    values_stored = QtCore.Signal(list)  # run results written into output terminals (not an edit)
    changed = QtCore.Signal()  # after every edit (undo/redo included)
    modified_changed = QtCore.Signal(bool)
    path_changed = QtCore.Signal(object)

    def __init__(self, registry, parent=None):
        super().__init__(parent)
        self.registry = registry
        self.workflow = Workflow()
        self.path: str | None = None
        self.undo_stack = QtGui.QUndoStack(self)
        self._forced_dirty = False  # a recovered autosave is modified though its stack is clean
        self.revision = 0  # bumped by every edit (autosave uses it)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)

    def _on_clean_changed(self, clean: bool) -> None:
        if shiboken6.isValid(self.undo_stack):  # not while Qt is tearing the stack down
            self.modified_changed.emit(self._forced_dirty or not clean)

    # -- file ----------------------------------------------------------------
    @property
    def modified(self) -> bool:
        return self._forced_dirty or not self.undo_stack.isClean()

    @property
    def title(self) -> str:
        return os.path.basename(self.path) if self.path else "Untitled"

    def _replace(self, wf: Workflow, path: str | None, dirty: bool = False) -> None:
        self.undo_stack.clear()
        self.workflow = wf
        self.path = path
        self._forced_dirty = dirty
        self.revision += 1
        self.reset.emit()
        self.path_changed.emit(path)
        self.modified_changed.emit(self.modified)

    def new(self) -> None:
        self._replace(Workflow(), None)

    def open(self, path: str) -> None:
        """Load ``path``; raises WorkflowFileError or OSError and leaves the document as it was."""
        wf = model.load(path)
        self._replace(wf, os.path.abspath(path))

    def open_text(self, text: str, path: str | None, *, modified: bool) -> None:
        """Load workflow text (a recovered autosave), shown as ``path``."""
        wf = model.loads(text, path=path)
        self._replace(wf, path, dirty=modified)

    def save(self, path: str | None = None) -> None:
        target = os.path.abspath(path or self.path)
        model.save(self.workflow, target)
        self.path = target
        self._forced_dirty = False
        self.undo_stack.setClean()
        self.path_changed.emit(target)
        self.modified_changed.emit(False)

    def revert(self) -> None:
        if self.path:
            self.open(self.path)

    # -- queries --------------------------------------------------------------
    def node(self, name: str) -> Node | None:
        return self.workflow.nodes.get(name)

    def check_connection(self, src: tuple[str, str], dst: tuple[str, str], removing: Iterable[str] = ()) -> str | None:
        """Why src → dst may not be made (None: it may). ``removing``: connections going away in the same edit."""
        wf = self.workflow
        snode, dnode = wf.nodes.get(src[0]), wf.nodes.get(dst[0])
        if snode is None or dnode is None:
            return f"no node {src[0] if snode is None else dst[0]!r}"
        s, d = snode.terminals.get(src[1]), dnode.terminals.get(dst[1])
        if s is None or d is None:
            return f"no terminal {src[0]}.{src[1]}" if s is None else f"no terminal {dst[0]}.{dst[1]}"
        a, b = f"{src[0]}.{src[1]}", f"{dst[0]}.{dst[1]}"
        if not (s.is_output and d.is_input):
            if s.is_input and d.is_input:
                return f"wrong direction: {a} and {b} are both inputs — connect an output to an input"
            if s.is_output and d.is_output:
                return f"wrong direction: {a} and {b} are both outputs — connect an output to an input"
            return f"wrong direction: a connection runs from an output to an input, not from {a} to {b}"
        if src[0] == dst[0]:
            return f"{src[0]} cannot be connected to itself"
        if not dtypes_compatible(s.dtype, d.dtype):
            return f"type mismatch: {a} gives {short_dtype(s.dtype)} but {b} takes {short_dtype(d.dtype)}"
        removing = set(removing)
        if not d.multiinput:
            for c in wf.connections.values():
                if c.output == tuple(dst) and c.uniquename not in removing:
                    return (f"{b} takes one connection and already has one (from {c.input[0]}.{c.input[1]}); "
                            "drag that one away first")
        path = self._path_between(dst[0], src[0], removing)
        if path is not None:
            return "that would make a cycle: " + " -> ".join([src[0], *path])
        return None

    def _path_between(self, start: str, goal: str, removing: set[str]) -> list[str] | None:
        """Nodes from start to goal following connections downstream, or None."""
        succ: dict[str, list[str]] = {}
        for c in self.workflow.connections.values():
            if c.uniquename not in removing:
                succ.setdefault(c.input[0], []).append(c.output[0])
        parent = {start: None}
        todo = deque([start])
        while todo:
            n = todo.popleft()
            if n == goal:
                path = []
                while n is not None:
                    path.append(n)
                    n = parent[n]
                return path[::-1]
            for m in succ.get(n, ()):
                if m not in parent:
                    parent[m] = n
                    todo.append(m)
        return None

    def fragment(self, names: Iterable[str]) -> dict:
        """Selected nodes and the connections among them, as Nodeworks JSON (for copy/duplicate)."""
        wf = self.workflow
        keep = [n for n in names if n in wf.nodes]
        chosen = set(keep)
        out: dict[str, Any] = {n: node_to_dict(wf.nodes[n]) for n in keep}
        for k, c in wf.connections.items():
            if c.input[0] in chosen and c.output[0] in chosen:
                out[k] = connection_to_dict(c)
        return json.loads(json.dumps(out, default=json_default))  # a deep, plain copy

    # -- edits (each pushes one command) ---------------------------------------
    def add_node(self, path: Iterable[str], pos: tuple[float, float] = (0.0, 0.0)) -> str:
        ntype = self.registry.get(tuple(path))
        if ntype is None:
            raise KeyError(f"unknown node type {'/'.join(path)}")
        node = ntype.create_node(self.workflow, pos)
        self.undo_stack.push(ItemsCmd(self, f"add {node.uniquename}", add_nodes=[node]))
        return node.uniquename

    def paste(self, fragment: dict, offset: tuple[float, float] = (30.0, 30.0)) -> list[str]:
        """Add a copied fragment with new uniquenames; returns the new node names."""
        frag = from_dict(copy.deepcopy(fragment))  # raises WorkflowFileError on a bad fragment
        wf = self.workflow
        taken = set(wf.nodes) | set(wf.connections)
        rename: dict[str, str] = {}
        nodes: list[Node] = []
        for old, node in frag.nodes.items():
            new = unique_name(node.name or node.path[-1], taken)
            taken.add(new)
            rename[old] = new
            node.uniquename, node.stored_uniquename = new, None
            node.pos = [float(node.pos[0]) + offset[0], float(node.pos[1]) + offset[1]]
            nodes.append(node)
        conns: list[Connection] = []
        for c in frag.connections.values():
            new = unique_name(c.name or "connection", taken)
            taken.add(new)
            c.uniquename, c.stored_uniquename = new, None
            c.input = (rename[c.input[0]], c.input[1])
            c.output = (rename[c.output[0]], c.output[1])
            conns.append(c)
        if nodes:
            self.undo_stack.push(ItemsCmd(self, f"paste {len(nodes)} node(s)", add_nodes=nodes,
                                          add_connections=conns))
        return [n.uniquename for n in nodes]

    def remove_nodes(self, names: Iterable[str]) -> None:
        names = [n for n in names if n in self.workflow.nodes]
        if names:
            gone = set(names)
            conns = [k for k, c in self.workflow.connections.items() if c.input[0] in gone or c.output[0] in gone]
            text = f"delete {names[0]}" if len(names) == 1 else f"delete {len(names)} nodes"
            self.undo_stack.push(ItemsCmd(self, text, remove_nodes=names, remove_connections=conns))

    def connect(self, src: tuple[str, str], dst: tuple[str, str]) -> str | None:
        """Make src → dst; returns the reason it was refused, or None."""
        return self.change_connections([], [(src, dst)])

    def disconnect(self, names: Iterable[str]) -> None:
        names = [n for n in names if n in self.workflow.connections]
        if names:
            self.undo_stack.push(ItemsCmd(self, "disconnect", remove_connections=names))

    def change_connections(self, remove: Iterable[str], add: Iterable[tuple[tuple[str, str], tuple[str, str]]]
                           ) -> str | None:
        """Remove some connections and make others as one undo step; nothing changes if any is refused."""
        remove = [n for n in remove if n in self.workflow.connections]
        add = list(add)
        taken = set(self.workflow.nodes) | set(self.workflow.connections)
        made: list[Connection] = []
        for src, dst in add:
            reason = self.check_connection(src, dst, removing=remove)
            if reason is not None:
                return reason
            name = unique_name("connection", taken)
            taken.add(name)
            made.append(Connection(uniquename=name, input=tuple(src), output=tuple(dst)))
        if len(made) > 1:  # the added ones must not clash with one another either
            seen: set = set()
            for c in made:
                term = self.workflow.nodes[c.output[0]].terminals[c.output[1]]
                if c.output in seen and not term.multiinput:
                    return f"{c.output[0]}.{c.output[1]} takes one connection"
                seen.add(c.output)
        if not remove and not made:
            return None
        text = "connect" if made and not remove else ("disconnect" if not made else "reconnect")
        self.undo_stack.push(ItemsCmd(self, text, add_connections=made, remove_connections=remove))
        return None

    def move_nodes(self, new_positions: dict[str, tuple[float, float]]) -> None:
        moves = {}
        for name, pos in new_positions.items():
            node = self.workflow.nodes.get(name)
            if node is None:
                continue
            new = [float(pos[0]), float(pos[1])]
            if [float(node.pos[0]), float(node.pos[1])] != new:
                moves[name] = (list(node.pos), new)
        if moves:
            self.undo_stack.push(MoveNodesCmd(self, moves))

    def set_value(self, name: str, terminal: str, value: Any) -> None:
        term = self.workflow.nodes[name].terminals[terminal]
        if term.value == value and type(term.value) is type(value):
            return
        self.undo_stack.push(SetValueCmd(self, name, terminal, copy.deepcopy(term.value), value))

    def set_name(self, name: str, text: str) -> None:
        node = self.workflow.nodes[name]
        if text and text != node.name:
            self.undo_stack.push(SetNameCmd(self, name, node.name, text))

    def set_settings(self, name: str, settings: dict[str, Any]) -> None:
        """nodeflow's per-node settings; ``settings`` as ``NodeSettings.to_state()`` gives it."""
        node = self.workflow.nodes[name]
        if dict(node.settings) == dict(settings):
            return
        old = copy.deepcopy(node.customState)
        probe = Node(uniquename=name, path=node.path, customState=copy.deepcopy(old))
        probe.set_settings(settings)
        self.undo_stack.push(SetSettingsCmd(self, name, old, probe.customState))

    # -- results (not an edit: no undo step, not "modified") --------------------
    def store_results(self, outputs: dict[str, dict[str, Any]]) -> None:
        """Write computed values into output terminals, as Nodeworks does when it saves."""
        names = []
        for name, outs in outputs.items():
            node = self.workflow.nodes.get(name)
            if node is None:
                continue
            for t, v in outs.items():
                term = node.terminals.get(t)
                if term is not None and term.is_output:
                    term.value = v
            names.append(name)
        if names:
            self.values_stored.emit(names)

    # -- primitives: the only code that changes the model; each announces once ---
    def _edited(self) -> None:
        self.revision += 1
        self.changed.emit()

    def _remove_items(self, node_names: list[str], conn_names: list[str]):
        wf = self.workflow
        node_index = {k: i for i, k in enumerate(wf.nodes)} if node_names else {}
        conn_index = {k: i for i, k in enumerate(wf.connections)} if conn_names else {}
        conns = [(wf.connections.pop(k), conn_index[k]) for k in conn_names if k in wf.connections]
        nodes = [(wf.nodes.pop(k), node_index[k]) for k in node_names if k in wf.nodes]
        wf.forget_name_hints()
        if conns:
            self.connections_removed.emit([c.uniquename for c, _ in conns])
        if nodes:
            self.nodes_removed.emit([n.uniquename for n, _ in nodes])
        self._edited()
        return nodes, conns

    def _insert_items(self, nodes: list[tuple[Node, int | None]], conns: list[tuple[Connection, int | None]]):
        wf = self.workflow
        if nodes:
            wf.nodes = _insert_at(wf.nodes, [(n.uniquename, n, i) for n, i in nodes])
        if conns:
            wf.connections = _insert_at(wf.connections, [(c.uniquename, c, i) for c, i in conns])
        if nodes:
            self.nodes_added.emit([n.uniquename for n, _ in nodes])
        if conns:
            self.connections_added.emit([c.uniquename for c, _ in conns])
        self._edited()

    def _set_positions(self, positions: dict[str, list[float]]) -> None:
        for name, pos in positions.items():
            self.workflow.nodes[name].pos = list(pos)
        self.nodes_moved.emit(list(positions))
        self._edited()

    def _set_value(self, name: str, terminal: str, value: Any) -> None:
        self.workflow.nodes[name].terminals[terminal].value = copy.deepcopy(value)
        self.node_changed.emit(name)
        self._edited()

    def _set_name(self, name: str, text: str) -> None:
        self.workflow.nodes[name].name = text
        self.node_changed.emit(name)
        self._edited()

    def _set_custom_state(self, name: str, state: Any) -> None:
        self.workflow.nodes[name].customState = copy.deepcopy(state)
        self.node_changed.emit(name)
        self._edited()


def _insert_at(d: dict, items: list[tuple[str, Any, int | None]]) -> dict:
    """``d`` with items put back at their old indexes (None: at the end), keeping dict order meaningful."""
    placed = sorted((i, k, v) for k, v, i in items if i is not None)
    if not placed:
        for k, v, _i in items:
            d[k] = v
        return d
    entries = list(d.items())
    for i, k, v in placed:
        entries.insert(min(i, len(entries)), (k, v))
    out = dict(entries)
    for k, v, i in items:
        if i is None:
            out[k] = v
    return out
