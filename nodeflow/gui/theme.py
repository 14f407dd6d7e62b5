"""Themes: the application palette and style sheet, dark (default) or light.

Fusion style with a QPalette, plus a short style sheet for the few things a
palette does not reach. The canvas colours live in ``style.CanvasStyle``
(``DARK``/``LIGHT``); ``canvas_style(name)`` picks the one that matches.
"""
from __future__ import annotations

from PySide6 import QtGui, QtWidgets

from .style import DARK, LIGHT, CanvasStyle

THEMES = ("dark", "light")

_DARK_SHEET = """
QToolBar { border: none; spacing: 4px; padding: 2px; }
QDockWidget::title { padding: 4px 6px; background: #2b2e34; }
QGroupBox { border: 1px solid #3a3e46; border-radius: 4px; margin-top: 14px; padding-top: 6px; }
QGroupBox::title { subcontrol-origin: margin; left: 8px; padding: 0 4px; color: #9aa3ad; }
QStatusBar QLabel { padding: 0 6px; }
QProgressBar { border: 1px solid #3a3e46; border-radius: 3px; text-align: center; height: 16px; }
QProgressBar::chunk { background: #3c9a5f; border-radius: 2px; }
QProgressBar[state="failed"]::chunk, QProgressBar[state="error"]::chunk { background: #c0453f; }
QProgressBar[state="cancelled"]::chunk { background: #c77a2e; }
"""

_LIGHT_SHEET = """
QToolBar { border: none; spacing: 4px; padding: 2px; }
QGroupBox { border: 1px solid #c8ccd2; border-radius: 4px; margin-top: 14px; padding-top: 6px; }
QGroupBox::title { subcontrol-origin: margin; left: 8px; padding: 0 4px; color: #5a6270; }
QProgressBar { border: 1px solid #c8ccd2; border-radius: 3px; text-align: center; height: 16px; }
QProgressBar::chunk { background: #4caf72; border-radius: 2px; }
QProgressBar[state="failed"]::chunk, QProgressBar[state="error"]::chunk { background: #d9534f; }
QProgressBar[state="cancelled"]::chunk { background: #e0923f; }
"""


def _dark_palette() -> QtGui.QPalette:
    c = QtGui.QColor
    p = QtGui.QPalette()
    R = QtGui.QPalette.ColorRole
    p.setColor(R.Window, c(37, 40, 45))
    p.setColor(R.WindowText, c(222, 225, 230))
    p.setColor(R.Base, c(28, 30, 34))
    p.setColor(R.AlternateBase, c(42, 45, 51))
    p.setColor(R.ToolTipBase, c(50, 54, 60))
    p.setColor(R.ToolTipText, c(230, 232, 236))
    p.setColor(R.Text, c(222, 225, 230))
    p.setColor(R.Button, c(48, 52, 58))
    p.setColor(R.ButtonText, c(222, 225, 230))
    p.setColor(R.BrightText, c(255, 90, 90))
    p.setColor(R.Link, c(110, 170, 255))
    p.setColor(R.Highlight, c(52, 101, 164))
    p.setColor(R.HighlightedText, c(255, 255, 255))
    p.setColor(R.PlaceholderText, c(120, 126, 136))
    disabled = QtGui.QPalette.ColorGroup.Disabled
    for role in (R.WindowText, R.Text, R.ButtonText):
        p.setColor(disabled, role, c(125, 130, 140))
    return p


def apply_theme(app: QtWidgets.QApplication, name: str) -> str:
    """Apply ``name`` ("dark" or "light"; anything else means dark); returns the name applied."""
    name = name if name in THEMES else "dark"
    app.setStyle("Fusion")
    if name == "dark":
        app.setPalette(_dark_palette())
        app.setStyleSheet(_DARK_SHEET)
    else:
        app.setPalette(app.style().standardPalette())
        app.setStyleSheet(_LIGHT_SHEET)
    return name


def canvas_style(name: str) -> CanvasStyle:
    return LIGHT if name == "light" else DARK
