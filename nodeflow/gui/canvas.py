"""The canvas: NodeGraphQt drawing the document's workflow, kept in step by uniquename.

``Canvas`` owns the NodeGraphQt graph and its viewer and nothing else: it
never changes the model. It listens to the document's announcements and
updates the items (``items.py``, ``pipes.py``, ``overview.py``), shows run
states and highlights problems.

What the user does in the viewer becomes document edits in ``gestures.py``.

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
from .document import WorkflowDocument, is_drawn, short_dtype
from .gestures import Gestures
from .items import FlowNode, FlowNodeItem
from .overview import FarZoom
from .pipes import IN, OUT, FlowPipeItem
from .ngview import FlowGraph
from .style import DARK, CanvasStyle, Paints, format_duration, short_value



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
        self._paints = Paints(style)
        self._apply_scene_style()
        self._nodes: dict[str, FlowNode] = {}
        self._pipes: dict[str, FlowPipeItem] = {}
        self._states: dict[str, tuple] = {}  # name -> (state, duration text, note) while a run is shown
        self._marked: set[str] = set()
        self._selection_pending = False
        self._selected_before: set[str] = set()
        self.overview = FarZoom(self)
        self.gestures = Gestures(self)
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
        self._paints = Paints(style)
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
                fnode._add_port(tname, IN, many, f"{tname}: {short_dtype(term.dtype)} input ({kind})")
            elif term.is_output:
                fnode._add_port(tname, OUT, True, f"{tname}: {short_dtype(term.dtype)} output")
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
        if self.overview.on:
            pipe.setVisible(False)
            self.overview.links_changed()
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
        self.overview.clear()
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
        self._selected_before = set()

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
        self.overview.rebuilt()
        self.frame_all()
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
        self.overview.nodes_added_or_removed()

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
        self.overview.nodes_added_or_removed()

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
        if self.overview.on:
            self.overview.links_changed()
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
        self.overview.moved()
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

    # -- adding nodes (the gestures are in gestures.py) ------------------------------------
    def add_node_at(self, path, scene_pos: QtCore.QPointF) -> str:
        return self.gestures.add_node_at(path, scene_pos)

    def show_search(self, viewport_pos: QtCore.QPoint | None = None) -> None:
        self.gestures.show_search(viewport_pos)

    @property
    def _search(self):
        return self.gestures.search

    # -- selection and framing ---------------------------------------------------------
    def _on_scene_selection(self) -> None:
        if not self._selection_pending:
            self._selection_pending = True
            QtCore.QTimer.singleShot(0, self._emit_selection)

    def _emit_selection(self) -> None:
        self._selection_pending = False
        names = self.selected_names()
        self.overview.nodes_changed(set(names) ^ self._selected_before)
        self._selected_before = set(names)
        self.selection_changed.emit(names)

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

    # -- far zoom (overview.py) -----------------------------------------------------------------
    @property
    def overview_on(self) -> bool:
        return self.overview.on

    def set_overview(self, on: bool) -> None:
        self.overview.set_on(on)

    # -- run state and problems ------------------------------------------------------------
    def set_states(self, states: dict[str, tuple]) -> None:
        """name → (state, duration seconds or None, note): colour and footer of each node."""
        for name, (state, seconds, note) in states.items():
            self._states[name] = (state, seconds, note)
            item = self.item(name)
            if item is not None:
                item.set_state(state, format_duration(seconds), note or "")
        self.overview.nodes_changed(states)

    def clear_states(self) -> None:
        names = list(self._states)
        for name in names:
            item = self.item(name)
            if item is not None:
                item.set_state(None)
        self._states.clear()
        self.overview.nodes_changed(names)

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
        changed = self._marked ^ names
        self._marked = names
        self.overview.nodes_changed(changed)
        wf = self.doc.workflow
        for k, pipe in self._pipes.items():
            c = wf.connections.get(k)
            pipe.set_marked(c is not None and c.input[0] in names and c.output[0] in names)
