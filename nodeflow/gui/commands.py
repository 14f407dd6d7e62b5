"""Undo commands: each one changes the workflow model only, through the document.

A command never touches a view. It calls one of the document's primitive
changes (``_insert_items``, ``_remove_items``, ``_set_positions``,
``_set_value``, ``_set_name``, ``_set_settings``), and the document announces
the change once; the canvas and panels listen (orange-canvas-core style).

``ItemsCmd`` covers every structural edit: it removes some connections and
nodes and adds others, so adding a node, pasting, deleting, connecting,
disconnecting and re-routing a link are all one command (one undo step).
Removed objects are put back at their old places in the model's dicts on undo,
so an undone delete gives back the same file, byte for byte.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from PySide6 import QtGui

from ..model import Connection, Node

if TYPE_CHECKING:  # pragma: no cover
    from .document import WorkflowDocument

_MERGE_WINDOW_S = 1.5  # successive edits of one value within this time are one undo step


class ItemsCmd(QtGui.QUndoCommand):
    """Remove connections/nodes, then add nodes/connections — one undo step."""

    def __init__(self, doc: "WorkflowDocument", text: str, *, add_nodes: list[Node] = (),
                 add_connections: list[Connection] = (), remove_nodes: list[str] = (),
                 remove_connections: list[str] = ()):
        super().__init__(text)
        self.doc = doc
        self.add_nodes = list(add_nodes)
        self.add_connections = list(add_connections)
        self.remove_node_names = list(remove_nodes)
        self.remove_connection_names = list(remove_connections)
        self._removed: tuple | None = None  # (nodes with index, connections with index), filled by redo

    def redo(self):
        doc = self.doc
        self._removed = doc._remove_items(self.remove_node_names, self.remove_connection_names)
        doc._insert_items([(n, None) for n in self.add_nodes], [(c, None) for c in self.add_connections])

    def undo(self):
        doc = self.doc
        doc._remove_items([n.uniquename for n in self.add_nodes], [c.uniquename for c in self.add_connections])
        nodes, conns = self._removed
        doc._insert_items(nodes, conns)


class MoveNodesCmd(QtGui.QUndoCommand):
    def __init__(self, doc: "WorkflowDocument", moves: dict[str, tuple[list[float], list[float]]]):
        super().__init__("move " + (next(iter(moves)) if len(moves) == 1 else f"{len(moves)} nodes"))
        self.doc = doc
        self.moves = moves  # name -> (old, new)

    def redo(self):
        self.doc._set_positions({n: new for n, (old, new) in self.moves.items()})

    def undo(self):
        self.doc._set_positions({n: old for n, (old, new) in self.moves.items()})


class SetValueCmd(QtGui.QUndoCommand):
    """A terminal's value; quick successive edits of the same terminal merge."""

    ID = 1001

    def __init__(self, doc: "WorkflowDocument", node: str, terminal: str, old: Any, new: Any):
        super().__init__(f"set {node}.{terminal}")
        self.doc, self.node, self.terminal, self.old, self.new = doc, node, terminal, old, new
        self.stamp = time.monotonic()

    def id(self):
        return self.ID

    def mergeWith(self, other):
        if (isinstance(other, SetValueCmd) and (other.node, other.terminal) == (self.node, self.terminal)
                and other.stamp - self.stamp < _MERGE_WINDOW_S):
            self.new = other.new
            self.stamp = other.stamp
            return True
        return False

    def redo(self):
        self.doc._set_value(self.node, self.terminal, self.new)

    def undo(self):
        self.doc._set_value(self.node, self.terminal, self.old)


class SetNameCmd(QtGui.QUndoCommand):
    def __init__(self, doc: "WorkflowDocument", node: str, old: str, new: str):
        super().__init__(f"rename {node}")
        self.doc, self.node, self.old, self.new = doc, node, old, new

    def redo(self):
        self.doc._set_name(self.node, self.new)

    def undo(self):
        self.doc._set_name(self.node, self.old)


class SetSettingsCmd(QtGui.QUndoCommand):
    """nodeflow's per-node settings (customState["nodeflow"])."""

    def __init__(self, doc: "WorkflowDocument", node: str, old: Any, new: dict):
        super().__init__(f"settings of {node}")
        self.doc, self.node, self.old, self.new = doc, node, old, new

    def redo(self):
        self.doc._set_custom_state(self.node, self.new)

    def undo(self):
        self.doc._set_custom_state(self.node, self.old)
