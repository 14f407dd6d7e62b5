"""Ports and pipes: where links attach, and the links themselves.

Both subclass NodeGraphQt's items (its viewer finds ports and pipes by type
when the user drags a link or slices pipes) but do almost nothing in
Python: a port has no contents of its own (the node paints it), a pipe is
painted by Qt's own ``QGraphicsPathItem.paint`` with a pen picked when its
state changes, and both use Qt's own ``itemChange``. With thousands of them,
every call into Python per item and per repaint counts.
"""
from __future__ import annotations

import math

from NodeGraphQt.constants import PortTypeEnum, Z_VAL_PIPE
from NodeGraphQt.qgraphics.pipe import PipeItem
from NodeGraphQt.qgraphics.port import PortItem
from PySide6 import QtCore, QtGui, QtWidgets

from .style import Paints

IN = PortTypeEnum.IN.value
OUT = PortTypeEnum.OUT.value
PORT_SIZE = 16.0
_PORT_RECT = QtCore.QRectF(0.0, 0.0, PORT_SIZE, PORT_SIZE)
ItemIsSelectable = QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
ItemHasNoContents = QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemHasNoContents


class FlowPortItem(PortItem):
    """A port: where links attach and drags start. The node paints it (with its label).

    It has no contents of its own (``ItemHasNoContents``: Qt never calls a
    Python ``paint`` for it) and uses Qt's own ``itemChange`` (not PortItem's
    Python one): with thousands of ports, every such call into Python counts.
    Pipes follow a moved node because the node redraws them.
    """

    itemChange = QtWidgets.QGraphicsItem.itemChange

    def __init__(self, parent, name: str, port_type: str, multi: bool, paints: Paints):
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

    def __init__(self, paints: Paints):
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
