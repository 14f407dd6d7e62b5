"""The executor protocol and the TaskSpec every executor runs.

A ``TaskSpec`` is plain JSON (DESIGN rule 4): node path, input values, the
command line for command nodes, resources, environment. The same spec runs in
a local thread or subprocess, a Slurm job, or on a runner agent; Python nodes
that leave this process go through ``python -m nodeflow.worker SPEC.json``.

Executors (DESIGN rule 3) are injected into the scheduler and offer:

* ``start(notify)`` – ``notify()`` may be called from any thread when
  something changed, so the scheduler polls at once instead of waiting.
* ``submit(specs) -> handles`` – hand over a batch.
* ``poll(handles) -> {handle: TaskStatus}`` – ONE call for the whole batch;
  returns the handles whose status changed (or that have new log lines).
* ``cancel(handles)``, ``logs(handle) -> (stdout, stderr)``, ``close()``.
* ``poll_interval()`` – seconds until the next poll is worth making when no
  ``notify`` comes (0 for push-only executors that always notify).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

from ..model.fileio import atomic_write_text
from ..model.values import decode, encode

# Task states as executors report them (mapped to node states by the scheduler).
QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
FINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})


@dataclass(slots=True)
class TaskSpec:
    run_id: str
    node: str  # uniquename
    path: tuple[str, ...]  # node type path
    kind: str  # "python" | "command"
    inputs: dict[str, Any] = field(default_factory=dict)
    #: command nodes: the argument list (never a shell line), extra env, folder
    argv: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    #: command nodes: the folder they run in; Python nodes: where relative paths start
    #: (both default to the workflow file's folder)
    cwd: str | None = None
    resources: dict[str, Any] = field(default_factory=dict)
    timeout_s: float | None = None
    attempt: int = 1
    isolate: bool = False
    #: the node's own folder in the run folder (logs, spec, results, files it writes)
    workdir: str | None = None
    executor: str = "local"
    #: runner tags the node needs (a runner must have all of them)
    tags: tuple[str, ...] = ()

    def key(self) -> tuple[str, int]:
        return (self.node, self.attempt)

    # -- JSON with arrays beside it (spec.json + arrayN.npy in the same folder) --
    def to_json_dict(self, sidecar: str | os.PathLike | None = None) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = list(self.path)
        d["inputs"] = encode(self.inputs, sidecar)
        return d

    @classmethod
    def from_json_dict(cls, d: Mapping[str, Any], sidecar: str | os.PathLike | None = None) -> "TaskSpec":
        d = dict(d)
        d["path"] = tuple(d["path"])
        d["tags"] = tuple(d.get("tags") or ())
        d["inputs"] = decode(d.get("inputs") or {}, sidecar)
        return cls(**d)

    def write(self, folder: str | os.PathLike) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "spec.json"
        atomic_write_text(path, json.dumps(self.to_json_dict(folder), indent=1))
        return path

    @classmethod
    def read(cls, path: str | os.PathLike) -> "TaskSpec":
        path = Path(path)
        return cls.from_json_dict(json.loads(path.read_text("utf-8")), path.parent)


@dataclass(slots=True)
class TaskResult:
    """What a worker writes (``result.json``) and executors hand back on success/failure."""

    ok: bool
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    exit_code: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    log: list[tuple[str, str]] = field(default_factory=list)

    def write(self, folder: str | os.PathLike) -> Path:
        folder = Path(folder)
        path = folder / "result.json"
        d = {"ok": self.ok, "outputs": encode(self.outputs, folder), "error": self.error,
             "exit_code": self.exit_code, "started_at": self.started_at, "finished_at": self.finished_at}
        atomic_write_text(path, json.dumps(d))
        return path

    @classmethod
    def read(cls, path: str | os.PathLike) -> "TaskResult":
        path = Path(path)
        d = json.loads(path.read_text("utf-8"))
        return cls(ok=bool(d["ok"]), outputs=decode(d.get("outputs") or {}, path.parent), error=d.get("error"),
                   exit_code=d.get("exit_code"), started_at=d.get("started_at"), finished_at=d.get("finished_at"))


@dataclass(slots=True)
class TaskStatus:
    """A change in one task, as ``poll`` reports it."""

    state: str  # QUEUED | RUNNING | SUCCEEDED | FAILED | CANCELLED
    result: TaskResult | None = None  # set when final
    new_log: list[tuple[str, str]] = field(default_factory=list)  # (stream, line) since the last poll
    reason: str | None = None  # FAILED: "exit", "timeout", "TIMEOUT", "OUT_OF_MEMORY", "cancelled" …
    host: str | None = None
    job_id: str | None = None
    started_at: float | None = None


class Executor(Protocol):
    name: str
    max_concurrency: int

    def start(self, notify: Callable[[], None]) -> None: ...
    def submit(self, specs: list[TaskSpec]) -> list[Any]: ...
    def poll(self, handles: list[Any]) -> dict[Any, TaskStatus]: ...
    def cancel(self, handles: list[Any]) -> None: ...
    def logs(self, handle: Any) -> tuple[str, str]: ...
    def poll_interval(self) -> float: ...
    def close(self) -> None: ...
