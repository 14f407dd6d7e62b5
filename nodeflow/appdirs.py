"""Where nodeflow keeps its files, per user (platformdirs): data, config, state.

Functions, not constants, so tests can point ``NODEFLOW_HOME`` (or the
platform's own variables) somewhere else before calling them.
"""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "nodeflow"


def _override(sub: str) -> Path | None:
    home = os.environ.get("NODEFLOW_HOME")
    return Path(home) / sub if home else None


def data_dir() -> Path:
    return _override("data") or Path(platformdirs.user_data_dir(APP))


def config_dir() -> Path:
    return _override("config") or Path(platformdirs.user_config_dir(APP))


def state_dir() -> Path:
    return _override("state") or Path(platformdirs.user_state_dir(APP))


def runs_dir() -> Path:
    """Run folders: ``<runs>/<run_id>/<node>/`` with logs, specs and files nodes write."""
    return data_dir() / "runs"


def history_path() -> Path:
    return data_dir() / "history.sqlite"


def plugins_dir() -> Path:
    return data_dir() / "plugins"
