"""File handling for the window: New, Open, Open Recent, Save, Save As, Revert, recovery.

``FileController`` owns the conversation with the user about files: it asks
before discarding unsaved changes, shows the loader's message when a file
cannot be read (a ``WorkflowFileError`` names line/column or the object and
field at fault) — the window never crashes on a file —, keeps the recent-files
list (``state_dir()/recent.json``) and, on start, offers to recover what an
autosave kept after a crash. The document does the reading and writing.
"""
from __future__ import annotations

import json
import os

from PySide6 import QtCore, QtWidgets

from .. import appdirs
from ..model import WorkflowFileError
from ..model.fileio import atomic_write_text
from .autosave import Autosaver, find_recoverable

FILE_FILTER = "Nodeworks workflows (*.nc *.json);;All files (*)"
RECENT_MAX = 10
Btn = QtWidgets.QMessageBox.StandardButton


def recent_path():
    return appdirs.state_dir() / "recent.json"


class FileController(QtCore.QObject):
    recent_changed = QtCore.Signal()
    opened = QtCore.Signal(str)

    def __init__(self, window: QtWidgets.QWidget, document, autosaver: Autosaver):
        super().__init__(window)
        self.window = window
        self.doc = document
        self.autosaver = autosaver
        self.last_error: str | None = None

    # -- asking ---------------------------------------------------------------
    def maybe_discard(self) -> bool:
        """True when the current workflow may be replaced (saved, discarded, or unchanged)."""
        if not self.doc.modified:
            return True
        answer = QtWidgets.QMessageBox.warning(
            self.window, "Unsaved changes",
            f"{self.doc.title} has changes that are not saved.\nSave them first?",
            Btn.Save | Btn.Discard | Btn.Cancel, Btn.Save)
        if answer == Btn.Save:
            return self.save()
        if answer == Btn.Discard:
            self.autosaver.discard()
            return True
        return False

    def _error(self, title: str, message: str) -> None:
        self.last_error = message
        QtWidgets.QMessageBox.critical(self.window, title, message)

    # -- actions ----------------------------------------------------------------
    def new(self) -> bool:
        if not self.maybe_discard():
            return False
        self.doc.new()
        return True

    def open(self) -> bool:
        if not self.maybe_discard():
            return False
        start = os.path.dirname(self.doc.path) if self.doc.path else os.getcwd()
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self.window, "Open workflow", start, FILE_FILTER)
        return self.open_path(path, ask=False) if path else False

    def open_path(self, path: str, *, ask: bool = True) -> bool:
        """Open ``path``; on a bad file show why and keep the current workflow."""
        if ask and not self.maybe_discard():
            return False
        try:
            self.doc.open(path)
        except WorkflowFileError as e:
            self._error("Cannot open workflow", f"This file is not a workflow nodeflow can read:\n\n{e}")
            return False
        except OSError as e:
            self._error("Cannot open workflow", f"{path}: {e.strerror or e}")
            return False
        except Exception as e:  # a loader bug must not take the window (and other work) down
            self._error("Cannot open workflow", f"{path}: {type(e).__name__}: {e}")
            return False
        self.push_recent(self.doc.path)
        self.opened.emit(self.doc.path)
        return True

    def save(self) -> bool:
        if not self.doc.path:
            return self.save_as()
        return self._save_to(self.doc.path)

    def save_as(self, path: str | None = None) -> bool:
        if path is None:
            start = self.doc.path or os.path.join(os.getcwd(), "workflow.nc")
            path, _ = QtWidgets.QFileDialog.getSaveFileName(self.window, "Save workflow as", start, FILE_FILTER)
            if not path:
                return False
            if not os.path.splitext(path)[1]:
                path += ".nc"
        return self._save_to(path)

    def _save_to(self, path: str) -> bool:
        try:
            self.doc.save(path)
        except (OSError, TypeError, ValueError) as e:
            msg = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            self._error("Cannot save workflow", f"{path}: {msg}\n\nThe file on disk was not changed.")
            return False
        self.autosaver.discard()
        self.push_recent(self.doc.path)
        return True

    def revert(self) -> bool:
        if not self.doc.path:
            return False
        if self.doc.modified:
            answer = QtWidgets.QMessageBox.question(
                self.window, "Revert", f"Throw away every change since {self.doc.title} was last saved?",
                Btn.Yes | Btn.No, Btn.No)
            if answer != Btn.Yes:
                return False
        self.autosaver.discard()
        return self.open_path(self.doc.path, ask=False)

    # -- recovery ------------------------------------------------------------------
    def offer_recovery(self) -> bool:
        """After a crash: offer each autosave left behind; True if one was recovered."""
        for rec in find_recoverable():
            answer = QtWidgets.QMessageBox.question(
                self.window, "Recover unsaved work?",
                f"nodeflow did not close normally. Unsaved changes to {rec.describe()} were kept.\n\n"
                "Recover them? (No throws them away.)", Btn.Yes | Btn.No | Btn.Cancel, Btn.Yes)
            if answer == Btn.Yes:
                try:
                    text = rec.autosave.read_text("utf-8")
                    self.doc.open_text(text, rec.original, modified=True)
                except (OSError, WorkflowFileError) as e:
                    self._error("Cannot recover", f"The autosave could not be read:\n\n{e}")
                    continue
                rec.discard()
                return True
            if answer == Btn.No:
                rec.discard()
        return False

    # -- recent files ------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        try:
            items = json.loads(recent_path().read_text("utf-8"))
        except (OSError, ValueError):
            return []
        return [p for p in items if isinstance(p, str)][:RECENT_MAX]

    def push_recent(self, path: str | None) -> None:
        if not path:
            return
        items = [p for p in self.recent_files() if p != path]
        items.insert(0, path)
        try:
            recent_path().parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(recent_path(), json.dumps(items[:RECENT_MAX], indent=1))
        except OSError:
            return  # a read-only state folder must not stop the user working
        self.recent_changed.emit()

    def clear_recent(self) -> None:
        try:
            recent_path().unlink()
        except FileNotFoundError:
            pass
        self.recent_changed.emit()
