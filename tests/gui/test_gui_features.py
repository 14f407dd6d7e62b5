"""Issue 8 in the window: sub-workflows (open, choose child, roll-up), instance badges, imports, generators."""
from __future__ import annotations

import json
import sys

import pytest
from conftest import REPO
from PySide6 import QtCore, QtWidgets
from PySide6.QtTest import QTest

import nodeflow
from nodeflow.library import builtin_registry
from nodeflow.library.builtins.workflow_nodes import SUBWORKFLOW_PATH
from nodeflow.model import Workflow

pytestmark = pytest.mark.gui
RUN_TIMEOUT_MS = 90_000
IMPORTS = REPO / "tests" / "fixtures" / "imports"
REG = builtin_registry()


def add(wf, path, uniquename, **values):
    node = REG.create_node(path, wf)
    node.uniquename = uniquename
    wf.add_node(node)
    for k, v in values.items():
        node.terminals[k].value = v
    return node


def write_child(path, divisor=2.0):
    """x → x / divisor, exposed as input 'x' and output 'y' (divisor 0: the inner node fails)."""
    wf = Workflow()
    add(wf, ("nodeflow", "Workflow Input"), "in", name="x", value=3.0)
    add(wf, ("math", "Divide"), "div", divisor=divisor)
    add(wf, ("nodeflow", "Workflow Output"), "out", name="y")
    wf.connect(("in", "output"), ("div", "dividend"))
    wf.connect(("div", "result"), ("out", "value"))
    nodeflow.save(wf, path)


def file_action(window, text):
    menu = window.menuBar().actions()[0].menu()
    for a in menu.actions():
        if a.text().replace("&", "").startswith(text):
            return a
    raise AssertionError(f"no File menu entry {text!r}")


def parent_with_child(window, tmp_path, divisor=2.0):
    write_child(tmp_path / "child.nc", divisor)
    doc = window.doc
    sub = doc.add_node(SUBWORKFLOW_PATH, (0, 0))
    doc.save(str(tmp_path / "main.nc"))
    window.canvas.select([sub])
    QtCore.QCoreApplication.processEvents()
    editor = window.properties.editor("workflow")
    editor.setText(str(tmp_path / "child.nc"))
    editor.editingFinished.emit()
    return sub


def test_choosing_the_child_updates_terminals_undoably(window, qtbot, tmp_path):
    sub = parent_with_child(window, tmp_path)
    node = window.doc.node(sub)
    assert node.terminals["workflow"].value == "child.nc"  # relative to the parent file
    assert node.terminals["x"].is_input and node.terminals["y"].is_output
    ports = {p._name for p in window.canvas.item(sub)._in_ports + window.canvas.item(sub)._out_ports}
    assert {"workflow", "x", "y"} <= ports
    window.doc.undo_stack.undo()
    node = window.doc.node(sub)
    assert set(node.terminals) == {"workflow"} and node.terminals["workflow"].value == ""
    window.doc.undo_stack.redo()
    assert set(window.doc.node(sub).terminals) == {"workflow", "x", "y"}


def test_double_click_on_a_subworkflow_opens_the_child(window, qtbot, tmp_path):
    sub = parent_with_child(window, tmp_path)
    window.doc.save(str(tmp_path / "main.nc"))
    window.canvas.frame_all()
    QtCore.QCoreApplication.processEvents()
    item = window.canvas.item(sub)
    pos = window.canvas.viewer.mapFromScene(item.sceneBoundingRect().center())
    QTest.mouseDClick(window.canvas.viewer.viewport(), QtCore.Qt.MouseButton.LeftButton,
                      QtCore.Qt.KeyboardModifier.NoModifier, pos)
    qtbot.waitUntil(lambda: (window.doc.path or "").endswith("child.nc"))
    assert set(window.doc.workflow.nodes) >= {"in", "div", "out"}


def test_rollup_state_after_a_failing_inner_node(window, qtbot, tmp_path):
    sub = parent_with_child(window, tmp_path, divisor=0.0)
    window.doc.save(str(tmp_path / "main.nc"))
    window.runs.act_run.trigger()
    qtbot.waitUntil(lambda: not window.run.running, timeout=RUN_TIMEOUT_MS)
    assert window.run.last_state == "failed"
    assert window.canvas.state_of(sub) == "failed"
    item = window.canvas.item(sub)
    assert "done" in item.note and "1 failed" in item.note
    assert f"{sub}/div" in item.toolTip() and "zero" in item.toolTip()


def test_rollup_succeeded(window, qtbot, tmp_path):
    sub = parent_with_child(window, tmp_path)
    window.doc.save(str(tmp_path / "main.nc"))
    window.runs.act_run.trigger()
    qtbot.waitUntil(lambda: not window.run.running, timeout=RUN_TIMEOUT_MS)
    assert window.run.last_state == "succeeded"
    assert window.canvas.state_of(sub) == "succeeded"
    assert window.canvas.item(sub).note == "3/3 done"


def test_import_daggy_via_file_menu_and_instance_badge(window, qtbot, dialogs):
    dialogs.open_path = str(IMPORTS / "daggy_params.json")
    file_action(window, "Import Daggy").trigger()
    assert window.doc.path is None and window.doc.modified
    assert {"populate_inputs", "calc_date", "generate_report"} <= set(window.doc.workflow.nodes)
    qtbot.waitUntil(lambda: window.canvas.item("calc_date").badge == "×3")
    assert window.canvas.item("populate_inputs").badge == ""


def test_import_donut_and_a_broken_definition(window, qtbot, dialogs):
    dialogs.open_path = str(IMPORTS / "donut_gather.yaml")
    file_action(window, "Import donut-dagger").trigger()
    assert window.doc.path is None and len(window.doc.workflow.nodes) > 1
    before = set(window.doc.workflow.nodes)
    dialogs.answers["warning"] = QtWidgets.QMessageBox.StandardButton.Discard
    dialogs.open_path = str(IMPORTS / "daggy_cycle.json")
    file_action(window, "Import Daggy").trigger()
    assert dialogs.of("critical") and "cycle" in dialogs.of("critical")[-1][2].lower()
    assert set(window.doc.workflow.nodes) == before  # the document is kept


def test_generator_added_nodes_appear_during_the_run(window, qtbot):
    doc = window.doc
    gen = doc.add_node(("shell", "Command"), (0, 0))
    payload = {"calc_a": {"type": "Node", "path": ["shell", "Command"],
                          "values": {"command": "sleep", "args": ["1.5"]}},
               "c1": {"type": "Connection", "input": [gen, "exitcode"], "output": ["calc_a", "after"]}}
    doc.set_value(gen, "command", sys.executable)
    doc.set_value(gen, "args", ["-c", f"print({json.dumps(json.dumps(payload))})"])
    doc.set_settings(gen, {"generator": True})
    window.runs.act_run.trigger()
    qtbot.waitUntil(lambda: "calc_a" in window.subflows.run_only, timeout=30_000)
    assert window.run.running
    item = window.subflows.run_only["calc_a"]
    assert item.scene() is window.canvas.scene and item.isVisible()
    assert "calc_a" not in doc.workflow.nodes  # run-only: not put into the user's file
    qtbot.waitUntil(lambda: not window.run.running, timeout=RUN_TIMEOUT_MS)
    assert window.run.last_state == "succeeded", window.run.last_state
    assert item.state == "succeeded"
    window.runs.act_run.trigger()  # the next run starts clean
    qtbot.waitUntil(lambda: not window.run.running, timeout=RUN_TIMEOUT_MS)
