"""The settings dialog: ``[app]`` of the user config (default executor, concurrency, theme, autosave).

It edits a copy of ``config.app`` and, on OK, writes it with ``Config.save``
(platformdirs config dir, atomic). Executor names come from
``executor_choices``: ``local``, ``slurm:PROFILE`` for each ``[slurm.PROFILE]``
and ``runner:SERVER`` for each ``[server.SERVER]``; the kinds whose module
does not import (yet) are listed but disabled, with the reason.

The "Slurm profiles" tab adds, edits and removes ``[slurm.PROFILE]`` tables
(checked with ``SlurmProfile.from_dict`` before they are kept); the
"Servers" tab adds, edits and removes ``[server.NAME]`` accounts: the URL goes
to config.toml, the token to ``nodeflow.remote.credentials`` (OS keyring or
a 0600 file) and never into config.toml. Nothing is written before OK.
"""
from __future__ import annotations

import copy
import dataclasses
import importlib
import os
import re

from PySide6 import QtWidgets

from ..config import Config
from .theme import THEMES


def executor_choices(config: Config) -> list[tuple[str, str | None]]:
    """(name, why it is unavailable or None) for every executor the config names."""
    out: list[tuple[str, str | None]] = [("local", None)]
    for kind, table, module in (("slurm", config.slurm, "nodeflow.executors.slurm"),
                                ("runner", config.server, "nodeflow.executors.runner")):
        if not table:
            continue
        try:
            importlib.import_module(module)
            why = None
        except Exception as e:  # ImportError or a half-written module: list it, disabled
            why = f"the {kind} executor cannot be loaded: {type(e).__name__}: {e}"
        out.extend((f"{kind}:{name}", why) for name in sorted(table))
    return out


def fill_executor_combo(combo: QtWidgets.QComboBox, config: Config, current: str) -> None:
    combo.blockSignals(True)
    combo.clear()
    model = combo.model()
    for name, why in executor_choices(config):
        combo.addItem(name)
        if why:
            item = model.item(combo.count() - 1)
            item.setEnabled(False)
            item.setToolTip(why)
    i = combo.findText(current)
    if i < 0 and current:
        combo.addItem(current)
        i = combo.count() - 1
    combo.setCurrentIndex(max(i, 0))
    combo.blockSignals(False)


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
Accepted = QtWidgets.QDialog.DialogCode.Accepted

#: (key, label, kind) of the Slurm profile form; kind: text | int | bool | lines | choice
SLURM_FIELDS = [
    ("transport", "Transport", "choice"), ("host", "Login host", "text"), ("port", "Port", "int"),
    ("user", "User", "text"), ("key_file", "Key file", "text"), ("use_agent", "Use ssh-agent", "bool"),
    ("known_hosts", "known_hosts", "text"), ("jump_host", "Jump host (user@host:port)", "text"),
    ("workdir", "Remote work dir", "text"), ("python", "Remote Python", "text"),
    ("partition", "Partition", "text"), ("account", "Account", "text"), ("qos", "QOS", "text"),
    ("time_limit", "Time limit", "text"), ("cpus", "CPUs", "int"), ("memory", "Memory", "text"),
    ("gres", "GRES", "text"), ("extra_sbatch", "Extra #SBATCH lines", "lines"),
    ("setup", "Set-up lines (module load …)", "lines"),
]

PLACEHOLDERS = {"known_hosts": "~/.ssh/known_hosts", "workdir": "nodeflow-runs (under the remote home)",
                "python": "python3", "user": "this computer's user name", "time_limit": "01:00:00",
                "memory": "4G", "key_file": "~/.ssh/id_ed25519 (or use ssh-agent)", "gres": "gpu:1"}


class _CheckedDialog(QtWidgets.QDialog):
    """A dialog whose OK first asks ``validate()``: a reason is shown in ``self.error``, nothing is accepted."""

    def validate(self) -> str | None:
        raise NotImplementedError

    def name_problem(self, kind: str) -> str | None:
        """Why ``self.name`` cannot name a new ``kind`` (a bad name, or one in ``self._taken``), or None."""
        name = self.name.text().strip()
        if not _NAME.fullmatch(name):
            return "The name must be letters, digits, '_', '.' or '-'."
        if name in self._taken:
            return f"There is a {kind} {name!r} already."
        return None

    def try_accept(self) -> None:
        why = self.validate()
        self.error.setText(why or "")
        if why is None:
            self.accept()


class SlurmProfileDialog(_CheckedDialog):
    """Edit one Slurm profile; ``data()`` is the table, checked by ``SlurmProfile.from_dict``."""

    def __init__(self, name: str = "", data: dict | None = None, taken=(), parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Slurm profile {name}" if name else "New Slurm profile")
        self._orig = dict(data or {})
        self._taken = set(taken)
        self.name = QtWidgets.QLineEdit(name)
        self.fields: dict[str, QtWidgets.QWidget] = {}
        form = QtWidgets.QFormLayout()
        form.addRow("Name", self.name)
        for key, label, kind in SLURM_FIELDS:
            v = self._orig.get(key)
            if kind == "choice":
                from ..executors.slurm.profile import TRANSPORTS

                w = QtWidgets.QComboBox()
                w.addItems(list(TRANSPORTS))
                w.setCurrentText(v or "ssh")
            elif kind == "int":
                w = QtWidgets.QSpinBox()
                w.setRange(0, 65535 if key == "port" else 100000)
                if key == "port":
                    w.setValue(int(v or 22))
                else:
                    w.setSpecialValueText("default")
                    w.setValue(int(v or 0))
            elif kind == "bool":
                w = QtWidgets.QCheckBox()
                w.setChecked(bool(v) if v is not None else not self._orig.get("key_file"))
            elif kind == "lines":
                w = QtWidgets.QPlainTextEdit("\n".join(v if isinstance(v, (list, tuple)) else ([v] if v else [])))
                w.setMaximumHeight(70)
            else:
                w = QtWidgets.QLineEdit("" if v is None else str(v))
                w.setPlaceholderText(PLACEHOLDERS.get(key, ""))
            self.fields[key] = w
            form.addRow(label, w)
        self.error = QtWidgets.QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #d55;")
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.try_accept)
        buttons.rejected.connect(self.reject)
        inner = QtWidgets.QWidget()
        inner.setLayout(form)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        lay = QtWidgets.QVBoxLayout(self)
        lay.addWidget(scroll)
        lay.addWidget(self.error)
        lay.addWidget(buttons)
        self.resize(520, 640)

    def set_field(self, key: str, value) -> None:
        w = self.fields[key]
        if isinstance(w, QtWidgets.QComboBox):
            w.setCurrentText(str(value))
        elif isinstance(w, QtWidgets.QSpinBox):
            w.setValue(int(value))
        elif isinstance(w, QtWidgets.QCheckBox):
            w.setChecked(bool(value))
        elif isinstance(w, QtWidgets.QPlainTextEdit):
            w.setPlainText("\n".join(value) if isinstance(value, (list, tuple)) else str(value))
        else:
            w.setText(str(value))

    def data(self) -> dict:
        known = {k for k, _, _ in SLURM_FIELDS}
        out = {k: v for k, v in self._orig.items() if k not in known}  # keys this form does not show survive
        for key, _, kind in SLURM_FIELDS:
            w = self.fields[key]
            if kind == "choice":
                out[key] = w.currentText()
            elif kind == "int":
                if w.value() or key == "port":
                    out[key] = w.value()
            elif kind == "bool":
                out[key] = w.isChecked()
            elif kind == "lines":
                lines = [ln for ln in w.toPlainText().splitlines() if ln.strip()]
                if lines:
                    out[key] = lines
            else:
                t = w.text().strip()
                if t:
                    out[key] = t
        return out

    def validate(self) -> str | None:
        """Why the profile cannot be kept, or None."""
        why = self.name_problem("profile")
        if why is not None:
            return why
        name = self.name.text().strip()
        try:
            from ..executors.slurm.profile import SlurmProfile

            SlurmProfile.from_dict(name, self.data())
        except ImportError:
            return None  # the executor is not installed: keep the table as typed
        except Exception as e:
            return str(e)
        return None

class ServerAccountDialog(_CheckedDialog):
    """Name, URL and token of one server account (an empty token keeps the stored one)."""

    def __init__(self, name: str = "", url: str = "", taken=(), parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Server {name}" if name else "New server account")
        self._taken = set(taken)
        self.editing = bool(name)
        self.name = QtWidgets.QLineEdit(name)
        self.url = QtWidgets.QLineEdit(url)
        self.url.setPlaceholderText("http://host:8765")
        self.token = QtWidgets.QLineEdit()
        self.token.setEchoMode(QtWidgets.QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("unchanged" if name else "the token the server's admin gave you")
        form = QtWidgets.QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("URL", self.url)
        form.addRow("Token", self.token)
        self.error = QtWidgets.QLabel("")
        self.error.setStyleSheet("color: #d55;")
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.try_accept)
        buttons.rejected.connect(self.reject)
        lay = QtWidgets.QVBoxLayout(self)
        lay.addLayout(form)
        note = QtWidgets.QLabel("The token is kept in the OS keyring (or a private file), not in config.toml.")
        note.setWordWrap(True)
        note.setEnabled(False)
        lay.addWidget(note)
        lay.addWidget(self.error)
        self.test_button = QtWidgets.QPushButton("Test connection")
        self.test_button.clicked.connect(self.test_connection)
        buttons.addButton(self.test_button, QtWidgets.QDialogButtonBox.ButtonRole.ActionRole)
        lay.addWidget(buttons)

    def test_connection(self) -> str:
        """Ask the server who the token belongs to; the answer (or the error) is shown and returned."""
        from ..remote.client import ServerClient
        from ..remote.credentials import load_token

        token = self.token.text().strip()
        if not token and self.editing:
            try:
                token = load_token(self.name.text().strip()) or ""
            except (OSError, ValueError):
                token = ""
        try:
            with ServerClient(self.url.text().strip(), token or None, timeout=10) as c:
                me = c.me()
            text = f"OK: signed in as {me.get('name', '?')}" + (" (admin)" if me.get("admin") else "")
            self.error.setStyleSheet("")
        except Exception as e:
            text = f"Cannot connect: {e}"
            self.error.setStyleSheet("color: #d55;")
        self.error.setText(text)
        return text

    def validate(self) -> str | None:
        why = self.name_problem("server")
        if why is not None:
            return why
        url = self.url.text().strip()
        if not re.match(r"https?://[^\s/]+", url):
            return "The URL must start with http:// or https://"
        if not self.editing and not self.token.text().strip():
            return "Give the token."
        return None

class SettingsDialog(QtWidgets.QDialog):
    def __init__(self, config: Config, parent=None):
        super().__init__(parent)
        self.setWindowTitle("nodeflow settings")
        self.config = config
        app = config.app
        self.executor = QtWidgets.QComboBox()
        fill_executor_combo(self.executor, config, app.default_executor)
        self.jobs = QtWidgets.QSpinBox()
        self.jobs.setRange(1, 1024)
        self.jobs.setValue(int(app.jobs))
        self.jobs.setToolTip(f"nodes run at once on this machine (it has {os.cpu_count() or 1} cores)")
        self.theme = QtWidgets.QComboBox()
        self.theme.addItems(list(THEMES))
        self.theme.setCurrentText(app.theme if app.theme in THEMES else "dark")
        self.autosave = QtWidgets.QSpinBox()
        self.autosave.setRange(10, 3600)
        self.autosave.setSuffix(" s")
        self.autosave.setValue(int(app.autosave_interval_s))
        form = QtWidgets.QFormLayout()
        form.addRow("Default executor", self.executor)
        form.addRow("Concurrent nodes", self.jobs)
        form.addRow("Theme", self.theme)
        form.addRow("Autosave every", self.autosave)
        where = QtWidgets.QLabel(f"Saved in {config.path}" if config.path else "")
        where.setWordWrap(True)
        where.setEnabled(False)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        general = QtWidgets.QWidget()
        glay = QtWidgets.QVBoxLayout(general)
        glay.addLayout(form)
        glay.addStretch(1)
        # Slurm profiles and server accounts: edited on copies, written on OK
        self.slurm = copy.deepcopy(config.slurm)
        self.server = copy.deepcopy(config.server)
        self._tokens: dict[str, str] = {}  # server name -> new token
        self._dropped_tokens: set[str] = set()
        self.slurm_list = QtWidgets.QListWidget()
        self.server_list = QtWidgets.QListWidget()
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.addTab(general, "General")
        self.tabs.addTab(self._list_tab(self.slurm_list, self.add_slurm, self.edit_slurm, self.remove_slurm,
                                        extra=("Trust host key…", self.trust_slurm)), "Slurm profiles")
        self.tabs.addTab(self._list_tab(self.server_list, self.add_server, self.edit_server, self.remove_server),
                         "Servers")
        self._fill_lists()
        lay = QtWidgets.QVBoxLayout(self)
        lay.addWidget(self.tabs)
        lay.addWidget(where)
        lay.addWidget(buttons)

    # -- Slurm profiles and servers ---------------------------------------------------
    def _list_tab(self, lst, add, edit, remove, extra=None) -> QtWidgets.QWidget:
        page = QtWidgets.QWidget()
        row = QtWidgets.QVBoxLayout()
        for text, slot in (("Add…", add), ("Edit…", edit), ("Remove", remove)) + ((extra,) if extra else ()):
            b = QtWidgets.QPushButton(text)
            b.clicked.connect(lambda _=False, f=slot: f())
            row.addWidget(b)
        row.addStretch(1)
        lst.itemDoubleClicked.connect(lambda _i: edit())
        lay = QtWidgets.QHBoxLayout(page)
        lay.addWidget(lst, 1)
        lay.addLayout(row)
        return page

    def _fill_lists(self) -> None:
        self.slurm_list.clear()
        for name in sorted(self.slurm):
            d = self.slurm[name]
            where = d.get("host") or d.get("transport", "")
            self.slurm_list.addItem(f"{name} — {d.get('user') + '@' if d.get('user') else ''}{where}")
            self.slurm_list.item(self.slurm_list.count() - 1).setData(256, name)
        self.server_list.clear()
        for name in sorted(self.server):
            self.server_list.addItem(f"{name} — {self.server[name].get('url', '')}")
            self.server_list.item(self.server_list.count() - 1).setData(256, name)
        view = dataclasses.replace(self.config, slurm=self.slurm, server=self.server)
        names = [n for n, _ in executor_choices(view)]
        cur = self.executor.currentText()
        fill_executor_combo(self.executor, view, cur if cur in names else "local")

    @staticmethod
    def _selected(lst) -> str | None:
        item = lst.currentItem()
        return item.data(256) if item is not None else None

    def _exec(self, dlg) -> bool:
        """Run a sub-dialog modally (tests replace this)."""
        return dlg.exec() == Accepted

    def add_slurm(self) -> bool:
        dlg = SlurmProfileDialog("", {}, taken=self.slurm, parent=self)
        if not self._exec(dlg):
            return False
        self.slurm[dlg.name.text().strip()] = dlg.data()
        self._fill_lists()
        return True

    def edit_slurm(self, name: str | None = None) -> bool:
        name = name or self._selected(self.slurm_list)
        if name is None or name not in self.slurm:
            return False
        dlg = SlurmProfileDialog(name, self.slurm[name], taken=set(self.slurm) - {name}, parent=self)
        if not self._exec(dlg):
            return False
        del self.slurm[name]
        self.slurm[dlg.name.text().strip()] = dlg.data()
        self._fill_lists()
        return True

    def remove_slurm(self, name: str | None = None) -> bool:
        name = name or self._selected(self.slurm_list)
        if name is None or self.slurm.pop(name, None) is None:
            return False
        self._fill_lists()
        return True

    def trust_slurm(self, name: str | None = None) -> bool:
        name = name or self._selected(self.slurm_list)
        if name is None:
            return False
        from .slurm_dialogs import trust_profile

        return trust_profile(self, name, self.slurm[name])

    def add_server(self) -> bool:
        dlg = ServerAccountDialog(taken=self.server, parent=self)
        if not self._exec(dlg):
            return False
        name = dlg.name.text().strip()
        self.server[name] = {"url": dlg.url.text().strip()}
        self._tokens[name] = dlg.token.text().strip()
        self._dropped_tokens.discard(name)
        self._fill_lists()
        return True

    def edit_server(self, name: str | None = None) -> bool:
        name = name or self._selected(self.server_list)
        if name is None or name not in self.server:
            return False
        dlg = ServerAccountDialog(name, self.server[name].get("url", ""), taken=set(self.server) - {name},
                                  parent=self)
        if not self._exec(dlg):
            return False
        new = dlg.name.text().strip()
        cfg = self.server.pop(name)
        cfg["url"] = dlg.url.text().strip()
        cfg.pop("token", None)  # a token typed into config.toml by hand moves to the credential store
        self.server[new] = cfg
        token = dlg.token.text().strip() or self._tokens.pop(name, None)
        if new != name:
            self._dropped_tokens.add(name)
            if token is None:
                from ..remote.credentials import load_token

                token = load_token(name)
        if token:
            self._tokens[new] = token
        self._dropped_tokens.discard(new)
        self._fill_lists()
        return True

    def remove_server(self, name: str | None = None) -> bool:
        name = name or self._selected(self.server_list)
        if name is None or self.server.pop(name, None) is None:
            return False
        self._tokens.pop(name, None)
        self._dropped_tokens.add(name)
        self._fill_lists()
        return True

    def apply_to_config(self) -> Config:
        """Write the dialog's values into the config and save it; returns the config."""
        self.config.app = dataclasses.replace(self.config.app, default_executor=self.executor.currentText() or "local",
                                              jobs=self.jobs.value(), theme=self.theme.currentText(),
                                              autosave_interval_s=self.autosave.value())
        from ..remote.credentials import delete_token, store_token

        for name, token in self._tokens.items():
            store_token(name, token)
        for name in self._dropped_tokens - set(self.server):
            delete_token(name)
        self._tokens.clear()
        self._dropped_tokens.clear()
        self.config.slurm = copy.deepcopy(self.slurm)
        self.config.server = {n: {k: v for k, v in d.items() if k != "token"} for n, d in self.server.items()}
        self.config.save()
        return self.config
