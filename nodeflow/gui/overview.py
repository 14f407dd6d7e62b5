"""The far-zoom overview: every node as a coloured block, painted in one call.

With a few thousand nodes on screen each is a few pixels wide, and asking
every node item to paint itself costs thousands of calls into Python per
frame (each waiting for the interpreter while a run keeps it busy). Below a
zoom level the canvas gives node items no contents (they stay selectable and
movable), hides the pipe items (thousands of curves stroked per frame) and
shows this one item instead.
"""
from __future__ import annotations

from NodeGraphQt.constants import Z_VAL_NODE
from PySide6 import QtCore, QtGui, QtWidgets

from .style import Paints

#: below this zoom, a workflow with at least OVERVIEW_MIN_NODES nodes is drawn as an overview
OVERVIEW_ZOOM = 0.3
OVERVIEW_MIN_NODES = 150


class OverviewItem(QtWidgets.QGraphicsItem):
    """Every node as a block in its category's colour, or its run state's; links as straight lines.

    The blocks are kept grouped by colour; when nodes change (run states,
    selection, problem marks) only those nodes move between groups, so a
    repaint is a handful of ``drawRects`` calls and no loop over every node.
    """

    itemChange = QtWidgets.QGraphicsItem.itemChange

    def __init__(self, paints: Paints):
        super().__init__()
        self.setZValue(Z_VAL_NODE + 2)
        self.setAcceptedMouseButtons(QtCore.Qt.MouseButton.NoButton)
        self._paints = paints
        self.items: list = []
        self._rect_of: dict = {}  # item -> its block
        self._key_of: dict = {}  # item -> colour key
        self._groups: dict[str, dict] = {}  # colour key -> {item: block}
        self._halo: dict[str, dict] = {"selected": {}, "marked": {}}  # outlines drawn under the blocks
        self._rect = QtCore.QRectF()
        self.pipes: list = []  # the links, drawn as straight lines in one call (their items are hidden)
        self._lines: list[QtCore.QLineF] = []
        self._line_pen = QtGui.QPen(paints.pipe.color(), 1.0)
        self._line_pen.setCosmetic(True)

    @staticmethod
    def _key(it) -> str:
        st = it.state
        return st if st and st != "pending" else ("?" if it._unknown else it._category)

    def set_items(self, items: list, pipes: list) -> None:
        self.items = list(items)
        self.pipes = list(pipes)
        self.refresh_rects()

    def refresh_rects(self) -> None:
        """Take the nodes' places and colours again (after moves, or a new set of nodes)."""
        self.prepareGeometryChange()
        self._rect_of = {it: QtCore.QRectF(it.x(), it.y(), it._width, it._height) for it in self.items}
        self._key_of, self._groups = {}, {}
        rect = QtCore.QRectF()
        for it, r in self._rect_of.items():
            key = self._key_of[it] = self._key(it)
            self._groups.setdefault(key, {})[it] = r
            rect = rect.united(r)
        self._rect = rect.adjusted(-50, -50, 50, 50)
        self._halo = {"selected": {}, "marked": {}}
        self._lines = []
        for pipe in self.pipes:
            a, b = pipe._output_port, pipe._input_port
            if a is not None and b is not None:
                self._lines.append(QtCore.QLineF(a.sceneBoundingRect().center(), b.sceneBoundingRect().center()))
        self.nodes_changed(it for it in self.items if it.marked or it.isSelected())
        self.update()

    def nodes_changed(self, items) -> None:
        """These nodes changed state, selection or mark: move them to their colour now."""
        for it in items:
            r = self._rect_of.get(it)
            if r is None:
                continue
            key = self._key(it)
            old = self._key_of.get(it)
            if key != old:
                if old is not None:
                    self._groups[old].pop(it, None)
                self._groups.setdefault(key, {})[it] = r
                self._key_of[it] = key
            for halo, on in (("selected", it.isSelected()), ("marked", it.marked)):
                if on:
                    self._halo[halo][it] = r.adjusted(-8, -8, 8, 8)
                else:
                    self._halo[halo].pop(it, None)
        self.update()

    def boundingRect(self):
        return self._rect

    def paint(self, painter, option, widget):
        p = self._paints
        if self._lines:
            painter.setPen(self._line_pen)
            painter.drawLines(self._lines)
        painter.setPen(QtCore.Qt.PenStyle.NoPen)
        for halo, color in (("marked", p.state["failed"]), ("selected", p.selected.color())):
            rects = self._halo[halo]
            if rects:
                painter.setBrush(color)
                painter.drawRects(list(rects.values()))
        colors, states = p.overview_colors, p.state
        for key, group in self._groups.items():
            if group:
                painter.setBrush(states.get(key) or colors.get(key) or colors[""])
                painter.drawRects(list(group.values()))


class FarZoom(QtCore.QObject):
    """Switches a canvas between its node items and the overview, and keeps the overview current."""

    def __init__(self, canvas):
        super().__init__(canvas)
        self.canvas = canvas
        self.item: OverviewItem | None = None
        self.on = False
        self._moved = self._links = False
        canvas.viewer.zoom_changed.connect(self.zoomed)

    def clear(self) -> None:
        """The canvas is about to delete every item."""
        if self.item is not None:
            self.item.items, self.item.pipes = [], []
        self.item, self.on = None, False

    def rebuilt(self) -> None:
        self.item = OverviewItem(self.canvas._paints)
        self.item.setVisible(False)
        self.canvas.scene.addItem(self.item)

    def zoomed(self, scale: float) -> None:
        want = scale < OVERVIEW_ZOOM and len(self.canvas._nodes) >= OVERVIEW_MIN_NODES
        if want != self.on:
            self.set_on(want)

    def set_on(self, on: bool) -> None:
        """Draw nodes as blocks in one item (on) or each by itself (off); nodes stay selectable."""
        if self.item is None:
            return
        self.on = on
        items = [f.view for f in self.canvas._nodes.values()]
        for it in items:
            it.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemHasNoContents, on)
        pipes = list(self.canvas._pipes.values())
        for pipe in pipes:
            pipe.setVisible(not on)
        if on:
            self.item.set_items(items, pipes)
        self.item.setVisible(on)
        # thousands of hairline links: smoothing them costs more than it shows at this size
        self.canvas.viewer.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, not on)
        if not on:
            for it in items:
                it.update()

    def nodes_added_or_removed(self) -> None:
        if self.on:
            self.set_on(True)  # the new nodes join it, the removed ones leave
        else:
            self.zoomed(self.canvas.viewer.transform().m11())

    def nodes_changed(self, names) -> None:
        """These nodes changed run state, selection or problem mark."""
        if self.on and self.item is not None:
            nodes = self.canvas._nodes
            self.item.nodes_changed(f.view for f in map(nodes.get, names) if f is not None)

    def moved(self) -> None:
        self._moved = True
        QtCore.QTimer.singleShot(0, self._refresh)

    def links_changed(self) -> None:
        self._links = True
        QtCore.QTimer.singleShot(0, self._refresh)

    def _refresh(self) -> None:
        if self.on and self.item is not None and (self._moved or self._links):
            self.item.pipes = list(self.canvas._pipes.values())
            self.item.refresh_rects()
        self._moved = self._links = False
