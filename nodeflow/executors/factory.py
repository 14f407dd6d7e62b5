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
    config = config if config is not None else load_config()
    if kind == "slurm":
        if not arg:
            raise ExecutorConfigError("the slurm executor needs a profile: slurm:PROFILE")
        if arg not in config.slurm:
            known = ", ".join(sorted(config.slurm)) or "none configured"
            raise ExecutorConfigError(f"no Slurm profile {arg!r} in {config.path} (profiles: {known})")
        from .slurm import SlurmExecutor

        ex = SlurmExecutor.from_profile(arg, config.slurm[arg], registry=registry)
        ex.name = name
        return ex
    if kind == "runner":
        if not arg:
            raise ExecutorConfigError("the runner executor needs a server: runner:SERVER")
        if arg not in config.server:
            known = ", ".join(sorted(config.server)) or "none configured"
            raise ExecutorConfigError(f"no server {arg!r} in {config.path} (servers: {known})")
        from .runner import RunnerExecutor

        ex = RunnerExecutor.from_server(arg, config.server[arg], registry=registry)
        ex.name = name
        return ex
    raise ExecutorConfigError(f"unknown executor {name!r} (use local, slurm:PROFILE or runner:SERVER)")


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
