"""Autosave and crash recovery, settings, the ``nodeflow gui`` command, dropping files, the icon."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import EXAMPLES, REPO
from PySide6 import QtCore, QtGui, QtWidgets

from nodeflow.config import load_config
from nodeflow.gui import autosave
from nodeflow.gui.style import DARK, LIGHT
from nodeflow.model import dumps

pytestmark = pytest.mark.gui


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_autosave_writes_the_document_and_a_save_removes_it(window, example, home):
    path = example("arithmetic.nc")
    window.files.open_path(path)
    assert window.autosaver.autosave_now() is None  # nothing changed: nothing written
    window.doc.add_node(("types", "Float"), (10, 10))
    nc = window.autosaver.autosave_now()
    window.autosaver.wait()
    assert nc is not None and nc.parent == home / "state" / "autosave"
    assert nc.read_text() == dumps(window.doc.workflow)
    meta = json.loads(nc.with_suffix(".json").read_text())
    assert meta["path"] == path and meta["pid"] == os.getpid()
    assert window.autosaver.autosave_now() is None  # no change since the last one
    window.files.save()
    assert not nc.exists() and not nc.with_suffix(".json").exists()


def test_autosave_interval_follows_the_settings(window):
    assert window.autosaver._timer.interval() == 60_000
    window.config.app.autosave_interval_s = 15
    window.apply_settings()
    assert window.autosaver._timer.interval() == 15_000


def _crash_leftover(window, edit):
    """Edit, autosave, then make the autosave look like one a crashed process left."""
    edit()
    nc = window.autosaver.autosave_now()
    window.autosaver.wait()
    meta_path = nc.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta["pid"] = dead_pid()
    meta_path.write_text(json.dumps(meta))
    return nc, nc.read_text()


def test_recovery_after_a_crash(make_window, example, dialogs):
    path = example("arithmetic.nc")
    first = make_window()
    first.files.open_path(path)
    nc, text = _crash_leftover(first, lambda: first.doc.remove_nodes(["root"]))
    # a new window finds it and offers it
    second = make_window()
    assert second.files.offer_recovery()
    (kind, title, msg), = dialogs.of("question")
    assert "Recover" in title and "arithmetic.nc" in msg
    assert dumps(second.doc.workflow) == text and "root" not in second.doc.workflow.nodes
    assert second.doc.path == path and second.doc.modified and second.isWindowModified()
    assert not nc.exists()  # taken: not offered again
    assert not second.files.offer_recovery()


def test_recovery_can_be_declined_and_is_not_offered_for_newer_files(make_window, example, dialogs):
    path = example("arithmetic.nc")
    w = make_window()
    w.files.open_path(path)
    nc, _text = _crash_leftover(w, lambda: w.doc.add_node(("types", "Float")))
    dialogs.answers["question"] = QtWidgets.QMessageBox.StandardButton.No
    assert not w.files.offer_recovery()
    assert not nc.exists()  # declined: thrown away
    nc, _text = _crash_leftover(w, lambda: w.doc.add_node(("types", "Float")))
    os.utime(path, None)  # the file was saved after the autosave: nothing to recover
    later = os.stat(path).st_mtime + 5
    os.utime(path, (later, later))
    assert autosave.find_recoverable() == []


def test_untitled_work_is_recoverable_too(make_window, dialogs):
    w = make_window()
    _crash_leftover(w, lambda: w.doc.add_node(("math", "Power")))
    w2 = make_window()
    assert w2.files.offer_recovery()
    assert w2.doc.path is None and "power" in w2.doc.workflow.nodes


def test_settings_dialog_saves_the_config(window, monkeypatch, home):
    from nodeflow.gui.settings_dialog import SettingsDialog

    def fake_exec(dlg):
        dlg.theme.setCurrentText("light")
        dlg.jobs.setValue(3)
        dlg.autosave.setValue(120)
        return QtWidgets.QDialog.DialogCode.Accepted

    monkeypatch.setattr(SettingsDialog, "exec", fake_exec)
    assert window.canvas.style is DARK
    window.act_settings.trigger()
    cfg = load_config(home / "config" / "config.toml")
    assert (cfg.app.theme, cfg.app.jobs, cfg.app.autosave_interval_s, cfg.app.default_executor) == (
        "light", 3, 120, "local")
    assert window.canvas.style is LIGHT and window.autosaver._timer.interval() == 120_000
    assert QtWidgets.QApplication.instance().palette().color(QtGui.QPalette.ColorRole.Window).lightness() > 128
    from nodeflow.gui.theme import apply_theme

    apply_theme(QtWidgets.QApplication.instance(), "dark")


def test_dropping_a_workflow_file_on_the_canvas_opens_it(window, example):
    path = example("arithmetic.nc")
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(path)])
    ev = QtGui.QDropEvent(QtCore.QPointF(50, 50), QtCore.Qt.DropAction.CopyAction, mime,
                          QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.NoModifier)
    window.canvas.viewer.dropEvent(ev)
    assert window.doc.path == path and "power" in window.canvas.node_names()


def test_gui_command_and_plain_nodeflow_open_the_editor(monkeypatch):
    from nodeflow import cli
    from nodeflow.commands import gui_cmd

    args = cli.build_parser().parse_args(["gui", "flow.nc"])
    assert args.handler is gui_cmd.run and args.file == "flow.nc"
    called = []
    monkeypatch.setattr("nodeflow.gui.app.run", lambda path=None, **kw: called.append(path) or 0)
    assert cli.main(["gui", "flow.nc"]) == 0
    assert cli.main([]) == 0  # plain `nodeflow`
    assert called == ["flow.nc", None]


def test_app_run_opens_the_file_and_offers_recovery(qtbot, home, dialogs, example):
    from nodeflow.gui import app

    path = example("arithmetic.nc")
    before = set(QtWidgets.QApplication.topLevelWidgets())
    assert app.run(path, exec_loop=False) == 0
    from nodeflow.gui.main_window import MainWindow

    windows = [w for w in QtWidgets.QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w not in before]
    assert len(windows) == 1
    w = windows[0]
    try:
        assert w.doc.path == path and "power" in w.canvas.node_names()
        assert not w.windowIcon().isNull()
    finally:
        w.close()
        w.deleteLater()


def test_cli_without_gui_never_imports_qt():
    code = ("import sys\nfrom nodeflow import cli\ncli.build_parser()\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'NodeGraphQt', 'shiboken6')]\n"
            "print(bad)\nsys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_desktop_entry_and_icon():
    entry = (REPO / "packaging" / "nodeflow.desktop").read_text()
    assert "[Desktop Entry]" in entry and "Exec=nodeflow gui %f" in entry and "Icon=nodeflow" in entry
    svg = REPO / "resources" / "icons" / "nodeflow.svg"
    png = REPO / "resources" / "icons" / "nodeflow.png"
    assert QtGui.QIcon(str(svg)).pixmap(64, 64).isNull() is False
    image = QtGui.QImage(str(png))
    assert image.width() == image.height() >= 256
    assert EXAMPLES.is_dir()
