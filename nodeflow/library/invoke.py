"""Running an in-process node type's function: the one place that does it.

Used by the local executor (threads) and by ``python -m nodeflow.worker``
(subprocesses, Slurm jobs, runners), so a node behaves the same everywhere:
a ``NodeError`` is the user-facing message, any other exception is reported
as ``Type: message`` with its traceback in the log.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any

from .types import NodeContext, NodeError


@dataclass(slots=True)
class Invocation:
    ok: bool
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    log: list[tuple[str, str]] = field(default_factory=list)  # (stream, line), traceback lines on stderr


def invoke(registry, path, inputs: dict[str, Any], *, run_id: str, node: str, output_dir=None,
           base_dir=None) -> Invocation:
    ntype = registry.get(path) if registry is not None else None
    if ntype is None or ntype.function is None:
        return Invocation(False, error=f"no in-process node type {'/'.join(path)} in this installation")
    ctx = NodeContext(run_id, node, output_dir, base_dir)
    try:
        outputs = ntype.function(dict(inputs), ctx)
    except NodeError as e:
        return Invocation(False, error=str(e), log=ctx.log_lines)
    except Exception as e:
        tb = [("stderr", ln) for ln in traceback.format_exc().rstrip().splitlines()]
        return Invocation(False, error=f"{type(e).__name__}: {e}", log=ctx.log_lines + tb)
    return Invocation(True, dict(outputs or {}), log=ctx.log_lines)
