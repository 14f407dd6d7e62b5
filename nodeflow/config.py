"""User configuration: ``config.toml`` in the platformdirs config dir.

One file, read into plain dataclasses and written back atomically::

    [app]                      # editor and run defaults
    default_executor = "local"
    jobs = 2
    theme = "dark"
    autosave_interval_s = 60

    [slurm.PROFILE]            # Slurm profiles (see executors/slurm)
    host = "login.cluster.org"
    ...

    [server.NAME]              # shared nodeflow servers (token kept elsewhere)
    url = "http://127.0.0.1:8765"

Unknown keys are kept, so a newer nodeflow's settings survive an older one.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import tomli_w

from . import appdirs
from .model.fileio import atomic_write_text


class ConfigError(ValueError):
    pass


@dataclass
class AppSettings:
    default_executor: str = "local"
    jobs: int = max(1, os.cpu_count() or 1)
    theme: str = "dark"  # "dark" | "light"
    autosave_interval_s: int = 60


@dataclass
class Config:
    app: AppSettings = field(default_factory=AppSettings)
    #: Slurm profiles by name: plain dicts, validated by the Slurm executor's profile class
    slurm: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: shared servers by name: {"url": ..., "user": ...}
    server: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: top-level tables this version does not know, kept as they were
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def save(self, path: str | os.PathLike | None = None) -> Path:
        target = Path(path) if path is not None else (self.path or default_config_path())
        target.parent.mkdir(parents=True, exist_ok=True)
        data: dict[str, Any] = dict(self.extra)
        data["app"] = {k: v for k, v in asdict(self.app).items() if v is not None}
        if self.slurm:
            data["slurm"] = _drop_none(self.slurm)
        if self.server:
            data["server"] = _drop_none(self.server)
        atomic_write_text(target, tomli_w.dumps(data))
        self.path = target
        return target


def _drop_none(d: dict) -> dict:
    return {k: _drop_none(v) if isinstance(v, dict) else v for k, v in d.items() if v is not None}


def default_config_path() -> Path:
    return appdirs.config_dir() / "config.toml"


def load_config(path: str | os.PathLike | None = None) -> Config:
    """The configuration at ``path`` (default: the user's); defaults when there is no file."""
    p = Path(path) if path is not None else default_config_path()
    if not p.exists():
        return Config(path=p)
    try:
        data = tomllib.loads(p.read_text("utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: {e}") from None
    app_raw = data.pop("app", {}) or {}
    known = {f.name for f in fields(AppSettings)}
    app = AppSettings(**{k: v for k, v in app_raw.items() if k in known})
    slurm = data.pop("slurm", {}) or {}
    server = data.pop("server", {}) or {}
    for section, table in (("slurm", slurm), ("server", server)):
        for name, value in table.items():
            if not isinstance(value, dict):
                raise ConfigError(f"{p}: [{section}.{name}] must be a table")
    return Config(app=app, slurm=slurm, server=server, extra=data, path=p)
