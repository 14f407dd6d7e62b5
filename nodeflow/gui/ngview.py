"""NodeGraphQt subclasses that make it a pure view: ``FlowGraph`` and ``FlowViewer``.

NodeGraphQt's ``NodeGraph`` normally turns what the user does in the viewer
(drag a link, move nodes, drop, Tab search) into changes of its *own* model
with its own undo stack. ``FlowGraph`` wires only the read-only signals
(selection, double-click); the canvas takes the viewer's edit signals
(``connection_changed``, ``connection_sliced``, ``moved_nodes``,
``data_dropped``) and turns them into document edits instead, so the nodeflow
model stays the single truth and there is one undo stack.

``FlowViewer`` adds what the canvas needs from the viewer:

* ``connection_refused(start_port, end_port)`` when a link is dropped on a
  port of the same kind (NodeGraphQt silently restores those);
* ``tab_pressed(QPoint)`` for the node search popup, ``context_menu(QPoint,
  QPointF)`` for our own menu;
* ``frame_rect`` and a fast ``_combined_rect`` — NodeGraphQt's uses an item
  group and takes seconds (quadratic) at 2,000 nodes.
"""
from __future__ import annotations

from NodeGraphQt import NodeGraph
from NodeGraphQt.qgraphics.port import PortItem
from NodeGraphQt.widgets.viewer import NodeViewer
from PySide6 import QtCore, QtGui, QtWidgets


class FlowViewer(NodeViewer):
    connection_refused = QtCore.Signal(object, object)  # start port item, end port item
    tab_pressed = QtCore.Signal(QtCore.QPoint)  # viewport position
    context_menu = QtCore.Signal(QtCore.QPoint, QtCore.QPointF)  # global position, scene position
    zoom_changed = QtCore.Signal(float)  # the view's scale (1.0: one scene unit per pixel)

    def __init__(self, parent=None):
        super().__init__(parent, undo_stack=None)
        self.acyclic = False  # cycles are refused by the document, with a reason
        #: makes the pipe items the viewer draws itself (restoring a link); set by the canvas
        self.pipe_factory = None
        self.setViewportUpdateMode(QtWidgets.QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setOptimizationFlag(QtWidgets.QGraphicsView.OptimizationFlag.DontSavePainterState, True)

    # -- connections ----------------------------------------------------------
    def apply_live_connection(self, event):
        if self._LIVE_PIPE.isVisible() and self._start_port is not None:
            for item in self.scene().items(event.scenePos()):
                if isinstance(item, PortItem):
                    if item is not self._start_port and item.port_type == self._start_port.port_type:
                        self.connection_refused.emit(self._start_port, item)
                    break
        super().apply_live_connection(event)

    def establish_connection(self, start_port, end_port):
        if self.pipe_factory is None:
            return super().establish_connection(start_port, end_port)
        pipe = self.pipe_factory()
        self.scene().addItem(pipe)
        pipe.set_connections(start_port, end_port)
        pipe.draw_path(pipe.input_port, pipe.output_port)

    # -- keys and menus ---------------------------------------------------------
    def event(self, event):
        if (event.type() == QtCore.QEvent.Type.KeyPress and event.key() == QtCore.Qt.Key.Key_Tab
                and not event.modifiers()):
            pos = self.mapFromGlobal(QtGui.QCursor.pos())
            if not self.rect().contains(pos):
                pos = self.rect().center()
            self._previous_pos = pos
            self.tab_pressed.emit(pos)
            return True
        return super().event(event)

    def contextMenuEvent(self, event):
        self.RMB_state = False
        self.context_menu.emit(event.globalPos(), self.mapToScene(event.pos()))

    def _update_scene(self):
        super()._update_scene()
        self.zoom_changed.emit(self.transform().m11())

    # -- framing ----------------------------------------------------------------
    def _combined_rect(self, nodes):
        rect = QtCore.QRectF()
        for n in nodes:
            rect = rect.united(n.sceneBoundingRect())
        return rect

    def frame_rect(self, rect: QtCore.QRectF, max_zoom: float = 1.0) -> None:
        """Show ``rect`` whole, not zoomed in beyond ``max_zoom``."""
        if rect.isNull():
            return
        rect = rect.adjusted(-40, -40, 40, 40)
        vw, vh = max(self.viewport().width(), 1), max(self.viewport().height(), 1)
        scale = min(vw / rect.width(), vh / rect.height(), max_zoom)
        w, h = vw / scale, vh / scale
        c = rect.center()
        self._scene_range = QtCore.QRectF(c.x() - w / 2, c.y() - h / 2, w, h)
        self._update_scene()

    def center_on_point(self, point: QtCore.QPointF) -> None:
        self._scene_range.translate(point - self._scene_range.center())
        self._update_scene()


class FlowGraph(NodeGraph):
    """A NodeGraph whose viewer edits nothing by itself (see the module docstring)."""

    def __init__(self, parent=None):
        super().__init__(parent, viewer=FlowViewer())

    def _wire_signals(self):
        v = self._viewer
        v.node_double_clicked.connect(self._on_node_double_clicked)
        v.node_selected.connect(self._on_node_selected)
        v.node_selection_changed.connect(self._on_node_selection_changed)

    def _on_node_selected(self, node_id):
        node = self.get_node_by_id(node_id)
        if node is not None:
            self.node_selected.emit(node)

    def _on_node_selection_changed(self, sel_ids, desel_ids):
        get = self._model.nodes.get
        sel = [n for n in map(get, sel_ids) if n is not None]
        desel = [n for n in map(get, desel_ids) if n is not None]
        self.node_selection_changed.emit(sel, desel)

    def _on_node_double_clicked(self, node_id):
        node = self.get_node_by_id(node_id)
        if node is not None:
            self.node_double_clicked.emit(node)
