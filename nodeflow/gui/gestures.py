"""What the user does on the canvas, turned into document edits.

NodeGraphQt's viewer reports gestures with its own signals; ``Gestures``
answers them — the canvas never changes the model itself:

* ``connection_changed`` (a link dragged from port to port, or lifted off a
  port) → ``WorkflowDocument.change_connections`` (one undo step); a refused
  link's reason goes to the status bar, and the pipes at the ports involved
  are put back as the model says (the viewer has already half-drawn them);
* ``connection_refused`` (dropped on a port of the same kind) → the reason;
* ``connection_sliced`` → disconnect; ``moved_nodes`` → one move edit;
* ``data_dropped`` → a node from the palette, or open a dropped file;
* Tab (``tab_pressed``) → the search popup; right click → the context menu.
"""
from __future__ import annotations

from PySide6 import QtCore

from .items import FlowNodeItem
from .palette import TabSearchPopup, path_from_mime
from .pipes import OUT


class Gestures(QtCore.QObject):
    def __init__(self, canvas):
        super().__init__(canvas)
        self.canvas = canvas
        self.doc = canvas.doc
        self.viewer = v = canvas.viewer
        self.search = TabSearchPopup(canvas.doc.registry, v)
        self.search.chosen.connect(self._on_search_chosen)
        self._search_pos = QtCore.QPointF()
        v.connection_changed.connect(self._on_connection_changed)
        v.connection_sliced.connect(self._on_connection_sliced)
        v.moved_nodes.connect(self._on_moved)
        v.data_dropped.connect(self._on_dropped)
        v.connection_refused.connect(self._on_refused)
        v.tab_pressed.connect(self.show_search)
        v.context_menu.connect(self._on_context_menu)

    def _ends(self, p1, p2):
        """(source end, target end) as (uniquename, terminal) from two port items, output first."""
        out_p, in_p = (p1, p2) if p1.port_type == OUT else (p2, p1)
        return ((getattr(out_p.node, "uniquename", ""), out_p._name), (getattr(in_p.node, "uniquename", ""), in_p._name),
                out_p.port_type != in_p.port_type)

    def _find_connection(self, src, dst, exclude=()) -> str | None:
        for k, c in self.doc.workflow.connections.items():
            if c.input == src and c.output == dst and k not in exclude:
                return k
        return None

    def _on_connection_changed(self, disconnected: list, connected: list) -> None:
        target = connected[0][1] if connected else None
        remove: list[str] = []
        involved: set[str] = set()
        for p1, p2 in disconnected:
            if target is not None and p1 is target:
                continue  # NodeGraphQt's "replace the link into an occupied input": refused below instead
            src, dst, ok = self._ends(p1, p2)
            involved.update((src[0], dst[0]))
            k = self._find_connection(src, dst, remove)
            if k is not None:
                remove.append(k)
        add = []
        reason = None
        for p1, p2 in connected:
            src, dst, ok = self._ends(p1, p2)
            involved.update((src[0], dst[0]))
            if not ok:
                reason = self.doc.check_connection((p1.node.uniquename, p1._name), (p2.node.uniquename, p2._name))
            add.append((src, dst))
        if reason is None:
            reason = self.doc.change_connections(remove, add)
        if reason:
            self.canvas.status_message.emit(f"Connection refused: {reason}")
        self.canvas._sync_pipes(involved)

    def _on_refused(self, start, end) -> None:
        reason = self.doc.check_connection((start.node.uniquename, start._name), (end.node.uniquename, end._name))
        if reason:
            self.canvas.status_message.emit(f"Connection refused: {reason}")

    def _on_connection_sliced(self, ports: list) -> None:
        remove = []
        for p1, p2 in ports:
            src, dst, _ok = self._ends(p1, p2)
            k = self._find_connection(src, dst, remove)
            if k is not None:
                remove.append(k)
        self.doc.disconnect(remove)

    def _on_moved(self, moved: dict) -> None:
        self.doc.move_nodes({item.uniquename: item.xy_pos for item in moved if hasattr(item, "uniquename")})

    def _on_dropped(self, mime, pos) -> None:
        path = path_from_mime(mime)
        if path is not None:
            self.add_node_at(path, QtCore.QPointF(pos))
            return
        for url in mime.urls() if mime.hasUrls() else ():
            if url.isLocalFile():
                self.canvas.open_requested.emit(url.toLocalFile())
                return

    def _on_context_menu(self, global_pos, scene_pos) -> None:
        name = None
        for item in self.canvas.scene.items(scene_pos):
            if isinstance(item, FlowNodeItem):
                name = item.uniquename
                if not item.isSelected():
                    self.canvas.select([name])
                break
        self.canvas.context_menu_requested.emit(global_pos, scene_pos, name)

    # -- adding nodes ----------------------------------------------------------------
    def add_node_at(self, path, scene_pos: QtCore.QPointF) -> str:
        name = self.doc.add_node(tuple(path), (round(scene_pos.x()), round(scene_pos.y())))
        self.canvas.select([name])
        return name

    def show_search(self, viewport_pos: QtCore.QPoint | None = None) -> None:
        if viewport_pos is None:
            viewport_pos = self.viewer.viewport().rect().center()
        self._search_pos = self.viewer.mapToScene(viewport_pos)
        self.search.popup_at(self.viewer.viewport().mapToGlobal(viewport_pos))

    def _on_search_chosen(self, path) -> None:
        self.add_node_at(path, self._search_pos)
