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

from dataclasses import dataclass

from NodeGraphQt import BaseNode, Port
from NodeGraphQt.constants import PortTypeEnum, Z_VAL_NODE, Z_VAL_PIPE, Z_VAL_PORT
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
MIN_W = 150.0
VALUE_ROOM = 70.0  # width kept for values next to port labels

NO_CACHE = QtWidgets.QGraphicsItem.CacheMode.NoCache
ItemIsSelectable = QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
ItemIsMovable = QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemIsMovable
ItemSendsScenePositionChanges = QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemSendsScenePositionChanges
ItemSelectedChange = QtWidgets.QGraphicsItem.GraphicsItemChange.ItemSelectedChange
ItemScenePositionHasChanged = QtWidgets.QGraphicsItem.GraphicsItemChange.ItemScenePositionHasChanged

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
    """A port circle; its label is painted by the node."""

    def __init__(self, parent, name: str, port_type: str, multi: bool, paints: _Paints):
        QtWidgets.QGraphicsItem.__init__(self, parent)
        self.setAcceptHoverEvents(True)
        self.setFlag(ItemSendsScenePositionChanges, True)
        self.setZValue(Z_VAL_PORT)
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
        return QtCore.QRectF(0.0, 0.0, PORT_SIZE, PORT_SIZE)

    def paint(self, painter, option, widget):
        p = self._paints
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        r = 4.5 if not self._hovered else 6.0
        c = QtCore.QPointF(PORT_SIZE / 2, PORT_SIZE / 2)
        painter.setPen(p.port_pen if lod > 0.3 else QtCore.Qt.PenStyle.NoPen)
        painter.setBrush(p.port_hover if self._hovered else (p.port_connected if self._pipes else p.port_fill))
        if self._multi_connection and lod > 0.3:
            painter.drawRoundedRect(QtCore.QRectF(c.x() - r, c.y() - r, 2 * r, 2 * r), 2.0, 2.0)
        else:
            painter.drawEllipse(c, r, r)

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

    def itemChange(self, change, value):
        if change == ItemScenePositionHasChanged and self._pipes:
            self.redraw_connected_pipes()
        return QtWidgets.QGraphicsItem.itemChange(self, change, value)


class FlowPipeItem(PipeItem):
    """A connection: a cubic curve with an arrow in the middle, drawn with shared pens."""

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
        self.setPen(paints.pipe)

    def _draw_direction_pointer(self):
        return  # the arrow is painted in paint()

    def set_pipe_styling(self, color, width=2, style=0):
        return  # pens are chosen in paint() from the item's state

    def reset(self):
        self._active = False
        self._highlight = False
        self.update()

    def activate(self):
        self._active = True
        self.update()

    def highlight(self):
        self._highlight = True
        self.update()

    def set_marked(self, marked: bool) -> None:
        if marked != self._marked:
            self._marked = marked
            self.update()

    def viewer_pipe_layout(self):
        return 0  # curved

    def viewer_layout_direction(self):
        return 0  # horizontal

    def draw_path(self, start_port, end_port=None, cursor_pos=None):
        if not start_port:
            return
        half = PORT_SIZE / 2
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
        self.setPath(path)

    def paint(self, painter, option, widget):
        p = self._paints
        if self._marked:
            pen = QtGui.QPen(p.state["failed"], 3.0)
        elif self._active:
            pen = p.pipe_active
        elif self._highlight or self.isSelected():
            pen = p.pipe_highlight
        else:
            pen = p.pipe
        painter.setPen(pen)
        painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        path = self.path()
        painter.drawPath(path)
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        if lod > 0.45 and path.elementCount() > 1:
            mid = path.pointAtPercent(0.5)
            angle = path.angleAtPercent(0.5)
            painter.save()
            painter.translate(mid)
            painter.rotate(-angle)
            painter.setBrush(pen.color())
            painter.drawPolygon(QtGui.QPolygonF([QtCore.QPointF(5, 0), QtCore.QPointF(-4, -4),
                                                 QtCore.QPointF(-4, 4)]))
            painter.restore()


class FlowNodeItem(NodeItem):
    """A node drawn in one paint call: header, port labels with values, state footer."""

    def __init__(self, title: str, category: str, paints: _Paints, unknown: bool = False, subtitle: str = ""):
        AbstractNodeItem.__init__(self, title)
        self.setCacheMode(NO_CACHE)
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
        """Size from the title and port labels (never from values); place the ports."""
        p = self._paints
        title_w = p.width(0, self.name) + 24
        in_w = max((p.width(1, port._name) for port in self._in_ports), default=0.0)
        out_w = max((p.width(1, port._name) for port in self._out_ports), default=0.0)
        sub_w = p.width(2, self._subtitle) + 16 if self._subtitle else 0.0
        width = max(MIN_W, title_w, in_w + out_w + VALUE_ROOM + 28, sub_w)
        rows = max(len(self._in_ports), len(self._out_ports), 1)
        self.prepareGeometryChange()
        self._width = width
        self._height = HEADER_H + rows * ROW_H + FOOTER_H + 2
        half = PORT_SIZE / 2
        y = HEADER_H + (ROW_H - PORT_SIZE) / 2
        for i, port in enumerate(self._in_ports):
            port.setPos(-half, y + i * ROW_H)
        for i, port in enumerate(self._out_ports):
            port.setPos(width - half, y + i * ROW_H)

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

    def itemChange(self, change, value):
        if change == ItemSelectedChange and self.scene():
            self.reset_pipes()
            if value:
                self.highlight_pipes()
            self.setZValue(Z_VAL_NODE + 1 if value else Z_VAL_NODE)
        return QtWidgets.QGraphicsItem.itemChange(self, change, value)

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
        if lod < 0.5:
            return
        painter.setFont(p.title_font)
        painter.setPen(p.text)
        title = ("⚠ " if self._unknown else "") + self.name
        painter.drawText(QtCore.QRectF(8, 0, w - 16, HEADER_H), QtCore.Qt.AlignmentFlag.AlignVCenter
                         | QtCore.Qt.AlignmentFlag.AlignLeft, title)
        painter.setFont(p.label_font)
        vcenter = QtCore.Qt.AlignmentFlag.AlignVCenter
        values = self._values
        half_w = w / 2
        for i, port in enumerate(self._in_ports):
            y = HEADER_H + i * ROW_H
            name = port._name
            painter.setPen(p.text)
            lw = p.width(1, name)
            painter.drawText(QtCore.QRectF(12, y, lw + 2, ROW_H), vcenter | QtCore.Qt.AlignmentFlag.AlignLeft, name)
            v = values.get(name)
            if v and name not in self._connected:
                painter.setPen(p.value)
                room = (half_w if self._out_ports else w) - lw - 22
                if room > 12:
                    text = p.label_metrics.elidedText(v, QtCore.Qt.TextElideMode.ElideRight, room)
                    painter.drawText(QtCore.QRectF(lw + 18, y, room, ROW_H), vcenter | QtCore.Qt.AlignmentFlag.AlignLeft,
                                     text)
        right = QtCore.Qt.AlignmentFlag.AlignRight
        for i, port in enumerate(self._out_ports):
            y = HEADER_H + i * ROW_H
            name = port._name
            painter.setPen(p.text)
            lw = p.width(1, name)
            painter.drawText(QtCore.QRectF(w - 14 - lw - 2, y, lw + 2, ROW_H), vcenter | right, name)
            v = values.get(name)
            if v:
                painter.setPen(p.value)
                left = (half_w if self._in_ports else 8)
                room = w - 14 - lw - 6 - left
                if room > 12:
                    text = p.label_metrics.elidedText(v, QtCore.Qt.TextElideMode.ElideLeft, room)
                    painter.drawText(QtCore.QRectF(left, y, room, ROW_H), vcenter | right, text)
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
