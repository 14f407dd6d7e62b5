"""The editor's side of shared servers (issue 6): push, open from server, history, runners.

``ServerActions`` owns File → Push to server…, Open from server… and Server
history…; ``PushDialog``, ``OpenFromServerDialog`` and ``HistoryDialog`` are
the dialogs; ``RunnersView`` is the Runners dock (runners of a configured
server with tags, slots, state, last heartbeat and running tasks; refreshed
on demand and every ``REFRESH_MS`` while visible). Clients come from
``client_for_config`` — the ``[server.NAME]`` URL of the window's config and
the token kept by ``nodeflow.remote.credentials``. The runners view's timer
fetches in a worker thread; Refresh fetches at once.

A workflow opened from a server is shown unsaved and without a path (Save
asks where); the document remembers where it came from (``origin``) so that
the next push and the history dialog default to it.
"""
from __future__ import annotations

import os
import re
import threading
import time

from PySide6 import QtCore, QtGui, QtWidgets

Btn = QtWidgets.QMessageBox.StandardButton
Accepted = QtWidgets.QDialog.DialogCode.Accepted
REFRESH_MS = 10_000
ROLE = QtCore.Qt.ItemDataRole.UserRole


def client_for_config(config, server: str, timeout: float = 15.0):
    """A ServerClient for configured server ``server``; raises ValueError saying what is missing."""
    from ..remote.client import ServerClient
    from ..remote.credentials import server_token

    cfg = config.server.get(server)
    if cfg is None or not cfg.get("url"):
        raise ValueError(f"no server {server!r} with a URL in the settings")
    token = server_token(server, cfg)
    if not token:
        raise ValueError(f"no token stored for server {server!r}: add it in Settings → Servers")
    return ServerClient(str(cfg["url"]), token, timeout=timeout)


def _when(ts) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "—"


def _error_text(e: Exception) -> str:
    return str(e) or type(e).__name__


def default_name(path: str | None) -> str:
    base = os.path.basename(path or "") or "workflow"
    base = base[:-3] if base.endswith(".nc") else os.path.splitext(base)[0]
    return re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip("._-") or "workflow"


def _server_combo(config, current: str | None = None) -> QtWidgets.QComboBox:
    c = QtWidgets.QComboBox()
    c.addItems(sorted(config.server))
    if current and c.findText(current) >= 0:
        c.setCurrentText(current)
    return c


def _buttons(dlg, ok_text: str = "OK") -> QtWidgets.QDialogButtonBox:
    b = QtWidgets.QDialogButtonBox()
    b.addButton(ok_text, QtWidgets.QDialogButtonBox.ButtonRole.AcceptRole)
    b.addButton(QtWidgets.QDialogButtonBox.StandardButton.Cancel)
    b.accepted.connect(dlg.accept)
    b.rejected.connect(dlg.reject)
    return b


class PushDialog(QtWidgets.QDialog):
    def __init__(self, config, name: str, server: str | None = None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Push to server")
        self.server = _server_combo(config, server)
        self.name = QtWidgets.QLineEdit(name)
        self.message = QtWidgets.QLineEdit()
        self.message.setPlaceholderText("what changed")
        form = QtWidgets.QFormLayout(self)
        form.addRow("Server", self.server)
        form.addRow("Name", self.name)
        form.addRow("Message", self.message)
        form.addRow(_buttons(self, "Push"))


class HistoryPane(QtWidgets.QWidget):
    """Versions of one workflow (version, author, time, message) and the diff of two of them."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.table = QtWidgets.QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Version", "Author", "Time", "Message"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.diff = QtWidgets.QPlainTextEdit()
        self.diff.setReadOnly(True)
        self.diff.setFont(QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont))
        self.diff.setPlaceholderText("Select two versions and press Diff")
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.diff)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)

    def set_history(self, commits: list[dict]) -> None:
        self.diff.clear()
        self.table.setRowCount(0)
        for c in sorted(commits, key=lambda c: -int(c["version"])):
            r = self.table.rowCount()
            self.table.insertRow(r)
            for col, text in enumerate((str(c["version"]), c.get("author", ""), _when(c.get("time")),
                                        c.get("message", ""))):
                item = QtWidgets.QTableWidgetItem(text)
                item.setData(ROLE, int(c["version"]))
                self.table.setItem(r, col, item)

    def versions(self) -> list[int]:
        return [int(self.table.item(r, 0).data(ROLE)) for r in range(self.table.rowCount())]

    def selected_versions(self) -> list[int]:
        rows = sorted({i.row() for i in self.table.selectedItems()})
        return [int(self.table.item(r, 0).data(ROLE)) for r in rows]

    def select_versions(self, *versions: int) -> None:
        self.table.clearSelection()
        mode = self.table.selectionMode()
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.MultiSelection)
        for r in range(self.table.rowCount()):
            if int(self.table.item(r, 0).data(ROLE)) in versions:
                self.table.selectRow(r)
        self.table.setSelectionMode(mode)


class HistoryDialog(QtWidgets.QDialog):
    """The versions of a workflow on a server; Diff of two selected versions; Open one of them."""

    def __init__(self, client, name: str, owner: str | None = None, parent=None, on_open=None):
        super().__init__(parent)
        self.client, self.name, self.owner, self.on_open = client, name, owner, on_open
        self.setWindowTitle(f"History of {owner + '/' if owner else ''}{name}")
        self.pane = HistoryPane()
        self.diff_button = QtWidgets.QPushButton("Diff")
        self.diff_button.clicked.connect(self.show_diff)
        self.open_button = QtWidgets.QPushButton("Open this version")
        self.open_button.clicked.connect(self.open_selected)
        close = QtWidgets.QPushButton("Close")
        close.clicked.connect(self.reject)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.diff_button)
        row.addWidget(self.open_button)
        row.addStretch(1)
        row.addWidget(close)
        lay = QtWidgets.QVBoxLayout(self)
        lay.addWidget(self.pane)
        lay.addLayout(row)
        self.resize(760, 560)
        self.reload()

    def done(self, r) -> None:
        super().done(r)
        self.client.close()

    def reload(self) -> None:
        try:
            self.pane.set_history(self.client.history(self.name, owner=self.owner))
        except Exception as e:
            QtWidgets.QMessageBox.warning(self, "Cannot read the history", _error_text(e))

    def show_diff(self) -> str | None:
        sel = self.pane.selected_versions()
        if len(sel) == 1:  # one version: against the one before it
            older = [v for v in self.pane.versions() if v < sel[0]]
            sel = [max(older), sel[0]] if older else sel
        if len(sel) != 2:
            QtWidgets.QMessageBox.information(self, "Diff", "Select two versions (or one, to compare it with the "
                                                            "version before it).")
            return None
        a, b = sorted(sel)
        try:
            text = self.client.diff(self.name, a, b, owner=self.owner)["diff"]
        except Exception as e:
            QtWidgets.QMessageBox.warning(self, "Cannot diff", _error_text(e))
            return None
        self.pane.diff.setPlainText(text or f"versions {a} and {b} are the same")
        return text

    def open_selected(self) -> bool:
        sel = self.pane.selected_versions()
        if len(sel) != 1:
            QtWidgets.QMessageBox.information(self, "Open", "Select one version to open.")
            return False
        if self.on_open is not None and self.on_open(self.name, self.owner, sel[0]):
            self.accept()
            return True
        return False


class OpenFromServerDialog(QtWidgets.QDialog):
    """Pick a server, one of its workflows, and a version (the newest by default)."""

    def __init__(self, config, server: str | None = None, parent=None):
        super().__init__(parent)
        self.config = config
        self.client = None
        self.setWindowTitle("Open from server")
        self.server = _server_combo(config, server)
        self.workflows = QtWidgets.QTableWidget(0, 4)
        self.workflows.setHorizontalHeaderLabels(["Name", "Owner", "Versions", "Updated"])
        self.workflows.horizontalHeader().setStretchLastSection(True)
        self.workflows.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.workflows.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.workflows.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.workflows.verticalHeader().setVisible(False)
        self.history = HistoryPane()
        self.history.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.error = QtWidgets.QLabel("")
        self.error.setWordWrap(True)
        self.server.currentTextChanged.connect(lambda _t: self.reload())
        self.workflows.itemSelectionChanged.connect(self._load_history)
        self.history.table.itemDoubleClicked.connect(lambda _i: self.accept())
        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("Server"))
        top.addWidget(self.server, 1)
        refresh = QtWidgets.QPushButton("Refresh")
        refresh.clicked.connect(self.reload)
        top.addWidget(refresh)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.addWidget(self.workflows)
        split.addWidget(self.history)
        lay = QtWidgets.QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(split)
        lay.addWidget(self.error)
        lay.addWidget(_buttons(self, "Open"))
        self.resize(760, 600)
        self.reload()

    def reload(self) -> None:
        self.workflows.setRowCount(0)
        self.history.set_history([])
        self.error.setText("")
        if self.client is not None:
            self.client.close()
            self.client = None
        server = self.server.currentText()
        if not server:
            self.error.setText("No server is configured: add one in Settings → Servers.")
            return
        try:
            self.client = client_for_config(self.config, server)
            rows = self.client.workflows()
        except Exception as e:
            self.error.setText(f"{server}: {_error_text(e)}")
            return
        for w in sorted(rows, key=lambda w: (w["owner"], w["name"])):
            r = self.workflows.rowCount()
            self.workflows.insertRow(r)
            for col, text in enumerate((w["name"], w["owner"], str(w["versions"]), _when(w.get("updated_at")))):
                item = QtWidgets.QTableWidgetItem(text)
                item.setData(ROLE, (w["name"], w["owner"]))
                self.workflows.setItem(r, col, item)
        if rows:
            self.workflows.selectRow(0)

    def names(self) -> list[tuple[str, str]]:
        return [self.workflows.item(r, 0).data(ROLE) for r in range(self.workflows.rowCount())]

    def select_workflow(self, name: str, owner: str | None = None) -> bool:
        for r, (n, o) in enumerate(self.names()):
            if n == name and (owner is None or o == owner):
                self.workflows.selectRow(r)
                return True
        return False

    def _load_history(self) -> None:
        pick = self.picked_workflow()
        if pick is None or self.client is None:
            self.history.set_history([])
            return
        try:
            self.history.set_history(self.client.history(pick[0], owner=pick[1]))
        except Exception as e:
            self.error.setText(_error_text(e))
            return
        if self.history.table.rowCount():
            self.history.table.selectRow(0)  # the newest

    def picked_workflow(self) -> tuple[str, str] | None:
        rows = {i.row() for i in self.workflows.selectedItems()}
        return self.workflows.item(min(rows), 0).data(ROLE) if rows else None

    def picked(self) -> tuple[str, str, str, int | None] | None:
        """(server, name, owner, version) — version None means the newest."""
        w = self.picked_workflow()
        if w is None:
            return None
        sel = self.history.selected_versions()
        return self.server.currentText(), w[0], w[1], (sel[0] if sel else None)

    def done(self, r) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        super().done(r)


class ServerActions(QtCore.QObject):
    """File → Push to server…, Open from server…, Server history…"""

    def __init__(self, window):
        super().__init__(window)
        self.w = window
        #: where the shown workflow came from / was pushed to: (server, name, owner) or None
        self.origin: tuple[str, str, str | None] | None = None
        self.act_push = QtGui.QAction("&Push to server…", window)
        self.act_push.triggered.connect(lambda: self.push())
        self.act_open = QtGui.QAction("Open from ser&ver…", window)
        self.act_open.triggered.connect(lambda: self.open_from_server())
        self.act_history = QtGui.QAction("Server &history…", window)
        self.act_history.triggered.connect(lambda: self.show_history())

    def actions(self) -> list:
        return [self.act_push, self.act_open, self.act_history]

    def _exec(self, dlg) -> bool:
        """Run a dialog modally (tests replace this)."""
        return dlg.exec() == Accepted

    def _need_server(self) -> bool:
        if self.w.config.server:
            return True
        QtWidgets.QMessageBox.information(self.w, "No server", "No server is configured: add one in "
                                                               "Settings → Servers (URL and token).")
        return False

    def push(self) -> dict | None:
        if not self._need_server():
            return None
        from ..model import dumps

        server, name = (self.origin[0], self.origin[1]) if self.origin else (None, default_name(self.w.doc.path))
        dlg = PushDialog(self.w.config, name, server, self.w)
        if not self._exec(dlg):
            return None
        server, name, message = dlg.server.currentText(), dlg.name.text().strip(), dlg.message.text().strip()
        try:
            text = dumps(self.w.doc.workflow)
            with client_for_config(self.w.config, server) as c:
                out = c.publish(name, text, message)
        except Exception as e:
            QtWidgets.QMessageBox.warning(self.w, "Push failed", f"{server}: {_error_text(e)}")
            return None
        self.origin = (server, out["name"], out["owner"])
        self.w.show_message(f"Pushed {out['owner']}/{out['name']} version {out['version']} to {server}")
        return out

    def open_from_server(self) -> bool:
        if not self._need_server() or not self.w.files.maybe_discard():
            return False
        dlg = OpenFromServerDialog(self.w.config, self.origin[0] if self.origin else None, self.w)
        if not self._exec(dlg):
            return False
        pick = dlg.picked()
        if pick is None:
            return False
        server, name, owner, version = pick
        return self.open_version(server, name, owner, version)

    def open_version(self, server: str, name: str, owner: str | None, version: int | None) -> bool:
        """Fetch a version and show it as a new, unsaved document."""
        try:
            with client_for_config(self.w.config, server) as c:
                got = c.workflow(name, version, owner=owner)
            self.w.doc.open_text(got["content"], None, modified=True)
        except Exception as e:
            QtWidgets.QMessageBox.warning(self.w, "Cannot open from server", f"{server}: {name}: {_error_text(e)}")
            return False
        self.origin = (server, got["name"], got["owner"])
        self.w.show_message(f"Opened {got['owner']}/{got['name']} version {got['version']} from {server} "
                            "(not saved on this computer yet)")
        return True

    def show_history(self, server: str | None = None, name: str | None = None, owner: str | None = None):
        if not self._need_server():
            return None
        if name is None:
            if self.origin:
                server, name, owner = self.origin
            else:
                server, name = sorted(self.w.config.server)[0], default_name(self.w.doc.path)
        try:
            client = client_for_config(self.w.config, server)
        except ValueError as e:
            QtWidgets.QMessageBox.warning(self.w, "Server history", str(e))
            return None

        def open_version(n, o, v):
            if not self.w.files.maybe_discard():
                return False
            return self.open_version(server, n, o, v)

        dlg = HistoryDialog(client, name, owner, self.w, on_open=open_version)  # closes the client when done
        self._exec(dlg)
        return dlg


class RunnersView(QtWidgets.QWidget):
    """The runners of a configured server: name, host, tags, slots, state, last heartbeat, running tasks."""

    COLUMNS = ["Name", "Host", "Tags", "Slots", "State", "Last heartbeat", "Running tasks"]
    fetched = QtCore.Signal(str, object)  # (server, runners or the exception), from the worker thread

    def __init__(self, window, parent=None):
        super().__init__(parent)
        self.w = window
        self._fetching = False
        self.fetched.connect(self._fetched)
        self.server = QtWidgets.QComboBox()
        self.server.currentTextChanged.connect(lambda _t: self._tick())
        self.refresh_button = QtWidgets.QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.status = QtWidgets.QLabel("")
        self.table = QtWidgets.QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("Server"))
        top.addWidget(self.server, 1)
        top.addWidget(self.refresh_button)
        lay = QtWidgets.QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.table)
        lay.addWidget(self.status)
        self.timer = QtCore.QTimer(self, interval=REFRESH_MS)
        self.timer.timeout.connect(self._tick)
        self.timer.start()
        self.fill_servers()

    def fill_servers(self) -> None:
        cur = self.server.currentText()
        self.server.blockSignals(True)
        self.server.clear()
        self.server.addItems(sorted(self.w.config.server))
        if cur and self.server.findText(cur) >= 0:
            self.server.setCurrentText(cur)
        self.server.blockSignals(False)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._tick()

    def _tick(self) -> None:
        """Timer / shown: fetch in a worker thread, so a slow server never freezes the window."""
        if not self.isVisible() or self._fetching:
            return
        if sorted(self.w.config.server) != [self.server.itemText(i) for i in range(self.server.count())]:
            self.fill_servers()
        server = self.server.currentText()
        if not server:
            self._show(server, None)
            return
        self._fetching = True

        def work():
            try:
                got = self._fetch(server)
            except Exception as e:
                got = e
            try:
                self.fetched.emit(server, got)
            except RuntimeError:  # the window went away meanwhile
                pass

        threading.Thread(target=work, name="nodeflow-runners", daemon=True).start()

    def _fetched(self, server: str, got) -> None:
        self._fetching = False
        if server == self.server.currentText():
            self._show(server, got)

    def _fetch(self, server: str) -> list[dict]:
        with client_for_config(self.w.config, server, timeout=5) as c:
            return c.runners()

    def refresh(self) -> list[dict] | None:
        """Fetch now (the Refresh button); returns the runners, or None when they could not be read."""
        if sorted(self.w.config.server) != [self.server.itemText(i) for i in range(self.server.count())]:
            self.fill_servers()
        server = self.server.currentText()
        if not server:
            self._show(server, None)
            return None
        try:
            got = self._fetch(server)
        except Exception as e:
            got = e
        return self._show(server, got)

    def _show(self, server: str, got) -> list[dict] | None:
        if not server:
            self.table.setRowCount(0)
            self.status.setText("No server is configured (Settings → Servers).")
            return None
        if isinstance(got, Exception):
            self.status.setText(f"{server}: {_error_text(got)}")
            return None
        runners = got or []
        self.table.setRowCount(0)
        for rn in sorted(runners, key=lambda r: r["name"]):
            r = self.table.rowCount()
            self.table.insertRow(r)
            hb = rn.get("last_heartbeat")
            ago = f"{_when(hb)} ({max(0, time.time() - hb):.0f} s ago)" if hb else "—"
            tasks = rn.get("running_tasks") or []
            for col, text in enumerate((rn["name"], rn.get("host", ""), ", ".join(rn.get("tags") or []),
                                        str(rn.get("slots", "")), rn.get("state", ""), ago,
                                        ", ".join(map(str, tasks)) if tasks else "—")):
                self.table.setItem(r, col, QtWidgets.QTableWidgetItem(text))
        self.status.setText(f"{len(runners)} runners on {server} · updated {time.strftime('%H:%M:%S')}")
        return runners

    def rows(self) -> list[list[str]]:
        return [[self.table.item(r, c).text() for c in range(self.table.columnCount())]
                for r in range(self.table.rowCount())]
