"""Autosave and crash recovery (DESIGN rule 6: nothing a user drew is lost).

Every ``interval`` seconds, if the document changed since the last autosave,
its text is written atomically to ``appdirs.state_dir()/autosave/<key>.nc``
with a ``<key>.json`` beside it naming the original file (or none), the time
and this process's id. The key is a hash of the file's path ("untitled-…" for
a new workflow). A clean save, a discard or a normal close removes them.

On start, ``find_recoverable()`` lists autosaves whose process is gone and
that are newer than their file (or whose workflow never had a file): those
are what a crash left behind, and the window offers to recover them.

Serialising a big workflow takes a while, so only the cheap ``to_dict`` runs
on the GUI thread; JSON text and the write happen on a short worker thread.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6 import QtCore

from .. import appdirs
from ..model.fileio import atomic_write_text
from ..model.nodeworks import to_dict
from ..model.values import json_default


def autosave_dir() -> Path:
    return appdirs.state_dir() / "autosave"


def key_for(path: str | None, untitled_id: str) -> str:
    if not path:
        return f"untitled-{untitled_id}"
    return hashlib.blake2b(os.path.abspath(path).encode(), digest_size=8).hexdigest()


@dataclass
class Recoverable:
    autosave: Path
    meta: Path
    original: str | None
    saved_at: float

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved_at))
        return f"{self.original or 'an untitled workflow'} (autosaved {when})"

    def discard(self) -> None:
        for p in (self.autosave, self.meta):
            try:
                p.unlink()
            except FileNotFoundError:
                pass


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own earlier run in this process cannot be "alive elsewhere"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def find_recoverable() -> list[Recoverable]:
    """Autosaves left by a crash: their process is gone and they are newer than their file."""
    found = []
    folder = autosave_dir()
    if not folder.is_dir():
        return found
    for meta in sorted(folder.glob("*.json")):
        nc = meta.with_suffix(".nc")
        try:
            info = json.loads(meta.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if not nc.exists():
            continue
        pid = info.get("pid")
        if isinstance(pid, int) and _alive(pid):
            continue  # another window is still working on it
        original = info.get("path")
        saved_at = float(info.get("saved_at") or nc.stat().st_mtime)
        if original and os.path.exists(original) and os.stat(original).st_mtime >= saved_at:
            continue  # the file was saved after the autosave: nothing to recover
        found.append(Recoverable(nc, meta, original, saved_at))
    return found


class Autosaver(QtCore.QObject):
    saved = QtCore.Signal(str)  # path of the autosave written

    def __init__(self, document, interval_s: int = 60, parent=None):
        super().__init__(parent)
        self.doc = document
        self._untitled = f"{os.getpid()}-{int(time.time())}"
        self._timer = QtCore.QTimer(self)
        self._timer.timeout.connect(self.autosave_now)
        self._saved_revision = document.revision
        self._current_key: str | None = None
        self._thread: threading.Thread | None = None
        self.set_interval(interval_s)
        document.path_changed.connect(self._on_path_changed)
        document.modified_changed.connect(self._on_modified)

    def set_interval(self, seconds: int) -> None:
        self._timer.start(max(5, int(seconds)) * 1000)

    def paths(self) -> tuple[Path, Path]:
        key = key_for(self.doc.path, self._untitled)
        folder = autosave_dir()
        return folder / f"{key}.nc", folder / f"{key}.json"

    def autosave_now(self) -> Path | None:
        """Write the autosave if the document changed since the last one; returns its path."""
        doc = self.doc
        if not doc.modified or doc.revision == self._saved_revision:
            return None
        if self._thread is not None and self._thread.is_alive():
            return None  # the last one is still being written
        nc, meta = self.paths()
        data = to_dict(doc.workflow)
        info = {"path": doc.path, "saved_at": time.time(), "pid": os.getpid()}
        self._saved_revision = doc.revision
        self._current_key = nc.stem

        def write():
            nc.parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps(data, indent=2, ensure_ascii=False, default=json_default) + "\n"
            atomic_write_text(nc, text)
            atomic_write_text(meta, json.dumps(info))

        self._thread = threading.Thread(target=write, name="nodeflow-autosave", daemon=True)
        self._thread.start()
        self.saved.emit(str(nc))
        return nc

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def discard(self) -> None:
        """Remove this document's autosave (after a save, a discard or a clean close)."""
        self.wait()
        nc, meta = self.paths()
        for p in (nc, meta):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
        self._saved_revision = self.doc.revision

    def _on_path_changed(self, _path) -> None:
        if self._current_key and self._current_key != self.paths()[0].stem:
            folder = autosave_dir()
            for suffix in (".nc", ".json"):
                try:
                    (folder / f"{self._current_key}{suffix}").unlink()
                except FileNotFoundError:
                    pass
            self._current_key = None

    def _on_modified(self, modified: bool) -> None:
        if not modified:
            self.discard()
