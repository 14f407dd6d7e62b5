"""Qt and NodeGraphQt set-up: binding choice, known-bug workarounds, log noise.

This module owns everything done to Qt or NodeGraphQt *globally*, so the rest
of ``nodeflow.gui`` can assume a working stack (stack-notes, "Qt and
NodeGraphQt"):

* ``QT_PREFERRED_BINDING=PySide6`` before NodeGraphQt (through Qt.py) loads;
* NodeGraphQt's property spin boxes use ``self.NoButtons``, which PySide6
  lacks: the enum is put where they look for it;
* backdrop items use ``self.ItemIsMovable`` the same way;
* the offscreen platform prints "This plugin does not support
  propagateSizeHints()" for every widget shown: that one message is dropped.

``apply()`` is idempotent and is called by ``nodeflow.gui.app`` and by the
canvas before the first graph is made.
"""
from __future__ import annotations

import os

os.environ.setdefault("QT_PREFERRED_BINDING", "PySide6")

from PySide6 import QtCore, QtWidgets  # noqa: E402

_QUIET = ("propagateSizeHints", "QFont::setPointSizeF: Point size <= 0")
_state = {"applied": False, "previous_handler": None}


def _message_handler(mode, context, message):
    if any(q in message for q in _QUIET):
        return
    prev = _state["previous_handler"]
    if prev is not None:
        prev(mode, context, message)
    else:  # what Qt does by default: print to stderr
        import sys

        print(message, file=sys.stderr)


def apply() -> None:
    """Apply the workarounds once per process."""
    if _state["applied"]:
        return
    _state["applied"] = True
    _state["previous_handler"] = QtCore.qInstallMessageHandler(_message_handler)
    no_buttons = QtWidgets.QAbstractSpinBox.ButtonSymbols.NoButtons
    try:
        from NodeGraphQt.custom_widgets.properties_bin import prop_widgets_base as pw

        pw.PropSpinBox.NoButtons = no_buttons
        pw.PropDoubleSpinBox.NoButtons = no_buttons
    except (ImportError, AttributeError):  # a NodeGraphQt without these: nothing to fix
        pass
    try:
        from NodeGraphQt.qgraphics.node_backdrop import BackdropNodeItem

        BackdropNodeItem.ItemIsMovable = QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemIsMovable
    except (ImportError, AttributeError):
        pass
