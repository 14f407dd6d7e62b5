"""Driving the canvas like a person does: real mouse drags between ports, selecting, waiting."""
from __future__ import annotations

import json

from PySide6 import QtCore
from PySide6.QtTest import QTest

LEFT = QtCore.Qt.MouseButton.LeftButton
NOMOD = QtCore.Qt.KeyboardModifier.NoModifier


def port_item(window, node: str, terminal: str):
    item = window.canvas.item(node)
    assert item is not None, f"{node} is not drawn"
    for p in item._in_ports + item._out_ports:
        if p._name == terminal:
            return p
    raise AssertionError(f"{node} has no port {terminal}")


def port_point(window, node: str, terminal: str) -> QtCore.QPoint:
    port = port_item(window, node, terminal)
    return window.canvas.viewer.mapFromScene(port.sceneBoundingRect().center())


def drag(window, src: tuple[str, str], dst: tuple[str, str], steps: int = 8) -> None:
    """Press on one port, move to the other and release, as a mouse would (NodeGraphQt's live pipe)."""
    window.canvas.frame_all()
    QtCore.QCoreApplication.processEvents()
    vp = window.canvas.viewer.viewport()
    a, b = port_point(window, *src), port_point(window, *dst)
    QTest.mousePress(vp, LEFT, NOMOD, a)
    for i in range(1, steps + 1):
        QTest.mouseMove(vp, a + (b - a) * i / steps)
    QTest.mouseRelease(vp, LEFT, NOMOD, b)
    QtCore.QCoreApplication.processEvents()


def connections(window) -> set[tuple[tuple[str, str], tuple[str, str]]]:
    return {(c.input, c.output) for c in window.doc.workflow.connections.values()}


def drawn_connections(window) -> set[tuple[tuple[str, str], tuple[str, str]]]:
    out = set()
    for name in window.canvas.pipe_names():
        pipe = window.canvas.pipe(name)
        src, dst = pipe.output_port, pipe.input_port
        out.add(((src.node.uniquename, src.name), (dst.node.uniquename, dst.name)))
    return out


def file_json(path) -> str:
    """A file's JSON object as canonical text that keeps key order (so order changes show)."""
    with open(path, encoding="utf-8") as f:
        return json.dumps(json.load(f))
