"""Editing: palette, Tab search, drag connections, properties, undo/redo, refusals, clipboard, save/reload."""
from __future__ import annotations

import json

import pytest
from gui_helpers import connections, drag, drawn_connections, file_json
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtTest import QTest

import nodeflow
from nodeflow.model import dumps

pytestmark = pytest.mark.gui


def drop(window, path, scene_pos=(0, 0)):
    """Drop a palette entry onto the canvas (what a drag from the palette ends with)."""
    mime = window.palette.tree.mimeData([window.palette.leaf(path)])
    viewer = window.canvas.viewer
    pos = viewer.mapFromScene(QtCore.QPointF(*scene_pos))
    ev = QtGui.QDropEvent(QtCore.QPointF(pos), QtCore.Qt.DropAction.CopyAction, mime,
                          QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.NoModifier)
    viewer.dropEvent(ev)


def add_by_double_click(window, qtbot, path):
    leaf = window.palette.leaf(path)
    tree = window.palette.tree
    tree.scrollToItem(leaf)
    rect = tree.visualItemRect(leaf)
    args = (tree.viewport(), QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.NoModifier, rect.center())
    QTest.mouseClick(*args)
    QTest.mouseDClick(*args)
    return window.canvas.selected_names()[0]


def test_add_connect_edit_save_reload(window, qtbot, tmp_path):
    # three ways to add a node: double-click in the palette, drop from the palette, Tab search
    base = add_by_double_click(window, qtbot, ("types", "Float"))
    drop(window, ("types", "Float"), (0, 200))
    window.canvas.viewer.setFocus()
    QTest.keyClick(window.canvas.viewer, QtCore.Qt.Key.Key_Tab)
    assert window.canvas._search.isVisible()
    assert window.canvas._search.choose_text("power")
    assert sorted(window.doc.workflow.nodes) == ["float", "float.0", "power"]  # Nodeworks-style uniquenames
    wf = window.doc.workflow
    wf_pos = {n: list(node.pos) for n, node in wf.nodes.items()}
    window.doc.move_nodes({"power": (400, 100)})
    assert base == "float"
    # connect by dragging from port to port
    drag(window, ("float", "float"), ("power", "base"))
    drag(window, ("power", "exponent"), ("float.0", "float"))  # from the input end works too
    assert connections(window) == {(("float", "float"), ("power", "base")), (("float.0", "float"), ("power", "exponent"))}
    assert drawn_connections(window) == connections(window)
    # edit values in the properties panel
    window.canvas.select(["float"])
    qtbot.waitUntil(lambda: window.properties.name == "float")
    ed = window.properties.editor("float")
    assert isinstance(ed, QtWidgets.QDoubleSpinBox)
    ed.setValue(3.5)
    assert wf.nodes["float"].terminals["float"].value == 3.5
    window.canvas.select(["float.0"])
    qtbot.waitUntil(lambda: window.properties.name == "float.0")
    ed = window.properties.editor("float")
    ed.lineEdit().setText("2")
    QTest.keyClick(ed, QtCore.Qt.Key.Key_Return)
    assert wf.nodes["float.0"].terminals["float"].value == 2.0
    name_edit = window.properties.editor("__name__")
    name_edit.setText("Exponent")
    name_edit.editingFinished.emit()
    assert wf.nodes["float.0"].name == "Exponent"
    assert window.canvas.item("float.0").name == "Exponent"
    assert window.isWindowModified()
    # save, reload, compare
    out = tmp_path / "made.nc"
    assert window.files.save_as(str(out))
    assert not window.isWindowModified() and "made.nc" in window.windowTitle()
    saved = dumps(window.doc.workflow)
    assert window.files.open_path(str(out))
    assert dumps(window.doc.workflow) == saved
    assert connections(window) == drawn_connections(window) == {
        (("float", "float"), ("power", "base")), (("float.0", "float"), ("power", "exponent"))}
    again = nodeflow.load(out)
    assert again.nodes["float"].terminals["float"].value == 3.5
    assert again.nodes["power"].pos == [400.0, 100.0]
    assert again.nodes["float.0"].pos == wf_pos["float.0"]
    assert nodeflow.validate(again) == []


def test_undo_redo_every_change(window, qtbot, example):
    window.files.open_path(example("arithmetic.nc"))
    doc = window.doc
    states = [dumps(doc.workflow)]
    stack = doc.undo_stack

    def step(fn):
        fn()
        states.append(dumps(doc.workflow))
        assert states[-1] != states[-2], "the edit changed nothing"

    step(lambda: doc.add_node(("math", "Add"), (600, 300)))
    step(lambda: doc.move_nodes({"add": (650, 320)}))
    step(lambda: drag(window, ("float.1", "float"), ("add", "input")))
    step(lambda: doc.set_value("root", "degree", 3.0))
    step(lambda: doc.set_name("power", "Power!"))
    step(lambda: doc.set_settings("power", {"max_retries": 2, "resources": {"cpus": 2}}))
    step(lambda: doc.remove_nodes(["multiply"]))
    step(lambda: window.canvas.select(["float"]) or window.duplicate())
    # a user move in the viewer is one undo step too
    item = window.canvas.item("float")
    old = item.xy_pos
    item.setPos(old[0] + 40, old[1] + 40)
    step(lambda: window.canvas.viewer.moved_nodes.emit({item: old}))
    n = len(states) - 1
    assert stack.count() == n
    for i in range(n, 0, -1):
        stack.undo()
        assert dumps(doc.workflow) == states[i - 1], f"undo of step {i}"
        assert sorted(window.canvas.node_names()) == sorted(doc.workflow.nodes)
        assert drawn_connections(window) == connections(window)
    assert not window.isWindowModified()
    for i in range(1, n + 1):
        stack.redo()
        assert dumps(doc.workflow) == states[i], f"redo of step {i}"
        assert drawn_connections(window) == connections(window)
    assert window.isWindowModified()
    # the undo action and its shortcut work from the window
    window.act_undo.trigger()
    assert dumps(doc.workflow) == states[-2]
    assert window.canvas.item("float").xy_pos == old


def test_undo_of_delete_gives_back_the_same_file(window, example, tmp_path):
    path = example("arithmetic.nc")
    window.files.open_path(path)
    window.canvas.select(["multiply", "float.1"])
    window.act_delete.trigger()
    assert "multiply" not in window.doc.workflow.nodes
    window.doc.undo_stack.undo()
    out = tmp_path / "back.nc"
    window.files.save_as(str(out))
    assert file_json(out) == file_json(path)


@pytest.mark.parametrize("src, dst, reason", [
    (("string", "string"), ("power", "base"), "type mismatch"),
    (("float.0", "float"), ("power", "base"), "takes one connection"),
    (("power", "result"), ("power", "exponent"), "cannot be connected to itself"),
    (("subtract", "result"), ("multiply", "input"), "cycle"),
    (("float", "float"), ("float.0", "float"), "wrong direction"),
    (("power", "base"), ("root", "radicand"), "wrong direction"),
])
def test_forbidden_connections_are_refused_with_the_reason(window, example, src, dst, reason):
    window.files.open_path(example("arithmetic.nc"))
    window.doc.add_node(("types", "String"), (-200, 300))
    window.doc.undo_stack.setClean()
    before = connections(window)
    drag(window, src, dst)
    assert connections(window) == before
    assert drawn_connections(window) == before, "the refused link is not left on the canvas"
    assert reason in window.statusBar().currentMessage()
    assert window.statusBar().currentMessage().startswith("Connection refused")
    assert not window.isWindowModified()


def test_dragging_from_a_connected_input_picks_a_new_source(window, example):
    window.files.open_path(example("arithmetic.nc"))
    count = window.doc.undo_stack.count()
    # NodeGraphQt: pressing on a connected single input lifts its link; dropping on an output re-links it
    drag(window, ("power", "base"), ("float.1", "float"))
    assert (("float.1", "float"), ("power", "base")) in connections(window)
    assert (("float", "float"), ("power", "base")) not in connections(window)
    assert drawn_connections(window) == connections(window)
    assert window.doc.undo_stack.count() == count + 1  # one step
    window.doc.undo_stack.undo()
    assert (("float", "float"), ("power", "base")) in connections(window)
    assert drawn_connections(window) == connections(window)


def test_dragging_a_link_into_empty_space_disconnects(window, example):
    window.files.open_path(example("arithmetic.nc"))
    window.canvas.frame_all()
    a = window.canvas.viewer.mapFromScene(window.canvas.item("power").sceneBoundingRect().topLeft())
    from gui_helpers import LEFT, NOMOD, port_point

    vp = window.canvas.viewer.viewport()
    start = port_point(window, "power", "base")
    QTest.mousePress(vp, LEFT, NOMOD, start)
    QTest.mouseMove(vp, start + QtCore.QPoint(-60, -60))
    QTest.mouseMove(vp, a + QtCore.QPoint(-150, -150))
    QTest.mouseRelease(vp, LEFT, NOMOD, a + QtCore.QPoint(-150, -150))
    assert not any(c[1] == ("power", "base") for c in connections(window))
    assert drawn_connections(window) == connections(window)


def test_keyboard_delete_and_undo_on_the_canvas(window, qtbot, example):
    window.files.open_path(example("arithmetic.nc"))
    viewer = window.canvas.viewer
    viewer.setFocus()
    window.canvas.select(["root"])
    QTest.keyClick(viewer, QtCore.Qt.Key.Key_Delete)
    assert "root" not in window.doc.workflow.nodes
    QTest.keyClick(viewer, QtCore.Qt.Key.Key_Z, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert "root" in window.doc.workflow.nodes and "root" in window.canvas.node_names()
    QTest.keyClick(viewer, QtCore.Qt.Key.Key_A, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert len(window.canvas.selected_names()) == 7
    # in a text field the same keys edit the text, not the workflow
    window.canvas.select(["float"])
    qtbot.waitUntil(lambda: window.properties.name == "float")
    name_edit = window.properties.editor("__name__")
    name_edit.setFocus()
    QTest.keyClick(name_edit, QtCore.Qt.Key.Key_Delete)
    assert "float" in window.doc.workflow.nodes


def test_copy_paste_duplicate_select_all(window, example):
    window.files.open_path(example("arithmetic.nc"))
    window.canvas.select(["float", "power"])
    window.act_copy.trigger()
    window.act_paste.trigger()
    new = window.canvas.selected_names()
    assert sorted(new) == ["float.2", "power.0"]
    wf = window.doc.workflow
    assert (("float.2", "float"), ("power.0", "base")) in connections(window)
    assert wf.nodes["power.0"].pos == [wf.nodes["power"].pos[0] + 30, wf.nodes["power"].pos[1] + 30]
    window.act_duplicate.trigger()
    assert len(window.canvas.selected_names()) == 2
    window.act_select_all.trigger()
    assert len(window.canvas.selected_names()) == len(wf.nodes)
    window.act_delete.trigger()
    assert wf.nodes == {} and window.canvas.node_names() == [] and window.canvas.pipe_names() == []
    # pasting text that is not nodes is refused politely
    QtWidgets.QApplication.clipboard().setText("hello")
    window.act_paste.trigger()
    assert "Nothing to paste" in window.statusBar().currentMessage()


def test_properties_widgets_follow_terminal_opts(window, qtbot):
    doc = window.doc
    cases = {("numpy", "Range"): {"type": QtWidgets.QComboBox, "start": QtWidgets.QDoubleSpinBox},
             ("numpy", "Linspace"): {"num": QtWidgets.QSpinBox},
             ("types", "String"): {"string": QtWidgets.QLineEdit},
             ("types", "Boolean"): {"bool": QtWidgets.QCheckBox},
             ("files", "Read Text"): {"path": QtWidgets.QWidget},
             ("shell", "Command"): {"command": QtWidgets.QLineEdit, "args": QtWidgets.QLineEdit}}
    for path, editors in cases.items():
        name = doc.add_node(path)
        window.canvas.select([name])
        qtbot.waitUntil(lambda n=name: window.properties.name == n)
        for term, cls in editors.items():
            assert isinstance(window.properties.editor(term), cls), (path, term)
    # combobox items and spin box minimum come from opts
    window.canvas.select(["range"])
    qtbot.waitUntil(lambda: window.properties.name == "range")
    combo = window.properties.editor("type")
    assert [combo.itemText(i) for i in range(combo.count())][:3] == ["int", "int8", "int16"]
    combo.setCurrentText("int")
    assert doc.workflow.nodes["range"].terminals["type"].value == "int"
    window.canvas.select(["linspace"])
    qtbot.waitUntil(lambda: window.properties.name == "linspace")
    assert window.properties.editor("num").minimum() == 0
    # file browse, JSON-ish args, checkbox
    window.canvas.select(["read text"])
    qtbot.waitUntil(lambda: window.properties.name == "read text")
    browse = window.properties.editor("path")
    assert browse.browsetype == "file" and browse.button.text() == "…"
    window.canvas.select(["command"])
    qtbot.waitUntil(lambda: window.properties.name == "command")
    args = window.properties.editor("args")
    args.setText('["-n", "3"]')
    args.editingFinished.emit()
    assert doc.workflow.nodes["command"].terminals["args"].value == ["-n", "3"]
    window.canvas.select(["boolean"])
    qtbot.waitUntil(lambda: window.properties.name == "boolean")
    window.properties.editor("bool").setChecked(True)
    assert doc.workflow.nodes["boolean"].terminals["bool"].value is True
    # an undo shows in the open panel without rebuilding it
    doc.undo_stack.undo()
    assert window.properties.editor("bool").isChecked() is False


def test_node_run_settings_edit(window, qtbot):
    name = window.doc.add_node(("math", "Power"))
    window.canvas.select([name])
    qtbot.waitUntil(lambda: window.properties.name == name)
    s = window.properties.setting
    s("max_retries").setValue(3)
    s("timeout_s").setValue(60)
    s("resources").setText("cpus=2, mem=4G")
    s("resources").editingFinished.emit()
    s("isolate").setChecked(True)
    s("executor").setCurrentText("local")
    s("executor").lineEdit().editingFinished.emit()
    from nodeflow.engine.settings import NodeSettings

    got = NodeSettings.of(window.doc.workflow.nodes[name])
    assert (got.max_retries, got.timeout_s, got.resources, got.isolate, got.executor) == (
        3, 60.0, {"cpus": 2, "mem": "4G"}, True, "local")
    s("resources").setText("cpus")
    s("resources").editingFinished.emit()
    assert "Resources not changed" in window.statusBar().currentMessage()


def test_asks_before_discarding_unsaved_changes(window, dialogs, example):
    window.files.open_path(example("arithmetic.nc"))
    window.doc.add_node(("types", "Float"))
    assert window.isWindowModified() and window.windowTitle().startswith("arithmetic.nc")
    dialogs.answers["warning"] = QtWidgets.QMessageBox.StandardButton.Cancel
    assert not window.files.new()
    assert "float.2" in window.doc.workflow.nodes
    assert "not saved" in dialogs.of("warning")[-1][2]
    dialogs.answers["warning"] = QtWidgets.QMessageBox.StandardButton.Discard
    assert window.files.new()
    assert window.doc.workflow.nodes == {} and window.windowTitle().startswith("Untitled")


def test_save_as_from_untitled_asks_for_a_name(window, dialogs, tmp_path):
    window.doc.add_node(("types", "Float"))
    dialogs.save_path = str(tmp_path / "picked")
    window.act_save.trigger()
    assert (tmp_path / "picked.nc").exists()
    assert json.loads((tmp_path / "picked.nc").read_text())["float"]["path"] == ["types", "Float"]


def test_revert_and_recent_files(window, example, dialogs):
    path = example("arithmetic.nc")
    window.files.open_path(path)
    window.doc.remove_nodes(["power"])
    assert window.files.revert()
    assert "power" in window.doc.workflow.nodes and not window.isWindowModified()
    assert window.files.recent_files()[0] == path
    window._fill_recent()
    assert path in [a.text() for a in window.recent_menu.actions()]


def test_palette_search_filters_and_enter_adds(window, qtbot):
    pal = window.palette
    assert ("nodeflow", "Workflow Settings") not in pal.visible_paths()  # hidden types are not offered
    QTest.keyClicks(pal.search, "pow")
    assert pal.visible_paths() == [("math", "Power")]
    QTest.keyClick(pal.search, QtCore.Qt.Key.Key_Return)
    assert list(window.doc.workflow.nodes) == ["power"]
    assert window.canvas.selected_names() == ["power"]
    pal.search.clear()
    assert len(pal.visible_paths()) > 20
