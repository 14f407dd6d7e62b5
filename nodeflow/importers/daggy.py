"""Daggy DAG-run definitions (JSON) → a workflow of command nodes.

Read: ``tasks`` (name → ``job.command`` list or ``job.commandString``,
``job.environment`` as ``["NAME=value"]``, Daggy's Slurm fields
``minCPUs``/``minMemoryMB``/``timeLimitSeconds``/``workDir``, ``maxRetries``,
``retryIntervalSeconds`` (or ``retry``), ``parents``/``children``,
``isGenerator``), ``parameters`` (also accepted under a top-level ``job``
object, as one of Daggy's examples writes it) and ``jobDefaults`` (merged
under every task's ``job``). ``{{NAME}}`` stays in the arguments and is
expanded when the workflow runs, like Daggy does.
"""
from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from ..engine.settings import WorkflowSettings
from ..model import Workflow
from . import DefinitionError
from .common import build


def _strings(task: str, field: str, v: Any) -> list[str]:
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise DefinitionError(f"task {task!r}: {field} must be a list of strings")
    return v


def _argv(name: str, job: dict) -> list[str]:
    if "command" in job:
        cmd = job["command"]
        if not isinstance(cmd, list) or not cmd or not all(isinstance(x, str) for x in cmd):
            raise DefinitionError(f"task {name!r}: job.command must be a non-empty list of strings")
        return list(cmd)
    if "commandString" in job:
        s = job["commandString"]
        if not isinstance(s, str) or not s.strip():
            raise DefinitionError(f"task {name!r}: job.commandString must be a command line")
        try:
            return shlex.split(s)  # parsing the user's own command line into an argument list
        except ValueError as e:
            raise DefinitionError(f"task {name!r}: job.commandString: {e}") from None
    raise DefinitionError(f"task {name!r} has no job.command or job.commandString")


def from_dict(data: Any) -> Workflow:
    if not isinstance(data, dict):
        raise DefinitionError("a Daggy DAG definition is a JSON object with 'tasks'")
    tasks_in = data.get("tasks")
    if not isinstance(tasks_in, dict) or not tasks_in:
        raise DefinitionError("the definition has no 'tasks' object")
    params = data.get("parameters")
    if params is None and isinstance(data.get("job"), dict):
        params = data["job"]
    params = dict(params or {})
    for k, v in params.items():
        if not (isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))):
            raise DefinitionError(f"parameter {k!r} must be a string or a list of strings")
    defaults = data.get("jobDefaults") or {}
    if not isinstance(defaults, dict):
        raise DefinitionError("jobDefaults must be an object")
    tasks: dict[str, dict] = {}
    edges: list[tuple[str, str]] = []
    for name, t in tasks_in.items():
        if not isinstance(t, dict):
            raise DefinitionError(f"task {name!r} must be an object")
        job = {**defaults, **(t.get("job") or {})}
        env = {}
        for item in _strings(name, "job.environment", job.get("environment")):
            k, sep, v = item.partition("=")
            if not sep or not k:
                raise DefinitionError(f"task {name!r}: environment entry {item!r} is not NAME=value")
            env[k] = v
        resources = {}
        for src, dst, conv in (("minCPUs", "cpus", int), ("minMemoryMB", "memory", lambda v: f"{int(v)}M"),
                               ("timeLimitSeconds", "time_limit", lambda v: _slurm_time(int(v)))):
            if src in job:
                try:
                    resources[dst] = conv(job[src])
                except (TypeError, ValueError):
                    raise DefinitionError(f"task {name!r}: job.{src} must be a number") from None
        settings: dict[str, Any] = {"generator": bool(t.get("isGenerator", False))}
        retries = t.get("maxRetries", 0)
        interval = t.get("retryIntervalSeconds", t.get("retry", 0))
        for field, v in (("maxRetries", retries), ("retryIntervalSeconds", interval)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise DefinitionError(f"task {name!r}: {field} must be a number >= 0")
        settings.update(max_retries=int(retries), retry_interval_s=float(interval), resources=resources)
        tasks[name] = {"argv": _argv(name, job), "env": env, "directory": job.get("workDir") or "",
                       "settings": settings}
        for p in _strings(name, "parents", t.get("parents")):
            edges.append((p, name))
        for c in _strings(name, "children", t.get("children")):
            edges.append((name, c))
    edges = list(dict.fromkeys(edges))  # parents and children may say the same link twice
    return build(tasks, edges, workflow_settings=WorkflowSettings(parameters=params) if params else None)


def _slurm_time(seconds: int) -> str:
    m, s = divmod(max(1, seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


def load(path: str | Path) -> Workflow:
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except json.JSONDecodeError as e:
        raise DefinitionError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    return from_dict(data)
