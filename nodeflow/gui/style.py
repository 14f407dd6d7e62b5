"""How the canvas looks: colours per theme, shared paint objects, and text for values.

``CanvasStyle`` holds a theme's colours (``DARK`` — the default — and
``LIGHT``). ``Paints`` turns one into the QPen/QBrush/QFont objects the items
share (one ``Paints`` per canvas: Qt objects are costly to make per paint
call). ``short_value`` and ``format_duration`` make the short texts shown on
nodes.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6 import QtCore, QtGui

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


class Paints:
    """QColor/QPen/QBrush/QFont objects made once per style (Qt objects are costly to make per paint)."""

    def __init__(self, style: CanvasStyle):
        c = QtGui.QColor
        self.style = style
        self.body = QtGui.QBrush(c(*style.body))
        self.border = QtGui.QPen(c(*style.border), 1.0)
        self.selected = QtGui.QPen(c(*style.selected), 2.0)
        self.unknown_border = QtGui.QPen(c(*style.unknown), 1.5, QtCore.Qt.PenStyle.DashLine)
        self.text = QtGui.QPen(c(*style.text))
        self.title = QtGui.QPen(c(250, 250, 252))  # on the coloured header, in both themes
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
    if seconds < 0.001:
        return "<1 ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(int(seconds), 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"
