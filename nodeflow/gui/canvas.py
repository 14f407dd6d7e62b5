"""The canvas: NodeGraphQt drawing the document's workflow, kept in step by uniquename.

``Canvas`` owns the NodeGraphQt graph and its viewer and nothing else: it
never changes the model. It listens to the document's announcements and
updates the items (``items.py``); it turns what the user does in the viewer
(drag a link, slice links, move nodes, drop from the palette, Tab search)
into document edits, and shows a refused edit's reason through
``status_message``.

Views are mapped to model objects by uniquename (NodeGraphQt's ids change on
every load): every ``FlowNode`` and its item carry ``uniquename``, every pipe
carries its connection's uniquename (``conn``).

Opening a big file is fast because ``rebuild`` makes the items directly
(``_make_node``) instead of ``NodeGraph.create_node``/``deserialize_session``:
no unique-name scan per node, no property widgets, no undo commands, ports and
pipes made without NodeGraphQt's per-item set-up. Closing a file deletes the
C++ items at once (``QGraphicsScene.clear``) so nothing leaks across reopens.
"""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from ..model import Node
from .document import WorkflowDocument, is_drawn
from .items import (DARK, IN, OUT, CanvasStyle, FlowNode, FlowNodeItem, FlowPipeItem, OverviewItem,
                    format_duration, paints_for, short_value)

#: below this zoom, a workflow with at least OVERVIEW_MIN_NODES nodes is drawn as an overview (items.OverviewItem)
OVERVIEW_ZOOM = 0.3
OVERVIEW_MIN_NODES = 150
from .ngview import FlowGraph
from .palette import NODE_MIME, TabSearchPopup, path_from_mime


def _short_dtype(dtype: str) -> str:
    return dtype[8:-2] if dtype.startswith("<class '") and dtype.endswith("'>") else ("any" if dtype == "None"
                                                                                         else dtype)


class Canvas(QtCore.QObject):
    selection_changed = QtCore.Signal(list)  # uniquenames of the selected nodes
    node_activated = QtCore.Signal(str)  # double-clicked node
    status_message = QtCore.Signal(str)  # e.g. why a connection was refused
    open_requested = QtCore.Signal(str)  # a workflow file dropped on the canvas
    context_menu_requested = QtCore.Signal(QtCore.QPoint, QtCore.QPointF, object)  # global, scene, node or None

    def __init__(self, document: WorkflowDocument, style: CanvasStyle = DARK, parent=None):
        super().__init__(parent)
        from . import qtsetup

        qtsetup.apply()
        self.doc = document
        self.graph = FlowGraph()
        self.graph.register_node(FlowNode)
        self.viewer = self.graph.viewer()
        self.scene = self.graph.scene()
        self.viewer.pipe_factory = self._new_pipe
        self.style = style
        self._paints = paints_for(style)
        self._apply_scene_style()
        self._nodes: dict[str, FlowNode] = {}
        self._pipes: dict[str, FlowPipeItem] = {}
        self._states: dict[str, tuple] = {}  # name -> (state, duration text, note) while a run is shown
        self._marked: set[str] = set()
        self._selection_pending = False
        self._overview: OverviewItem | None = None
        self._overview_on = False
        self._overview_moved = False
        self._search = TabSearchPopup(document.registry, self.viewer)
        self._search.chosen.connect(self._on_search_chosen)
        self._search_pos = QtCore.QPointF()

        v = self.viewer
        v.connection_changed.connect(self._on_connection_changed)
        v.connection_sliced.connect(self._on_connection_sliced)
        v.moved_nodes.connect(self._on_moved)
        v.data_dropped.connect(self._on_dropped)
        v.connection_refused.connect(self._on_refused)
        v.tab_pressed.connect(self.show_search)
        v.context_menu.connect(self._on_context_menu)
        v.zoom_changed.connect(self._on_zoom)
        self.graph.node_double_clicked.connect(lambda n: self.node_activated.emit(getattr(n, "uniquename", "")))
        self.scene.selectionChanged.connect(self._on_scene_selection)

        d = document
        d.reset.connect(self.rebuild)
        d.nodes_added.connect(self._on_nodes_added)
        d.nodes_removed.connect(self._on_nodes_removed)
        d.connections_added.connect(self._on_connections_added)
        d.connections_removed.connect(self._on_connections_removed)
        d.nodes_moved.connect(self._on_nodes_moved)
        d.node_changed.connect(self.refresh_node)
        d.values_stored.connect(self._on_values_stored)

    @property
    def widget(self) -> QtWidgets.QWidget:
        return self.graph.widget

    # -- style ----------------------------------------------------------------
    def _apply_scene_style(self) -> None:
        s = self.style
        self.graph.set_background_color(*s.background)
        self.graph.set_grid_color(*s.grid)

    def set_style(self, style: CanvasStyle) -> None:
        self.style = style
        self._paints = paints_for(style)
        self._apply_scene_style()
        self.rebuild()

    # -- building views ---------------------------------------------------------
    def _new_pipe(self) -> FlowPipeItem:
        return FlowPipeItem(self._paints)

    def _make_node(self, node: Node) -> FlowNode:
        ntype = self.doc.registry.get(node.path)
        unknown = ntype is None
        title = node.name or node.uniquename
        subtitle = (f"unknown type {node.type_name} · {node.uniquename}" if unknown else node.uniquename)
        item = FlowNodeItem(title, node.path[0] if node.path else "", self._paints, unknown, subtitle)
        item.setPos(float(node.pos[0]), float(node.pos[1]))
        fnode = FlowNode(item)
        item._properties["name"] = title
        fnode.model.name = title
        fnode.uniquename = item.uniquename = node.uniquename
        fnode._graph = self.graph
        fnode.model._graph_model = self.graph.model
        for tname, term in node.terminals.items():
            many = term.multiinput
            kind = "several links" if many else "one link"
            if term.is_input:
                fnode._add_port(tname, IN, many, f"{tname}: {_short_dtype(term.dtype)} input ({kind})")
            elif term.is_output:
                fnode._add_port(tname, OUT, True, f"{tname}: {_short_dtype(term.dtype)} output")
        item.layout()
        if unknown:
            item.setToolTip(f"{node.uniquename}: node type {node.type_name!r} is not installed; "
                            "it is kept as it is and saved back unchanged")
        self.graph.model.nodes[fnode.id] = fnode
        self._nodes[node.uniquename] = fnode
        return fnode

    def _make_pipe(self, conn_name: str) -> FlowPipeItem | None:
        c = self.doc.workflow.connections.get(conn_name)
        if c is None:
            return None
        src, dst = self._nodes.get(c.input[0]), self._nodes.get(c.output[0])
        if src is None or dst is None:
            return None  # an end is hidden (or the file is broken): nothing to draw
        out_port = next((p for p in src.view._out_ports if p._name == c.input[1]), None)
        in_port = next((p for p in dst.view._in_ports if p._name == c.output[1]), None)
        if out_port is None or in_port is None:
            return None  # e.g. a connection from an input terminal: validation reports it
        pipe = FlowPipeItem(self._paints)
        pipe.conn = conn_name
        pipe._input_port, pipe._output_port = in_port, out_port
        in_port._pipes.append(pipe)
        out_port._pipes.append(pipe)
        self.scene.addItem(pipe)
        pipe.draw_path(in_port, out_port)
        in_port.update()
        out_port.update()
        om = src.model.outputs.get(c.input[1])
        im = dst.model.inputs.get(c.output[1])
        if om is not None and im is not None:
            om.connected_ports[dst.id].append(c.output[1])
            im.connected_ports[src.id].append(c.input[1])
        if c.input[0] in self._marked and c.output[0] in self._marked:
            pipe.set_marked(True)
        self._pipes[conn_name] = pipe
        return pipe

    def _clear(self) -> None:
        """Delete every view item now (C++ side), keeping the viewer's own helper items.

        The Python side is unlinked by hand (ports ↔ pipes ↔ node objects form
        reference cycles), so it is freed at once instead of by a full garbage
        collection, which takes longer than the whole rebuild at this size.
        """
        for fnode in self._nodes.values():
            item = fnode.view
            for port in item._in_ports + item._out_ports:
                for pipe in port._pipes:
                    pipe._input_port = pipe._output_port = None
                port._pipes = []
            item._in_ports, item._out_ports = [], []
            item._input_items, item._output_items = {}, {}
            fnode._inputs, fnode._outputs = [], []
            fnode.model.inputs, fnode.model.outputs = {}, {}
            fnode._graph = None
        for pipe in self._pipes.values():
            pipe._input_port = pipe._output_port = None
        if self._overview is not None:
            self._overview.items = []
        self._overview, self._overview_on = None, False
        v = self.viewer
        keep = [v._LIVE_PIPE, v._SLICER_PIPE, v._cursor_text]
        for item in keep:
            if item.scene() is self.scene:
                self.scene.removeItem(item)
        self.scene.clear()
        for item in keep:
            self.scene.addItem(item)
        self.graph.model.nodes.clear()
        self.graph.undo_stack().clear()
        self._nodes.clear()
        self._pipes.clear()
        self._states.clear()
        self._marked.clear()

    def rebuild(self) -> None:
        """Draw the whole document afresh (open, new, revert)."""
        self._clear()
        wf = self.doc.workflow
        self.scene.blockSignals(True)
        try:
            for node in wf.nodes.values():
                if is_drawn(node):
                    self._make_node(node)
            for name in wf.connections:
                self._make_pipe(name)
            connected: dict[str, set[str]] = {}
            for c in wf.connections.values():
                connected.setdefault(c.output[0], set()).add(c.output[1])
            for name, fnode in self._nodes.items():
                fnode.view.set_values(self._values_of(wf.nodes[name]), connected.get(name, set()))
                self.scene.addItem(fnode.view)
        finally:
            self.scene.blockSignals(False)
        self._overview = OverviewItem(self._paints)
        self._overview.setVisible(False)
        self.scene.addItem(self._overview)
        self.frame_all()
        self._on_zoom(self.viewer.transform().m11())
        self.selection_changed.emit([])

    def _values_of(self, node: Node) -> dict[str, str]:
        vals = {}
        for t, term in node.terminals.items():
            if term.value is not None:
                s = short_value(term.value)
                if s:
                    vals[t] = s
        return vals

    def _on_values_stored(self, names: list) -> None:
        """Run results arrived: new values on the nodes (nothing else about them changed)."""
        nodes = self.doc.workflow.nodes
        for name in names:
            fnode = self._nodes.get(name)
            node = nodes.get(name)
            if fnode is not None and node is not None:
                fnode.view.set_values(self._values_of(node))

    def refresh_node(self, name: str) -> None:
        fnode = self._nodes.get(name)
        node = self.doc.workflow.nodes.get(name)
        if fnode is None or node is None:
            return
        item = fnode.view
        title = node.name or node.uniquename
        if title != item.name:
            item._properties["name"] = title
            item.layout()
            for port in item._in_ports + item._out_ports:
                port.redraw_connected_pipes()
        connected = {c.output[1] for c in self.doc.workflow.connections.values() if c.output[0] == name}
        item.set_values(self._values_of(node), connected)

    # -- document announcements -------------------------------------------------
    def _on_nodes_added(self, names: list) -> None:
        wf = self.doc.workflow
        for name in names:
            node = wf.nodes[name]
            if is_drawn(node) and name not in self._nodes:
                fnode = self._make_node(node)
                fnode.view.set_values(self._values_of(node), set())
                self.scene.addItem(fnode.view)

    def _on_nodes_removed(self, names: list) -> None:
        for name in names:
            fnode = self._nodes.pop(name, None)
            if fnode is None:
                continue
            item = fnode.view
            for port in item._in_ports + item._out_ports:
                for pipe in list(port._pipes):
                    pipe.delete()
                    self._pipes.pop(getattr(pipe, "conn", ""), None)
            self.graph.model.nodes.pop(fnode.id, None)
            self._states.pop(name, None)
            if item.scene() is not None:
                self.scene.removeItem(item)

    def _on_connections_added(self, names: list) -> None:
        touched = set()
        for name in names:
            old = self._pipes.pop(name, None)
            if old is not None:
                old.delete()
            if self._make_pipe(name) is not None:
                c = self.doc.workflow.connections[name]
                touched.add(c.output[0])
        for n in touched:
            self.refresh_node(n)

    def _on_connections_removed(self, names: list) -> None:
        for name in names:
            pipe = self._pipes.pop(name, None)
            if pipe is None:
                continue
            in_port, out_port = pipe._input_port, pipe._output_port
            pipe.delete()
            if in_port is not None and out_port is not None:
                src, dst = out_port.node, in_port.node
                for model_port, other, tname in ((self._port_model(src, out_port), dst, in_port._name),
                                                 (self._port_model(dst, in_port), src, out_port._name)):
                    if model_port is not None and other is not None:
                        lst = model_port.connected_ports.get(self._id_of(other))
                        if lst and tname in lst:
                            lst.remove(tname)
                if dst is not None:
                    self.refresh_node(getattr(dst, "uniquename", ""))

    def _id_of(self, item) -> str | None:
        fnode = self._nodes.get(getattr(item, "uniquename", ""))
        return fnode.id if fnode is not None else None

    def _port_model(self, item, port):
        fnode = self._nodes.get(getattr(item, "uniquename", ""))
        if fnode is None:
            return None
        return (fnode.model.inputs if port.port_type == IN else fnode.model.outputs).get(port._name)

    def _on_nodes_moved(self, names: list) -> None:
        self._overview_moved = True
        QtCore.QTimer.singleShot(0, self._refresh_overview_rects)
        wf = self.doc.workflow
        for name in names:
            fnode = self._nodes.get(name)
            if fnode is not None:
                x, y = wf.nodes[name].pos
                if (fnode.view.x(), fnode.view.y()) != (float(x), float(y)):
                    fnode.view.setPos(float(x), float(y))

    def _sync_pipes(self, names) -> None:
        """Make the pipes at these nodes match the model (after a gesture the viewer half-drew)."""
        wf = self.doc.workflow
        for name in names:
            fnode = self._nodes.get(name)
            if fnode is None:
                continue
            for port in fnode.view._in_ports + fnode.view._out_ports:
                for pipe in list(port._pipes):
                    conn = getattr(pipe, "conn", "")
                    if not conn or self._pipes.get(conn) is not pipe or conn not in wf.connections:
                        pipe.delete()
            for c in wf.connections.values():
                if name in (c.input[0], c.output[0]):
                    pipe = self._pipes.get(c.uniquename)
                    if pipe is None or pipe.scene() is None or pipe not in pipe._input_port._pipes:
                        if pipe is not None:
                            pipe.delete()
                            del self._pipes[c.uniquename]
                        self._make_pipe(c.uniquename)
            self.refresh_node(name)

    # -- viewer gestures → document edits ------------------------------------------
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
            self.status_message.emit(f"Connection refused: {reason}")
        self._sync_pipes(involved)

    def _on_refused(self, start, end) -> None:
        reason = self.doc.check_connection((start.node.uniquename, start._name), (end.node.uniquename, end._name))
        if reason:
            self.status_message.emit(f"Connection refused: {reason}")

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
                self.open_requested.emit(url.toLocalFile())
                return

    def _on_context_menu(self, global_pos, scene_pos) -> None:
        name = None
        for item in self.scene.items(scene_pos):
            if isinstance(item, FlowNodeItem):
                name = item.uniquename
                if not item.isSelected():
                    self.select([name])
                break
        self.context_menu_requested.emit(global_pos, scene_pos, name)

    # -- adding nodes --------------------------------------------------------------
    def add_node_at(self, path, scene_pos: QtCore.QPointF) -> str:
        name = self.doc.add_node(tuple(path), (round(scene_pos.x()), round(scene_pos.y())))
        self.select([name])
        return name

    def show_search(self, viewport_pos: QtCore.QPoint | None = None) -> None:
        if viewport_pos is None:
            viewport_pos = self.viewer.viewport().rect().center()
        self._search_pos = self.viewer.mapToScene(viewport_pos)
        self._search.popup_at(self.viewer.viewport().mapToGlobal(viewport_pos))

    def _on_search_chosen(self, path) -> None:
        self.add_node_at(path, self._search_pos)

    # -- selection and framing ---------------------------------------------------------
    def _on_scene_selection(self) -> None:
        if not self._selection_pending:
            self._selection_pending = True
            QtCore.QTimer.singleShot(0, self._emit_selection)

    def _emit_selection(self) -> None:
        self._selection_pending = False
        self.selection_changed.emit(self.selected_names())

    def selected_names(self) -> list[str]:
        return [i.uniquename for i in self.scene.selectedItems() if isinstance(i, FlowNodeItem)]

    def select(self, names) -> None:
        names = set(names)
        self.scene.clearSelection()
        for n in names:
            fnode = self._nodes.get(n)
            if fnode is not None:
                fnode.view.setSelected(True)

    def select_all(self) -> None:
        for fnode in self._nodes.values():
            fnode.view.setSelected(True)

    def item(self, name: str) -> FlowNodeItem | None:
        fnode = self._nodes.get(name)
        return fnode.view if fnode is not None else None

    def node_names(self) -> list[str]:
        return list(self._nodes)

    def pipe_names(self) -> list[str]:
        return list(self._pipes)

    def pipe(self, conn: str) -> FlowPipeItem | None:
        return self._pipes.get(conn)

    def center_on(self, name: str) -> None:
        item = self.item(name)
        if item is not None:
            self.viewer.center_on_point(item.sceneBoundingRect().center())

    def frame_all(self) -> None:
        self.viewer.frame_rect(self._rect_of(f.view for f in self._nodes.values()))

    def frame_selection(self) -> None:
        sel = [i for i in self.scene.selectedItems() if isinstance(i, FlowNodeItem)]
        if sel:
            self.viewer.frame_rect(self._rect_of(sel))
        else:
            self.frame_all()

    @staticmethod
    def _rect_of(items) -> QtCore.QRectF:
        rect = QtCore.QRectF()
        for it in items:
            rect = rect.united(it.sceneBoundingRect())
        return rect

    def scene_center(self) -> QtCore.QPointF:
        return self.viewer.mapToScene(self.viewer.viewport().rect().center())

    # -- overview (far zoom) ----------------------------------------------------------------
    def _on_zoom(self, scale: float) -> None:
        want = scale < OVERVIEW_ZOOM and len(self._nodes) >= OVERVIEW_MIN_NODES
        if want != self._overview_on:
            self.set_overview(want)

    def set_overview(self, on: bool) -> None:
        """Draw nodes as blocks in one item (on) or each by itself (off); nodes stay selectable."""
        if self._overview is None:
            return
        self._overview_on = on
        items = [f.view for f in self._nodes.values()]
        for it in items:
            it.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemHasNoContents, on)
        if on:
            self._overview.set_items(items)
        self._overview.setVisible(on)
        if not on:
            for it in items:
                it.update()

    def _refresh_overview_rects(self) -> None:
        if self._overview_on and self._overview is not None and self._overview_moved:
            self._overview.refresh_rects()
        self._overview_moved = False

    @property
    def overview_on(self) -> bool:
        return self._overview_on

    def _overview_changed(self) -> None:
        if self._overview_on and self._overview is not None:
            self._overview.update()

    # -- run state and problems ------------------------------------------------------------
    def set_states(self, states: dict[str, tuple]) -> None:
        """name → (state, duration seconds or None, note): colour and footer of each node."""
        for name, (state, seconds, note) in states.items():
            self._states[name] = (state, seconds, note)
            item = self.item(name)
            if item is not None:
                item.set_state(state, format_duration(seconds), note or "")
        self._overview_changed()

    def clear_states(self) -> None:
        for name in list(self._states):
            item = self.item(name)
            if item is not None:
                item.set_state(None)
        self._states.clear()

    def state_of(self, name: str) -> str | None:
        st = self._states.get(name)
        return st[0] if st else None

    def mark(self, names) -> None:
        """Highlight these nodes and the links among them (cycle members); empty clears."""
        names = set(names)
        for n in self._marked - names:
            item = self.item(n)
            if item is not None:
                item.set_marked(False)
        for n in names:
            item = self.item(n)
            if item is not None:
                item.set_marked(True)
        self._marked = names
        wf = self.doc.workflow
        for k, pipe in self._pipes.items():
            c = wf.connections.get(k)
            pipe.set_marked(c is not None and c.input[0] in names and c.output[0] in names)
