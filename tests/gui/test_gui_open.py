"""Opening files: real Nodeworks files are drawn whole; broken ones give a dialog; unknown types survive."""
from __future__ import annotations

import json
import shutil

import pytest
from conftest import EXAMPLES, FIXTURES
from gui_helpers import connections, drawn_connections, file_json

import nodeflow
from nodeflow.engine.settings import SETTINGS_NODE, WorkflowSettings

pytestmark = pytest.mark.gui


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.nc")))
def test_open_example_shows_every_node_and_connection(window, example, name):
    path = example(name)
    assert window.files.open_path(path)
    wf = nodeflow.load(path)
    assert sorted(window.canvas.node_names()) == sorted(wf.nodes)
    assert sorted(window.canvas.pipe_names()) == sorted(wf.connections)
    # every pipe joins the ports the file names
    assert drawn_connections(window) == connections(window) == {(c.input, c.output) for c in wf.connections.values()}
    for name_, node in wf.nodes.items():
        item = window.canvas.item(name_)
        assert item.name == node.name
        assert (item.x(), item.y()) == (node.pos[0], node.pos[1])
        assert [p.name for p in item.inputs] == [t for t, term in node.terminals.items() if term.is_input]
        assert [p.name for p in item.outputs] == [t for t, term in node.terminals.items() if term.is_output]
    assert name in window.windowTitle() and not window.isWindowModified()
    # NodeGraphQt's own model knows the nodes too (it is the view; nodeflow's model is the truth)
    assert len(window.canvas.graph.all_nodes()) == len(wf.nodes)


def test_arithmetic_values_are_shown_on_the_nodes(window, example):
    window.files.open_path(example("arithmetic.nc"))
    assert window.canvas.item("float")._values["float"] == "5"
    assert window.canvas.item("float.1")._values["float"] == "87"


def test_broken_json_gives_the_loaders_message_in_a_dialog(window, dialogs, example):
    good = example("arithmetic.nc")
    assert window.files.open_path(good)
    before = set(window.canvas.node_names())
    assert not window.files.open_path(str(FIXTURES / "bad_json.nc"))
    (kind, title, text), = dialogs.of("critical")
    assert "line 3, column" in text and "bad_json.nc" in text
    # nothing changed, and the window still works
    assert set(window.canvas.node_names()) == before and window.doc.path == good
    window.doc.add_node(("types", "Float"))
    assert len(window.canvas.node_names()) == len(before) + 1


@pytest.mark.parametrize("content, expect", [
    ('{"a": {"type": "Node", "name": "A", "terminals": {}}}', "field 'path'"),
    ('[1, 2]', "one JSON object"),
    ('{"c": {"type": "Connection", "input": ["x", "y"], "output": ["z", "w"]}}', "does not exist"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
])
def test_other_broken_files_never_crash(window, dialogs, tmp_path, content, expect):
    path = tmp_path / "broken.nc"
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    assert not window.files.open_path(str(path))
    assert expect in dialogs.of("critical")[-1][2]


def test_missing_file_gives_a_dialog(window, dialogs, tmp_path):
    assert not window.files.open_path(str(tmp_path / "nope.nc"))
    assert "nope.nc" in dialogs.of("critical")[-1][2]


def test_unknown_node_types_are_drawn_unknown_and_saved_back_unchanged(window, qtbot, tmp_path):
    src = tmp_path / "unknown_types.nc"
    shutil.copy(FIXTURES / "unknown_types.nc", src)
    assert window.files.open_path(str(src))
    wf = nodeflow.load(src)
    unknown = [n for n, node in wf.nodes.items() if window.registry.get(node.path) is None]
    assert unknown
    for n in unknown:
        item = window.canvas.item(n)
        assert item._unknown, n
        # their terminals come from the file
        assert [p.name for p in item.inputs + item.outputs] == [
            t for t, term in wf.nodes[n].terminals.items() if term.is_input or term.is_output]
    # the problems dock says so, as a warning
    qtbot.waitUntil(lambda: any(p.code == "unknown-type" for p in window.problems.problems))
    out = tmp_path / "saved.nc"
    assert window.files.save_as(str(out))
    assert file_json(out) == file_json(src)  # the same JSON object, key order included


def test_hidden_settings_node_is_not_drawn_but_saved_back(window, tmp_path):
    wf = nodeflow.load(EXAMPLES / "arithmetic.nc")
    WorkflowSettings(failure_policy="stop", jobs=3).store(wf)
    src = tmp_path / "with_settings.nc"
    nodeflow.save(wf, src)
    assert window.files.open_path(str(src))
    assert SETTINGS_NODE not in window.canvas.node_names()
    window.doc.add_node(("types", "Float"), (500, 500))  # an edit, then save
    out = tmp_path / "out.nc"
    assert window.files.save_as(str(out))
    saved = json.loads(out.read_text())
    assert saved[SETTINGS_NODE] == json.loads(src.read_text())[SETTINGS_NODE]


def test_cycle_is_listed_and_its_members_highlighted(window, qtbot):
    assert window.files.open_path(str(FIXTURES / "cycle.nc"))
    qtbot.waitUntil(lambda: any(p.code == "cycle" for p in window.problems.problems))
    cycle = next(p for p in window.problems.problems if p.code == "cycle")
    for n in cycle.nodes:
        assert window.canvas.item(n).marked
    others = set(window.canvas.node_names()) - set(cycle.nodes)
    assert not any(window.canvas.item(n).marked for n in others)
    # clicking the problem selects and centres its nodes
    row = window.problems.problems.index(cycle)
    item = window.problems.tree.topLevelItem(row)
    window.problems.tree.itemClicked.emit(item, 0)
    assert set(window.canvas.selected_names()) == set(cycle.nodes)


def test_clicking_a_problem_selects_and_centres_its_node(window, qtbot, tmp_path):
    wf = nodeflow.load(EXAMPLES / "arithmetic.nc")
    wf.nodes["power"].pos = [5000.0, 3000.0]
    # a second link into a single input cannot be drawn by hand; a file can still hold one
    wf.connect(("float.0", "float"), ("power", "base"))
    path = tmp_path / "two_into_one.nc"
    nodeflow.save(wf, path)
    assert window.files.open_path(str(path))
    qtbot.waitUntil(lambda: bool(window.problems.problems))
    problem = window.problems.problems[0]
    assert problem.is_error and problem.code == "multi" and problem.uniquename == "power"
    window.problems.tree.itemClicked.emit(window.problems.tree.topLevelItem(0), 0)
    assert window.canvas.selected_names() == ["power"]
    viewer = window.canvas.viewer
    at = viewer.mapFromScene(window.canvas.item("power").sceneBoundingRect().center())
    mid = viewer.viewport().rect().center()
    size = viewer.viewport().rect()
    assert abs(at.x() - mid.x()) < size.width() * 0.05 and abs(at.y() - mid.y()) < size.height() * 0.05
