"""The node item: one node of the canvas, drawn by nodeflow (ports and pipes: ``pipes.py``).

This module owns how one node looks in the scene. The items subclass
NodeGraphQt's ``NodeItem``, ``PortItem`` and ``PipeItem`` so that NodeGraphQt's
viewer (live connections, rubber-band selection, moving, pipe highlighting)
works on them unchanged, but they skip what makes NodeGraphQt slow at a few
thousand nodes (stack-notes: "Speed"):

* no child text items, icon pixmaps or on-node widgets: the title, port
  labels, values, run state and duration are painted by the node itself, with
  a level of detail (text is skipped when zoomed far out);
* sizes are computed once from cached font metrics; a node never changes
  size when its values or state change (only ``update()`` is needed);
* pens, brushes and fonts are shared (``style.Paints``); no per-item style
  sheets; Qt caches each node's picture, so a repaint only calls Python for
  the nodes that changed;
* ports have no contents (the node paints them) and ports and pipes use Qt's
  own ``itemChange``/``paint``: no call into Python per port or pipe when the
  scene changes or repaints.

``FlowNode`` is the NodeGraphQt node object (``BaseNode``) around a
``FlowNodeItem``: it gives NodeGraphQt's graph its model entry and ports so
that ``NodeGraph.selected_nodes()`` and friends keep working. The canvas
makes both itself (``Canvas._make_node``), not with ``NodeGraph.create_node``.
"""
from __future__ import annotations

from NodeGraphQt import BaseNode, Port
from NodeGraphQt.constants import Z_VAL_NODE
from NodeGraphQt.qgraphics.node_abstract import AbstractNodeItem
from NodeGraphQt.qgraphics.node_base import NodeItem
from PySide6 import QtCore, QtGui, QtWidgets

from .pipes import IN, OUT, PORT_SIZE, FlowPortItem
from .style import Paints

HEADER_H = 24.0
ROW_H = 22.0
FOOTER_H = 18.0
MIN_W = 160.0
VALUE_ROOM = 96.0  # width kept for values next to port labels

DEVICE_CACHE = QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache
ItemIsSelectable = QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
ItemIsMovable = QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemIsMovable
ItemSendsGeometryChanges = QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
ItemPositionHasChanged = QtWidgets.QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged
ItemSelectedHasChanged = QtWidgets.QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged


class FlowNodeItem(NodeItem):
    """A node drawn in one paint call: header, port labels with values, state footer."""

    def __init__(self, title: str, category: str, paints: Paints, unknown: bool = False, subtitle: str = ""):
        QtWidgets.QGraphicsItem.__init__(self)  # not AbstractNodeItem's: flags, cache and z in one go below
        self.setFlags(ItemIsSelectable | ItemIsMovable | ItemSendsGeometryChanges)
        # Qt keeps a pixmap of the node: a repaint calls our (Python) paint only for nodes that changed
        self.setCacheMode(DEVICE_CACHE)
        self._properties = {"id": None, "name": title, "color": (13, 18, 23, 255), "border_color": (46, 57, 66, 255),
                            "text_color": (255, 255, 255, 180), "type_": "nodeflow.FlowNode", "selected": False,
                            "disabled": False, "visible": True, "layout_direction": 0}
        self._width, self._height = MIN_W, HEADER_H + FOOTER_H
        self._rect = QtCore.QRectF(0.0, 0.0, self._width, self._height)
        self._paints = paints
        self._category = category
        self._unknown = unknown
        self._subtitle = subtitle
        self._input_items = {}
        self._output_items = {}
        self._widgets = {}
        self._proxy_mode = False
        self._proxy_mode_threshold = 70
        self._in_ports: list[FlowPortItem] = []
        self._out_ports: list[FlowPortItem] = []
        self._values: dict[str, str] = {}  # terminal → short text shown beside its label
        self._connected: set[str] = set()  # input terminals with a connection (their own value is not shown)
        self.state: str | None = None
        self.duration: str = ""
        self.note: str = ""  # e.g. an error shown in the footer
        self.marked = False  # highlighted as part of a problem
        self.badge: str = ""  # issue 8: e.g. "×6" — how many instances a list parameter expands it to

    # -- NodeGraphQt hooks made cheap ---------------------------------------
    _text_item = _icon_item = _x_item = None  # NodeItem's child items: not made (painted instead)

    def mouseDoubleClickEvent(self, event):
        if event.button() == QtCore.Qt.MouseButton.LeftButton:
            viewer = self.viewer()
            if viewer is not None:
                viewer.node_double_clicked.emit(self.id)
        QtWidgets.QGraphicsItem.mouseDoubleClickEvent(self, event)

    def post_init(self, viewer=None, pos=None):
        if pos:
            self.setPos(pos[0], pos[1])

    def draw_node(self):
        self.layout()

    def auto_switch_mode(self):
        return

    def set_proxy_mode(self, mode):
        return

    def _set_text_color(self, color):
        return

    def _tooltip_disable(self, state):
        return

    def align_label(self, h_offset=0.0, v_offset=0.0):
        return

    def align_icon(self, h_offset=0.0, v_offset=0.0):
        return

    def align_widgets(self, v_offset=0.0):
        return

    @property
    def text_item(self):
        return None

    @AbstractNodeItem.name.setter
    def name(self, name=""):
        self._properties["name"] = name
        self.update()

    @AbstractNodeItem.layout_direction.setter
    def layout_direction(self, value=0):
        self._properties["layout_direction"] = value

    @AbstractNodeItem.color.setter
    def color(self, color=(100, 100, 100, 255)):
        self._properties["color"] = color

    @AbstractNodeItem.border_color.setter
    def border_color(self, color=(100, 100, 100, 255)):
        self._properties["border_color"] = color

    @AbstractNodeItem.text_color.setter
    def text_color(self, color=(100, 100, 100, 255)):
        self._properties["text_color"] = color

    @AbstractNodeItem.disabled.setter
    def disabled(self, state=False):
        self._properties["disabled"] = state

    @property
    def inputs(self):
        return list(self._in_ports)

    @property
    def outputs(self):
        return list(self._out_ports)

    def add_input(self, name="input", multi_port=False, display_name=True, locked=False, painter_func=None):
        port = FlowPortItem(self, name, IN, multi_port, self._paints)
        self._in_ports.append(port)
        self._input_items[port] = None
        return port

    def add_output(self, name="output", multi_port=True, display_name=True, locked=False, painter_func=None):
        port = FlowPortItem(self, name, OUT, multi_port, self._paints)
        self._out_ports.append(port)
        self._output_items[port] = None
        return port

    def get_input_text_item(self, port_item):
        return None

    def get_output_text_item(self, port_item):
        return None

    # -- layout and painting --------------------------------------------------
    def layout(self) -> None:
        """Size from the title and port labels (never from values); place the ports.

        One row per terminal, inputs first (as Nodeworks draws them), so each
        value has the node's whole width beside its label.
        """
        p = self._paints
        title_w = p.width(0, ("⚠ " if self._unknown else "") + self.name) + 24
        label_w = max((p.width(1, port._name) for port in self._in_ports + self._out_ports), default=0.0)
        sub_w = p.width(2, self._subtitle) + 16 if self._subtitle else 0.0
        width = max(MIN_W, title_w, label_w + VALUE_ROOM + 34, sub_w)
        rows = max(len(self._in_ports) + len(self._out_ports), 1)
        self.prepareGeometryChange()
        self._width = width
        self._height = HEADER_H + rows * ROW_H + FOOTER_H + 2
        self._rect = QtCore.QRectF(-PORT_SIZE / 2, 0.0, self._width + PORT_SIZE, self._height)
        half = PORT_SIZE / 2
        y = HEADER_H + (ROW_H - PORT_SIZE) / 2
        for i, port in enumerate(self._in_ports):
            port.setPos(-half, y + i * ROW_H)
        base = len(self._in_ports)
        for i, port in enumerate(self._out_ports):
            port.setPos(width - half, y + (base + i) * ROW_H)

    def set_values(self, values: dict[str, str], connected: set[str] | None = None) -> None:
        self._values = values
        if connected is not None:
            self._connected = connected
        self.update()

    def set_state(self, state: str | None, duration: str = "", note: str = "") -> None:
        if (state, duration, note) != (self.state, self.duration, self.note):
            self.state, self.duration, self.note = state, duration, note
            self.update()

    def set_marked(self, marked: bool) -> None:
        if marked != self.marked:
            self.marked = marked
            self.update()

    def boundingRect(self):
        return self._rect

    def itemChange(self, change, value):
        if change == ItemPositionHasChanged:
            for port in self._in_ports:
                if port._pipes:
                    port.redraw_connected_pipes()
            for port in self._out_ports:
                if port._pipes:
                    port.redraw_connected_pipes()
        elif change == ItemSelectedHasChanged:
            self.setZValue(Z_VAL_NODE + 1 if value else Z_VAL_NODE)
            for port in self._in_ports + self._out_ports:
                for pipe in port._pipes:
                    pipe.refresh()
        return value

    def _paint_ports(self, painter, lod: float) -> None:
        p = self._paints
        painter.setPen(p.port_pen if lod > 0.3 else QtCore.Qt.PenStyle.NoPen)
        half = PORT_SIZE / 2
        for port in self._in_ports + self._out_ports:
            hovered = port._hovered
            r = 6.0 if hovered else 4.5
            painter.setBrush(p.port_hover if hovered else (p.port_connected if port._pipes else p.port_fill))
            cx, cy = port.x() + half, port.y() + half
            if port._multi_connection and lod > 0.3:
                painter.drawRoundedRect(QtCore.QRectF(cx - r, cy - r, 2 * r, 2 * r), 2.0, 2.0)
            else:
                painter.drawEllipse(QtCore.QPointF(cx, cy), r, r)

    def paint(self, painter, option, widget):
        p = self._paints
        w, h = self._width, self._height
        rect = QtCore.QRectF(0.5, 0.5, w - 1, h - 1)
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        state = self.state
        selected = self.isSelected()
        if self._unknown:
            header = p.unknown_header
        else:
            header = p.header.get(self._category, p.other_header)
        body = p.state_fill.get(state, p.body) if state and state != "pending" else p.body
        if selected:
            pen = p.selected
        elif self.marked:
            pen = p.state_pen["failed"]
        elif state and state != "pending":
            pen = p.state_pen[state]
        elif self._unknown:
            pen = p.unknown_border
        else:
            pen = p.border
        if lod < 0.25:  # far away: a coloured block
            painter.setPen(QtCore.Qt.PenStyle.NoPen if not (selected or self.marked) else pen)
            painter.setBrush(p.state_fill[state] if state and state != "pending" else header)
            painter.drawRect(rect)
            return
        painter.setPen(QtCore.Qt.PenStyle.NoPen)
        painter.setBrush(body)
        painter.drawRoundedRect(rect, 5.0, 5.0)
        painter.setBrush(header)
        head = QtCore.QRectF(rect.left(), rect.top(), rect.width(), HEADER_H)
        painter.drawRoundedRect(head, 5.0, 5.0)
        painter.drawRect(QtCore.QRectF(head.left(), head.top() + HEADER_H / 2, head.width(), HEADER_H / 2))
        if state and state != "pending":
            painter.setBrush(p.state[state])
            painter.drawRect(QtCore.QRectF(rect.left(), HEADER_H - 3, rect.width(), 3))
        painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        painter.setPen(pen)
        painter.drawRoundedRect(rect, 5.0, 5.0)
        self._paint_ports(painter, lod)
        if lod < 0.5:
            return
        painter.setFont(p.title_font)
        painter.setPen(p.title)
        title = ("⚠ " if self._unknown else "") + self.name
        painter.drawText(QtCore.QRectF(8, 0, w - 16, HEADER_H), QtCore.Qt.AlignmentFlag.AlignVCenter
                         | QtCore.Qt.AlignmentFlag.AlignLeft, title)
        if self.badge:
            painter.drawText(QtCore.QRectF(8, 0, w - 16, HEADER_H), QtCore.Qt.AlignmentFlag.AlignVCenter
                             | QtCore.Qt.AlignmentFlag.AlignRight, self.badge)
        painter.setFont(p.label_font)
        vcenter = QtCore.Qt.AlignmentFlag.AlignVCenter
        left, right = QtCore.Qt.AlignmentFlag.AlignLeft, QtCore.Qt.AlignmentFlag.AlignRight
        values = self._values
        metrics = p.label_metrics
        for i, port in enumerate(self._in_ports):
            y = HEADER_H + i * ROW_H
            name = port._name
            painter.setPen(p.text)
            lw = p.width(1, name)
            painter.drawText(QtCore.QRectF(12, y, lw + 2, ROW_H), vcenter | left, name)
            v = values.get(name)
            if v and name not in self._connected:
                room = w - lw - 30
                if room > 12:
                    painter.setPen(p.value)
                    text = metrics.elidedText(v, QtCore.Qt.TextElideMode.ElideRight, room)
                    painter.drawText(QtCore.QRectF(lw + 20, y, room, ROW_H), vcenter | left, text)
        base = len(self._in_ports)
        for i, port in enumerate(self._out_ports):
            y = HEADER_H + (base + i) * ROW_H
            name = port._name
            painter.setPen(p.text)
            lw = p.width(1, name)
            painter.drawText(QtCore.QRectF(w - 14 - lw - 2, y, lw + 2, ROW_H), vcenter | right, name)
            v = values.get(name)
            if v:
                room = w - lw - 30
                if room > 12:
                    painter.setPen(p.value)
                    text = metrics.elidedText(v, QtCore.Qt.TextElideMode.ElideRight, room)
                    painter.drawText(QtCore.QRectF(10, y, room, ROW_H), vcenter | right, text)
        foot = QtCore.QRectF(8, h - FOOTER_H - 1, w - 16, FOOTER_H)
        painter.setFont(p.small_font)
        if state and state != "pending":
            painter.setPen(QtGui.QPen(p.state[state]))
            text = state + (f" · {self.duration}" if self.duration else "")
            painter.drawText(foot, vcenter | QtCore.Qt.AlignmentFlag.AlignLeft, text)
            if self.note:
                painter.setPen(p.dim)
                tw = p.width(2, text) + 10
                note = p.small_metrics.elidedText(self.note, QtCore.Qt.TextElideMode.ElideRight, foot.width() - tw)
                painter.drawText(QtCore.QRectF(foot.left() + tw, foot.top(), foot.width() - tw, FOOTER_H),
                                 vcenter | QtCore.Qt.AlignmentFlag.AlignLeft, note)
        elif self._subtitle:
            painter.setPen(p.dim)
            painter.drawText(foot, vcenter | QtCore.Qt.AlignmentFlag.AlignLeft,
                             p.small_metrics.elidedText(self._subtitle, QtCore.Qt.TextElideMode.ElideRight,
                                                        foot.width()))


class FlowNode(BaseNode):
    """NodeGraphQt's node object for every nodeflow node (one class: terminals come from the model)."""

    __identifier__ = "nodeflow"
    NODE_NAME = "Node"

    def __init__(self, item: FlowNodeItem):
        super().__init__(lambda: item)
        #: the nodeflow uniquename this view shows
        self.uniquename = ""

    def update(self):
        return  # the view is driven by the canvas, not by NodeGraphQt's model dict

    def _add_port(self, name: str, port_type: str, multi: bool, info: str) -> Port:
        view = self.view.add_input(name, multi) if port_type == IN else self.view.add_output(name, multi)
        view.info = info
        port = Port(self, view)
        m = port.model
        m.type_ = port_type
        m.name = name
        m.multi_connection = multi
        if port_type == IN:
            self._inputs.append(port)
            self.model.inputs[name] = m
        else:
            self._outputs.append(port)
            self.model.outputs[name] = m
        return port
