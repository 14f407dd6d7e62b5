"""Finding nodeflow's resource files (icons, examples) and the application icon.

Resources live in the repository's top-level ``resources/`` folder; an
installed copy may put them in ``<prefix>/share/nodeflow``. The application
icon is ``resources/icons/nodeflow.svg`` (with a PNG rendered from it for
desktop entries); when neither can be found the window simply has no icon.
"""
from __future__ import annotations

import sys
from pathlib import Path

from PySide6 import QtCore, QtGui


def resources_dir() -> Path | None:
    for candidate in (Path(__file__).resolve().parents[2] / "resources", Path(sys.prefix) / "share" / "nodeflow"):
        if candidate.is_dir():
            return candidate
    return None


def resource(*parts: str) -> Path | None:
    base = resources_dir()
    if base is None:
        return None
    p = base.joinpath(*parts)
    return p if p.exists() else None


def app_icon() -> QtGui.QIcon:
    for name in ("nodeflow.svg", "nodeflow.png"):
        p = resource("icons", name)
        if p is not None:
            icon = QtGui.QIcon(str(p))
            if not icon.isNull():
                return icon
    return QtGui.QIcon()


def render_svg_to_png(svg_path: str, png_path: str, size: int = 256) -> bool:
    """Render an SVG to a square PNG with QtSvg (used to make the desktop icon)."""
    from PySide6 import QtSvg

    renderer = QtSvg.QSvgRenderer(svg_path)
    if not renderer.isValid():
        return False
    image = QtGui.QImage(size, size, QtGui.QImage.Format.Format_ARGB32)
    image.fill(QtCore.Qt.GlobalColor.transparent)
    painter = QtGui.QPainter(image)
    painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return image.save(png_path)
