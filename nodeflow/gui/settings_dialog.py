"""The settings dialog: ``[app]`` of the user config (default executor, concurrency, theme, autosave).

It edits a copy of ``config.app`` and, on OK, writes it with ``Config.save``
(platformdirs config dir, atomic). Executor names come from
``executor_choices``: ``local``, ``slurm:PROFILE`` for each ``[slurm.PROFILE]``
and ``runner:SERVER`` for each ``[server.SERVER]``; the kinds whose module
does not import (yet) are listed but disabled, with the reason.
"""
from __future__ import annotations

import dataclasses
import importlib
import os

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
        lay = QtWidgets.QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(where)
        lay.addWidget(buttons)

    def apply_to_config(self) -> Config:
        """Write the dialog's values into the config and save it; returns the config."""
        self.config.app = dataclasses.replace(self.config.app, default_executor=self.executor.currentText() or "local",
                                              jobs=self.jobs.value(), theme=self.theme.currentText(),
                                              autosave_interval_s=self.autosave.value())
        self.config.save()
        return self.config
