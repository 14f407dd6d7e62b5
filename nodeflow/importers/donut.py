"""donut-dagger workflow definitions (YAML or JSON) → a workflow of command nodes.

Read: ``jobs`` (``cmd``, ``args``, ``name``; ``image`` kept as metadata since
nodeflow runs no containers; ``workdir_prefix`` becomes the command's folder;
``inputs``/``outputs`` kept as metadata), ``neighbors`` (job → the jobs that
run after it) and the workflow's ``parallelism`` (nodes run at once).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..engine.settings import WorkflowSettings
from ..model import Workflow
from . import DefinitionError
from .common import build


def from_dict(data: Any) -> Workflow:
    if not isinstance(data, dict) or not isinstance(data.get("jobs"), list) or not data["jobs"]:
        raise DefinitionError("a donut-dagger definition needs a non-empty 'jobs' list")
    tasks: dict[str, dict] = {}
    for i, job in enumerate(data["jobs"]):
        if not isinstance(job, dict):
            raise DefinitionError(f"job {i + 1} must be a mapping")
        name = job.get("name")
        if not isinstance(name, str) or not name:
            raise DefinitionError(f"job {i + 1} has no name")
        if name in tasks:
            raise DefinitionError(f"job name {name!r} is used twice")
        cmd = job.get("cmd")
        if not isinstance(cmd, str) or not cmd:
            raise DefinitionError(f"job {name!r} has no cmd")
        args = job.get("args") or []
        if not isinstance(args, list):
            raise DefinitionError(f"job {name!r}: args must be a list")
        meta = {k: job[k] for k in ("image", "inputs", "outputs") if k in job}
        tasks[name] = {"argv": [cmd, *(str(a) for a in args)], "directory": job.get("workdir_prefix") or "",
                       "meta": meta}
    neighbors = data.get("neighbors") or {}
    if not isinstance(neighbors, dict):
        raise DefinitionError("neighbors must map a job to the jobs that follow it")
    edges = []
    for a, bs in neighbors.items():
        if not isinstance(bs, list):
            raise DefinitionError(f"neighbors of {a!r} must be a list")
        edges.extend((a, b) for b in bs)
    parallelism = data.get("parallelism")
    if parallelism is not None and (isinstance(parallelism, bool) or not isinstance(parallelism, int)
                                    or parallelism < 1):
        raise DefinitionError("parallelism must be a whole number >= 1")
    settings = WorkflowSettings(jobs=parallelism) if parallelism else None
    return build(tasks, edges, workflow_settings=settings)


def load(path: str | Path) -> Workflow:
    try:
        data = yaml.safe_load(Path(path).read_text("utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise DefinitionError(f"{path}: not valid YAML{where}: {getattr(e, 'problem', e)}") from None
    return from_dict(data)
