"""Building the executors a run needs, from their names and the user config.

Executor names: ``local``; ``slurm:PROFILE`` (a ``[slurm.PROFILE]`` table of
the config); ``runner:SERVER`` (a ``[server.SERVER]`` table). A node picks one
in its settings (``customState.nodeflow.executor``), a run has a default.
Each kind is imported only when a run uses it.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class ExecutorConfigError(ValueError):
    pass


def split_name(name: str) -> tuple[str, str | None]:
    kind, _, arg = name.partition(":")
    return kind, (arg or None)


def executor_names(plan, default: str) -> set[str]:
    """Every executor the nodes of ``plan`` will use."""
    names = {default}
    for pn in plan.nodes.values():
        if pn.settings.executor:
            names.add(pn.settings.executor)
    return names


def make_executor(name: str, *, config=None, registry=None, jobs: int | None = None) -> Any:
    from ..config import load_config

    kind, arg = split_name(name)
    if kind == "local":
        from .local import LocalExecutor, LocalSettings

        settings = LocalSettings(jobs=jobs) if jobs else LocalSettings()
        return LocalExecutor(settings, registry=registry)
    if kind not in _REMOTE:
        raise ExecutorConfigError(f"unknown executor {name!r} (use local, slurm:PROFILE or runner:SERVER)")
    config = config if config is not None else load_config()
    section, what, placeholder, build = _REMOTE[kind]
    tables = getattr(config, section)
    if not arg:
        raise ExecutorConfigError(f"the {kind} executor needs a {what}: {kind}:{placeholder}")
    if arg not in tables:
        known = ", ".join(sorted(tables)) or "none configured"
        raise ExecutorConfigError(f"no {what} {arg!r} in {config.path} ({what}s: {known})")
    ex = build()(arg, tables[arg], registry=registry)
    ex.name = name
    return ex


def _slurm():
    from .slurm import SlurmExecutor

    return SlurmExecutor.from_profile


def _runner():
    from .runner import RunnerExecutor

    return RunnerExecutor.from_server


#: kind → (config section, what its argument names, its placeholder, the constructor — imported when used)
_REMOTE = {"slurm": ("slurm", "Slurm profile", "PROFILE", _slurm), "runner": ("server", "server", "SERVER", _runner)}


def make_executors(names: Iterable[str], **kw) -> dict[str, Any]:
    made: dict[str, Any] = {}
    try:
        for n in sorted(set(names)):
            made[n] = make_executor(n, **kw)
    except Exception:
        for ex in made.values():
            ex.close()
        raise
    return made
