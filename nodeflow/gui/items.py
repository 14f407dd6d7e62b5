"""Fast graphics items for the canvas: nodes, ports and pipes drawn by nodeflow.

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
* pens, brushes and fonts are shared; no per-item style sheets, tooltips or
  item caches.

``FlowNode`` is the NodeGraphQt node object (``BaseNode``) around a
``FlowNodeItem``: it gives NodeGraphQt's graph its model entry and ports so
that ``NodeGraph.selected_nodes()`` and friends keep working. The canvas
builds both through ``build_node`` without NodeGraphQt's ``create_node``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from NodeGraphQt import BaseNode, Port
from NodeGraphQt.constants import PortTypeEnum, Z_VAL_NODE, Z_VAL_PIPE
from NodeGraphQt.qgraphics.node_base import NodeItem
from NodeGraphQt.qgraphics.node_abstract import AbstractNodeItem
from NodeGraphQt.qgraphics.pipe import PipeItem
from NodeGraphQt.qgraphics.port import PortItem
from PySide6 import QtCore, QtGui, QtWidgets

IN = PortTypeEnum.IN.value
OUT = PortTypeEnum.OUT.value

HEADER_H = 24.0
ROW_H = 22.0
FOOTER_H = 18.0
PORT_SIZE = 16.0
MIN_W = 160.0
VALUE_ROOM = 96.0  # width kept for values next to port labels

DEVICE_CACHE = QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache
ItemIsSelectable = QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
ItemIsMovable = QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemIsMovable
ItemHasNoContents = QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemHasNoContents
ItemSendsGeometryChanges = QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
ItemPositionHasChanged = QtWidgets.QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged
ItemSelectedHasChanged = QtWidgets.QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged
_PORT_RECT = QtCore.QRectF(0.0, 0.0, PORT_SIZE, PORT_SIZE)

#: run states a node can show, in the engine's words
STATES = ("pending", "queued", "running", "succeeded", "failed", "skipped", "cancelled")


@dataclass(frozen=True)
class CanvasStyle:
    """Colours of the canvas; one instance per theme, shared by every item."""

    background: tuple = (30, 32, 36)
    grid: tuple = (40, 43, 48)
    body: tuple = (44, 47, 53)
    border: tuple = (74, 79, 87)
    selected: tuple = (254, 207, 42)
    text: tuple = (228, 230, 234)
    dim_text: tuple = (150, 156, 166)
    value_text: tuple = (132, 196, 255)
    pipe: tuple = (150, 160, 175)
    unknown: tuple = (96, 96, 96)
    port: tuple = (60, 140, 120)
    port_border: tuple = (120, 210, 180)
    categories: tuple = (("types", (46, 125, 110)), ("math", (52, 101, 164)), ("numpy", (117, 80, 163)),
                         ("matplotlib", (190, 110, 40)), ("shell", (140, 90, 60)), ("files", (110, 120, 50)))
    other_category: tuple = (80, 88, 100)
    state_colors: tuple = (("queued", (180, 150, 40)), ("running", (40, 140, 230)),
                           ("succeeded", (60, 170, 90)), ("failed", (215, 60, 60)),
                           ("skipped", (120, 120, 120)), ("cancelled", (200, 120, 40)),
                           ("pending", (90, 95, 105)))


DARK = CanvasStyle()
LIGHT = CanvasStyle(background=(232, 234, 238), grid=(218, 221, 226), body=(250, 250, 252), border=(160, 165, 175),
                    selected=(220, 150, 0), text=(30, 32, 36), dim_text=(100, 105, 115),
                    value_text=(20, 90, 180), pipe=(110, 118, 130), unknown=(150, 150, 150),
                    port=(90, 170, 150), port_border=(40, 120, 100))


class _Paints:
    """QColor/QPen/QBrush/QFont objects made once per style (Qt objects are costly to make per paint)."""

    def __init__(self, style: CanvasStyle):
        c = QtGui.QColor
        self.style = style
        self.body = QtGui.QBrush(c(*style.body))
        self.border = QtGui.QPen(c(*style.border), 1.0)
        self.selected = QtGui.QPen(c(*style.selected), 2.0)
        self.unknown_border = QtGui.QPen(c(*style.unknown), 1.5, QtCore.Qt.PenStyle.DashLine)
        self.text = QtGui.QPen(c(*style.text))
        self.dim = QtGui.QPen(c(*style.dim_text))
        self.value = QtGui.QPen(c(*style.value_text))
        self.header = {k: QtGui.QBrush(c(*v)) for k, v in style.categories}
        self.other_header = QtGui.QBrush(c(*style.other_category))
        self.unknown_header = QtGui.QBrush(c(*style.unknown))
        self.state = {k: c(*v) for k, v in style.state_colors}
        self.state_pen = {k: QtGui.QPen(v, 2.5) for k, v in self.state.items()}
        self.state_fill = {}
        body = c(*style.body)
        for k, v in self.state.items():
            mix = QtGui.QColor(int(body.red() * 0.72 + v.red() * 0.28), int(body.green() * 0.72 + v.green() * 0.28),
                               int(body.blue() * 0.72 + v.blue() * 0.28))
            self.state_fill[k] = QtGui.QBrush(mix)
        self.title_font = QtGui.QFont()
        self.title_font.setPointSizeF(9.0)
        self.title_font.setBold(True)
        self.label_font = QtGui.QFont()
        self.label_font.setPointSizeF(8.0)
        self.small_font = QtGui.QFont()
        self.small_font.setPointSizeF(7.5)
        self.title_metrics = QtGui.QFontMetricsF(self.title_font)
        self.label_metrics = QtGui.QFontMetricsF(self.label_font)
        self.small_metrics = QtGui.QFontMetricsF(self.small_font)
        self.pipe = QtGui.QPen(c(*style.pipe), 1.6)
        self.pipe.setCapStyle(QtCore.Qt.PenCapStyle.RoundCap)
        self.pipe_highlight = QtGui.QPen(c(232, 184, 13), 2.2)
        self.pipe_active = QtGui.QPen(c(70, 230, 200), 2.6)
        self.marked = QtGui.QPen(c(215, 60, 60), 3.0)
        for pen in (self.pipe_highlight, self.pipe_active, self.marked):
            pen.setCapStyle(QtCore.Qt.PenCapStyle.RoundCap)
        self.overview_colors = {k: c(*v) for k, v in style.categories}
        self.overview_colors[""] = c(*style.other_category)
        self.overview_colors["?"] = c(*style.unknown)
        self.port_fill = QtGui.QBrush(c(*style.port))
        self.port_pen = QtGui.QPen(c(*style.port_border), 1.4)
        self.port_connected = QtGui.QBrush(c(*style.port_border))
        self.port_hover = QtGui.QBrush(c(*style.selected))
        self._widths: dict[tuple[int, str], float] = {}

    def width(self, which: int, text: str) -> float:
        """Cached text width; which: 0 title, 1 label, 2 small."""
        key = (which, text)
        w = self._widths.get(key)
        if w is None:
            m = (self.title_metrics, self.label_metrics, self.small_metrics)[which]
            w = self._widths[key] = m.horizontalAdvance(text)
        return w


_PAINTS: dict[int, _Paints] = {}


def paints_for(style: CanvasStyle) -> _Paints:
    """The shared paint objects of ``style`` (made on first use, after the QApplication exists)."""
    p = _PAINTS.get(id(style))
    if p is None or p.style is not style:
        p = _PAINTS[id(style)] = _Paints(style)
    return p


def short_value(v, limit: int = 28) -> str:
    """A value as a short text for the node face."""
    if v is None:
        return ""
    if type(v).__module__ == "numpy" and hasattr(v, "shape"):
        shape = getattr(v, "shape", ())
        if shape == ():
            text = repr(v.item())
        else:
            text = f"array{list(shape)}"
    elif isinstance(v, float):
        text = f"{v:.6g}"
    elif isinstance(v, str):
        if len(v) > limit and "/" in v and "\n" not in v:  # a long path: its file name says most
            v = "…/" + v.rstrip("/").rsplit("/", 1)[-1]
        text = v.replace("\n", "⏎")
        text = f"“{text}”" if text else ""
    elif isinstance(v, (list, tuple)):
        text = f"[{len(v)} items]" if len(v) > 3 else repr(list(v))
    elif isinstance(v, dict):
        text = "{…}" if v else ""
    else:
        text = str(v)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(int(seconds), 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


class FlowPortItem(PortItem):
    """A port: where links attach and drags start. The node paints it (with its label).

    It has no contents of its own (``ItemHasNoContents``: Qt never calls a
    Python ``paint`` for it) and uses Qt's own ``itemChange`` (not PortItem's
    Python one): with thousands of ports, every such call into Python counts.
    Pipes follow a moved node because the node redraws them.
    """

    itemChange = QtWidgets.QGraphicsItem.itemChange

    def __init__(self, parent, name: str, port_type: str, multi: bool, paints: _Paints):
        QtWidgets.QGraphicsItem.__init__(self, parent)
        self.setFlag(ItemHasNoContents)
        self.setAcceptHoverEvents(True)
        self._pipes = []
        self._width = PORT_SIZE
        self._height = PORT_SIZE
        self._hovered = False
        self._name = name
        self._display_name = True
        self._color = (0, 0, 0, 255)
        self._border_color = (0, 0, 0, 255)
        self._border_size = 1
        self._port_type = port_type
        self._multi_connection = multi
        self._locked = False
        self._paints = paints
        #: text shown in the tooltip: dtype and how many links it takes
        self.info = ""

    def boundingRect(self):
        return _PORT_RECT

    def paint(self, painter, option, widget):
        return  # drawn by FlowNodeItem.paint

    def update(self, *args):
        parent = self.parentItem()
        if parent is not None:
            parent.update()

    def hoverEnterEvent(self, event):
        self._hovered = True
        if not self.toolTip() and self.info:
            self.setToolTip(self.info)
        self.update()
        QtWidgets.QGraphicsItem.hoverEnterEvent(self, event)

    def hoverLeaveEvent(self, event):
        self._hovered = False
        self.update()
        QtWidgets.QGraphicsItem.hoverLeaveEvent(self, event)


class FlowPipeItem(PipeItem):
    """A connection: a cubic curve with a chevron in the middle showing the direction.

    Drawn by Qt's own ``QGraphicsPathItem.paint`` (the chevron is part of the
    path) with a shared pen chosen when its state changes (``refresh``), and
    with Qt's own ``itemChange``: no Python runs when the scene repaints it.
    """

    itemChange = QtWidgets.QGraphicsPathItem.itemChange
    paint = QtWidgets.QGraphicsPathItem.paint

    def __init__(self, paints: _Paints):
        QtWidgets.QGraphicsPathItem.__init__(self)
        self.setZValue(Z_VAL_PIPE)
        self.setAcceptHoverEvents(True)
        self.setFlag(ItemIsSelectable)
        self._paints = paints
        self._color = paints.style.pipe
        self._style = 0
        self._active = False
        self._highlight = False
        self._input_port = None
        self._output_port = None
        self._marked = False  # part of a highlighted problem (cycle)
        self._pen_key = "pipe"
        #: the uniquename of the model connection drawn ("" while not matched to one)
        self.conn = ""
        self.setPen(paints.pipe)

    def delete(self):
        for port in (self._input_port, self._output_port):
            if port is not None and self in port._pipes:
                port._pipes.remove(self)
                port.update()
        if self.scene():
            self.scene().removeItem(self)

    def _draw_direction_pointer(self):
        return  # the chevron is part of the path

    def set_pipe_styling(self, color, width=2, style=0):
        return  # pens come from refresh()

    def refresh(self) -> None:
        """Choose the pen from the state: marked, hovered, selected or an end node selected."""
        if self._marked:
            key = "marked"
        elif self._active:
            key = "pipe_active"
        elif self._highlight or self.isSelected() or self._end_selected():
            key = "pipe_highlight"
        else:
            key = "pipe"
        if key != self._pen_key:
            self._pen_key = key
            self.setPen(getattr(self._paints, key))

    def reset(self):
        self._active = False
        self._highlight = False
        self.refresh()

    def activate(self):
        self._active = True
        self.refresh()

    def highlight(self):
        self._highlight = True
        self.refresh()

    def set_marked(self, marked: bool) -> None:
        if marked != self._marked:
            self._marked = marked
            self.refresh()

    def _end_selected(self) -> bool:
        a, b = self._input_port, self._output_port
        return (a is not None and a.parentItem().isSelected()) or (b is not None and b.parentItem().isSelected())

    def viewer_pipe_layout(self):
        return 0  # curved

    def viewer_layout_direction(self):
        return 0  # horizontal

    def draw_path(self, start_port, end_port=None, cursor_pos=None):
        if not start_port:
            return
        half = PORT_SIZE / 2
        if end_port is not None and cursor_pos is None and start_port.port_type == IN:
            start_port, end_port = end_port, start_port  # paths run downstream: the chevron shows the data flow
        p1 = start_port.scenePos()
        p1 = QtCore.QPointF(p1.x() + half, p1.y() + half)
        if cursor_pos is not None:
            p2 = cursor_pos
        elif end_port is not None:
            p2 = end_port.scenePos()
            p2 = QtCore.QPointF(p2.x() + half, p2.y() + half)
        else:
            return
        path = QtGui.QPainterPath(p1)
        dx = min(abs(p2.x() - p1.x()), 200.0) * 0.6 + 20.0
        if start_port.port_type == IN:
            dx = -dx
        path.cubicTo(QtCore.QPointF(p1.x() + dx, p1.y()), QtCore.QPointF(p2.x() - dx, p2.y()), p2)
        if cursor_pos is None:
            mid = path.pointAtPercent(0.5)
            a = math.radians(-path.angleAtPercent(0.5))
            for side in (2.6, -2.6):  # a chevron ">" pointing downstream
                path.moveTo(mid.x() + 6 * math.cos(a + side), mid.y() + 6 * math.sin(a + side))
                path.lineTo(mid)
        self.setPath(path)


class FlowNodeItem(NodeItem):
    """A node drawn in one paint call: header, port labels with values, state footer."""

    def __init__(self, title: str, category: str, paints: _Paints, unknown: bool = False, subtitle: str = ""):
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

    # -- NodeGraphQt hooks made cheap ---------------------------------------
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
        painter.setPen(p.text)
        title = ("⚠ " if self._unknown else "") + self.name
        painter.drawText(QtCore.QRectF(8, 0, w - 16, HEADER_H), QtCore.Qt.AlignmentFlag.AlignVCenter
                         | QtCore.Qt.AlignmentFlag.AlignLeft, title)
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


class OverviewItem(QtWidgets.QGraphicsItem):
    """Every node as a coloured block, painted in one call: how the canvas looks zoomed far out.

    With a few thousand nodes on screen each one is a few pixels wide; asking
    each node item to paint itself costs thousands of calls into Python per
    frame (and as many waits for the interpreter while a run keeps it busy).
    The canvas switches to this item below a zoom level (node items then
    have no contents but stay selectable) and back when zoomed in.
    """

    itemChange = QtWidgets.QGraphicsItem.itemChange

    def __init__(self, paints: _Paints):
        super().__init__()
        self.setZValue(Z_VAL_NODE + 2)
        self.setAcceptedMouseButtons(QtCore.Qt.MouseButton.NoButton)
        self._paints = paints
        self.items: list[FlowNodeItem] = []
        self._rects: list[QtCore.QRectF] = []
        self._rect = QtCore.QRectF()

    def set_items(self, items: list) -> None:
        self.prepareGeometryChange()
        self.items = list(items)
        self.refresh_rects()

    def refresh_rects(self) -> None:
        """Take the nodes' places again (after moves)."""
        self.prepareGeometryChange()
        self._rects = [QtCore.QRectF(it.x(), it.y(), it._width, it._height) for it in self.items]
        rect = QtCore.QRectF()
        for r in self._rects:
            rect = rect.united(r)
        self._rect = rect.adjusted(-50, -50, 50, 50)
        self.update()

    def boundingRect(self):
        return self._rect

    def paint(self, painter, option, widget):
        # one drawRects call per colour: a handful of calls into Qt however many nodes there are
        p = self._paints
        groups: dict[str, list] = {}
        marked: list = []
        for it, r in zip(self.items, self._rects):
            st = it.state
            key = st if st and st != "pending" else ("?" if it._unknown else it._category)
            groups.setdefault(key, []).append(r)
            if it.marked:
                marked.append(r.adjusted(-8, -8, 8, 8))
        chosen = self._selected()
        selected = [r.adjusted(-8, -8, 8, 8) for it, r in zip(self.items, self._rects) if it in chosen] if chosen else []
        painter.setPen(QtCore.Qt.PenStyle.NoPen)
        for rects, color in ((marked, p.state["failed"]), (selected, p.selected.color())):
            if rects:
                painter.setBrush(color)
                painter.drawRects(rects)
        colors, states = p.overview_colors, p.state
        for key, rects in groups.items():
            painter.setBrush(states.get(key) or colors.get(key) or colors[""])
            painter.drawRects(rects)

    def _selected(self) -> set:
        scene = self.scene()
        return set(scene.selectedItems()) if scene is not None else set()


class FlowNode(BaseNode):
    """NodeGraphQt's node object for every nodeflow node (one class: terminals come from the model)."""

    __identifier__ = "nodeflow"
    NODE_NAME = "Node"

    def __init__(self, item: FlowNodeItem | None = None):
        super().__init__(lambda: item if item is not None else FlowNodeItem("node", "", paints_for(DARK)))
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
