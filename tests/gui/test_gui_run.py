"""Running from the window: Run, Stop, Rerun failed, Run selected, logs, figures, the screenshot."""
from __future__ import annotations

import sys
import time

import pytest
from conftest import FIXTURES, REPO
from PySide6 import QtCore, QtWidgets
from PySide6.QtTest import QTest

from nodeflow.config import AppSettings, Config
from nodeflow.engine.events import EventKind, RunEvent
from nodeflow.gui.run_controller import RunController

pytestmark = pytest.mark.gui
RUN_TIMEOUT_MS = 90_000


def click(window, action):
    """Click the toolbar button of an action, like a person does."""
    toolbar = window.findChild(QtWidgets.QToolBar, "toolbar-main")
    button = toolbar.widgetForAction(action)
    assert button is not None and button.isEnabled(), action.text()
    QTest.mouseClick(button, QtCore.Qt.MouseButton.LeftButton)


def states(window) -> dict:
    return {n: window.canvas.state_of(n) for n in window.canvas.node_names()}


def wait_finished(qtbot, window, timeout=RUN_TIMEOUT_MS):
    qtbot.waitUntil(lambda: not window.run.running, timeout=timeout)


def test_run_button_colours_every_node_and_shows_outputs(window, qtbot, example):
    window.files.open_path(example("arithmetic.nc"))
    click(window, window.runs.act_run)
    assert window.run.running and not window.runs.act_run.isEnabled() and window.runs.act_stop.isEnabled()
    qtbot.waitUntil(lambda: set(states(window).values()) == {"succeeded"}, timeout=RUN_TIMEOUT_MS)
    wait_finished(qtbot, window)
    # output values appear on the nodes (and in the model, as Nodeworks stores results)
    expected = {"power": "3125", "multiply": "271875", "root": "5", "subtract": "271870"}
    for node, text in expected.items():
        assert window.canvas.item(node)._values["result"] == text, node
    assert window.doc.workflow.nodes["subtract"].terminals["result"].value == 271870.0
    # durations are on the nodes, counts on the progress bar
    assert all(window.canvas.item(n).duration for n in window.canvas.node_names())
    assert window.runs.progress.bar.value() == window.runs.progress.bar.maximum() == 7
    assert window.runs.progress.bar.text().startswith("succeeded")
    assert "Run succeeded" in window.statusBar().currentMessage()
    assert not window.isWindowModified()  # results are not edits
    # the properties panel shows the outputs of the selected node
    window.canvas.select(["subtract"])
    qtbot.waitUntil(lambda: window.properties.name == "subtract")
    assert window.properties._outputs["result"].text() == "271870"


def test_stop_cancels_a_sleeping_command(window, qtbot):
    doc = window.doc
    cmd = doc.add_node(("shell", "Command"), (0, 0))
    doc.set_value(cmd, "command", "sleep")
    doc.set_value(cmd, "args", ["30"])
    after = doc.add_node(("types", "String"), (300, 0))
    neg = doc.add_node(("files", "Write Text"), (300, 0))
    assert doc.connect((cmd, "stdout"), (neg, "text")) is None
    t0 = time.monotonic()
    click(window, window.runs.act_run)
    qtbot.waitUntil(lambda: window.canvas.state_of(cmd) == "running", timeout=30_000)
    click(window, window.runs.act_stop)
    wait_finished(qtbot, window, timeout=30_000)
    assert time.monotonic() - t0 < 25
    assert window.run.last_state == "cancelled"
    assert window.canvas.state_of(cmd) == "cancelled"
    assert window.canvas.state_of(neg) == "skipped"
    assert window.runs.act_run.isEnabled() and not window.runs.act_stop.isEnabled()
    assert window.runs.act_rerun.isEnabled()  # what did not run can be run again
    assert after in doc.workflow.nodes


def test_opening_another_file_stops_the_run_of_the_old_one(window, qtbot, example):
    doc = window.doc
    cmd = doc.add_node(("shell", "Command"))
    doc.set_value(cmd, "command", "sleep")
    doc.set_value(cmd, "args", ["30"])
    window.runs.act_run.trigger()
    qtbot.waitUntil(lambda: window.canvas.state_of(cmd) == "running", timeout=30_000)
    window.files.open_path(example("arithmetic.nc"))  # unsaved changes: discarded (dialogs answer Discard)
    wait_finished(qtbot, window, timeout=30_000)
    assert window.run.last_state == "cancelled"
    assert {window.canvas.state_of(n) for n in window.canvas.node_names()} == {None}
    assert "command" not in window.doc.workflow.nodes


def test_log_dock_streams_the_selected_nodes_output(window, qtbot, tmp_path):
    doc = window.doc
    cmd = doc.add_node(("shell", "Command"))
    doc.set_value(cmd, "command", sys.executable)
    gate = tmp_path / "go-on"  # after line 1 the node waits for the test (at most a minute), however slow the machine
    code = ("import os, sys, time\nfor i in range(6):\n    print('line', i, flush=True); time.sleep(0.2)\n"
            f"    if i == 1:\n        end = time.time() + 60\n"
            f"        while not os.path.exists({str(gate)!r}) and time.time() < end: time.sleep(0.05)\n"
            "print('oops', file=sys.stderr)")
    doc.set_value(cmd, "args", ["-u", "-c", code])
    window.canvas.select([cmd])
    click(window, window.runs.act_run)
    # lines arrive while the node still runs
    qtbot.waitUntil(lambda: "line 1" in window.log_panel.plain_text(), timeout=30_000)
    assert window.run.running
    gate.touch()
    wait_finished(qtbot, window)
    text = window.log_panel.plain_text()
    assert "line 5" in text and "oops" in text
    assert window.log_panel.header.text().startswith(f"{cmd}: succeeded")
    # after the run, a finished command node's log is read from its files
    window.canvas.select([])
    qtbot.waitUntil(lambda: window.log_panel.node is None)
    window.run.info(cmd).log.clear()
    window.canvas.select([cmd])
    qtbot.waitUntil(lambda: "line 3" in window.log_panel.plain_text())


def test_plot_figure_is_viewable(window, qtbot, example):
    window.files.open_path(example("numpy_plot.nc"))
    click(window, window.runs.act_run)
    wait_finished(qtbot, window)
    assert window.run.last_state == "succeeded"
    window.canvas.frame_all()
    item = window.canvas.item("plot")
    pos = window.canvas.viewer.mapFromScene(item.sceneBoundingRect().center())
    QTest.mouseDClick(window.canvas.viewer.viewport(), QtCore.Qt.MouseButton.LeftButton,
                      QtCore.Qt.KeyboardModifier.NoModifier, pos)
    qtbot.waitUntil(lambda: window.figure_panel.path is not None)
    assert window.figure_panel.path.endswith("plot.png")
    assert window.docks["figure"].isVisible()
    assert window.figure_panel.label.pixmap() is not None and not window.figure_panel.label.pixmap().isNull()


def test_failure_then_rerun_failed_and_run_selected(window, qtbot):
    doc = window.doc
    a = doc.add_node(("types", "Float"), (0, 0))
    div = doc.add_node(("math", "Divide"), (250, 0))
    neg = doc.add_node(("math", "Negate"), (500, 0))
    doc.set_value(a, "float", 8.0)
    doc.set_value(div, "divisor", 0.0)
    doc.connect((a, "float"), (div, "dividend"))
    doc.connect((div, "result"), (neg, "input"))
    click(window, window.runs.act_run)
    wait_finished(qtbot, window)
    assert window.run.last_state == "failed"
    assert (window.canvas.state_of(a), window.canvas.state_of(div), window.canvas.state_of(neg)) == (
        "succeeded", "failed", "skipped")
    assert "zero" in window.canvas.item(div).note  # why, on the node
    window.canvas.select([div])
    qtbot.waitUntil(lambda: "zero" in window.log_panel.plain_text())
    assert window.runs.act_rerun.isEnabled()
    doc.set_value(div, "divisor", 2.0)
    click(window, window.runs.act_rerun)
    wait_finished(qtbot, window)
    assert window.run.last_state == "succeeded"
    assert window.canvas.item(neg)._values["result"] == "-4"
    # Run selected + downstream: only the divide and what follows it run
    window.canvas.select([div])
    click(window, window.runs.act_run_selected)
    qtbot.waitUntil(lambda: window.canvas.state_of(neg) == "succeeded", timeout=RUN_TIMEOUT_MS)
    wait_finished(qtbot, window)
    assert window.canvas.state_of(a) is None
    assert set(window.run.nodes) == {div, neg}


def test_run_selected_needs_a_selection(window):
    window.doc.add_node(("types", "Float"))
    window.canvas.select([])
    window.runs.act_run_selected.trigger()
    assert not window.run.running
    assert "Select the nodes" in window.statusBar().currentMessage()


def test_unknown_types_ask_then_run_the_rest(window, qtbot, dialogs, tmp_path):
    import shutil

    src = tmp_path / "unknown.nc"
    shutil.copy(FIXTURES / "unknown_types.nc", src)
    window.files.open_path(str(src))
    dialogs.answers["question"] = QtWidgets.QMessageBox.StandardButton.Cancel
    window.runs.act_run.trigger()
    assert not window.run.running and "Unknown node types" in dialogs.of("question")[-1][1]
    dialogs.answers["question"] = QtWidgets.QMessageBox.StandardButton.Yes
    window.runs.act_run.trigger()
    wait_finished(qtbot, window)
    unknown = [n for n, node in window.doc.workflow.nodes.items() if window.registry.get(node.path) is None]
    assert all(window.canvas.state_of(n) == "skipped" for n in unknown)


def test_a_workflow_with_errors_is_not_started(window, qtbot):
    window.files.open_path(str(FIXTURES / "cycle.nc"))
    window.runs.act_run.trigger()
    assert not window.run.running
    assert window.statusBar().currentMessage().startswith("Cannot run: ")
    assert "cycle" in window.statusBar().currentMessage()
    assert window.docks["problems"].isVisible()


def test_executor_choices_come_from_the_config(make_window):
    cfg_slurm = {"cluster": {"host": "login"}}
    w = make_window()
    w.config = Config(app=AppSettings(default_executor="local"), slurm=cfg_slurm, server={"main": {"url": "http://x"}},
                      path=w.config.path)
    w.runs.refresh_executors()
    combo = w.runs.executor
    names = [combo.itemText(i) for i in range(combo.count())]
    assert names[:1] == ["local"] and "slurm:cluster" in names and "runner:main" in names
    assert combo.currentText() == "local"


def test_run_controller_coalesces_events(qtbot):
    """Events from the scheduler thread are folded: one state per node per refresh, logs batched."""
    rc = RunController(registry=None)
    seen, batches, changes, logs = [], [], [], []
    rc.event_received.connect(seen.append)
    rc.events_received.connect(batches.append)
    rc.states_changed.connect(changes.append)
    rc.log_appended.connect(lambda n, lines: logs.append((n, lines)))
    t = time.time()
    events = [RunEvent(EventKind.RUN_STARTED, "r1", t, data={"total": 2, "nodes": ["a", "b"]})]
    for n in ("a", "b"):
        events += [RunEvent(EventKind.NODE_QUEUED, "r1", t, n, 1), RunEvent(EventKind.NODE_STARTED, "r1", t, n, 1)]
        events += [RunEvent(EventKind.NODE_LOG, "r1", t, n, 1, {"stream": "stdout", "line": f"{n}{i}"})
                   for i in range(3)]
        events.append(RunEvent(EventKind.NODE_SUCCEEDED, "r1", t + 1, n, 1, {"outputs": {"x": 1}}))
    for ev in events:
        rc._queue.put(ev)  # what the scheduler thread does
    rc.drain()
    assert seen == events and batches == [events]
    assert len(changes) == 1 and {n: i.state for n, i in changes[0].items()} == {"a": "succeeded", "b": "succeeded"}
    assert logs == [("a", [("stdout", "a0"), ("stdout", "a1"), ("stdout", "a2")]),
                    ("b", [("stdout", "b0"), ("stdout", "b1"), ("stdout", "b2")])]
    assert rc.info("a").duration == pytest.approx(1.0)


def test_screenshot_of_the_main_window_after_a_run(window, qtbot, example):
    """Saves resources/screenshot.png (for the README): the window after a run of a small sin/cos plot."""
    window.files.open_path(example("numpy_plot.nc"))
    doc = window.doc
    doc.move_nodes({"range": (0, 80), "trig": (330, 0), "plot": (680, 90)})
    cos = doc.paste(doc.fragment(["trig"]), offset=(0, 190))[0]
    doc.set_value(cos, "operation", "cos")
    doc.connect(("range", "range"), (cos, "input"))
    doc.connect((cos, "array"), ("plot", "y"))
    doc.set_value("plot", "title", "sin and cos")
    doc.set_name("trig", "Trig sin")
    doc.set_name(cos, "Trig cos")
    click(window, window.runs.act_run)
    wait_finished(qtbot, window)
    assert window.run.last_state == "succeeded"
    window.resizeDocks([window.docks["figure"]], [330], QtCore.Qt.Orientation.Vertical)
    window.canvas.select(["plot"])
    qtbot.waitUntil(lambda: window.properties.name == "plot")
    window.show_figure("plot")
    window.canvas.frame_all()
    QTest.qWait(300)
    image = window.grab()
    out = REPO / "resources" / "screenshot.png"
    assert image.save(str(out))
    assert out.stat().st_size > 20_000
