"""Fixtures for the editor tests: a main window in a private home, and recorded dialogs.

Every test runs offscreen (tests/conftest.py) with ``NODEFLOW_HOME`` pointed at
its own temporary folder (autosaves, recent files, history, run folders).
Message boxes and file dialogs never block: they are recorded in ``dialogs``
and answer what the test set (by default Yes to questions and Discard to
"save changes?").
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PySide6 import QtWidgets

from nodeflow.config import AppSettings, Config
from nodeflow.gui import qtsetup

qtsetup.apply()

Btn = QtWidgets.QMessageBox.StandardButton
REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "resources" / "examples"
FIXTURES = REPO / "tests" / "fixtures" / "model"


class Dialogs:
    """Stands in for QMessageBox / QFileDialog static functions."""

    def __init__(self):
        self.calls: list[tuple[str, str, str]] = []  # (kind, title, text)
        self.answers = {"question": Btn.Yes, "warning": Btn.Discard}
        self.open_path = ""
        self.save_path = ""

    def of(self, kind: str) -> list[tuple[str, str, str]]:
        return [c for c in self.calls if c[0] == kind]

    def _box(self, kind):
        def box(parent, title, text, *args, **kwargs):
            self.calls.append((kind, title, text))
            return self.answers.get(kind, Btn.Ok)
        return staticmethod(box)


@pytest.fixture
def dialogs(monkeypatch):
    d = Dialogs()
    for kind in ("critical", "warning", "question", "information"):
        monkeypatch.setattr(QtWidgets.QMessageBox, kind, d._box(kind))
    monkeypatch.setattr(QtWidgets.QMessageBox, "about", staticmethod(lambda *a, **k: d.calls.append(("about", "", ""))))
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (d.open_path, "")))
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (d.save_path, "")))
    return d


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("NODEFLOW_HOME", str(h))
    return h


@pytest.fixture
def make_window(qtbot, tmp_path, home, dialogs):
    from nodeflow.gui.main_window import MainWindow

    made = []

    def make(**kw):
        cfg = Config(app=AppSettings(jobs=2), path=home / "config" / "config.toml")
        w = MainWindow(config=cfg, history_path=tmp_path / "history.sqlite", runs_dir=tmp_path / "runs", **kw)
        qtbot.addWidget(w)
        w.resize(1400, 880)
        with qtbot.waitExposed(w):
            w.show()
        made.append(w)
        return w

    yield make
    for w in made:
        if w.run.running:
            w.run.stop()
            w.run.wait(30)


@pytest.fixture
def window(make_window):
    return make_window()


@pytest.fixture
def example(tmp_path):
    """A copy of an example workflow in the test's folder (runs write next to nothing of the repo)."""
    def copy(name: str) -> str:
        dst = tmp_path / name
        shutil.copy(EXAMPLES / name, dst)
        return os.fspath(dst)
    return copy
