"""Running an in-process node type's function: the one place that does it.

Used by the local executor (threads) and by ``python -m nodeflow.worker``
(subprocesses, Slurm jobs, runners), so a node behaves the same everywhere:
a ``NodeError`` is the user-facing message, any other exception is reported
as ``Type: message`` with its traceback in the log.
"""
from __future__ import annotations

import traceback
from typing import Any, NamedTuple

from .types import NodeContext, NodeError


class Invocation(NamedTuple):
    """How a node run went. A named tuple: one is made per node run, and tuples are the cheapest record."""

    ok: bool
    outputs: dict[str, Any]
    error: str | None
    log: list[tuple[str, str]]  # (stream, line), traceback lines on stderr


_new = tuple.__new__  # Invocation(...) goes through a Python-level __new__


def invoke(registry, path, inputs: dict[str, Any], run_id: str, node: str, output_dir=None,
           base_dir=None) -> Invocation:
    """Run the in-process node type at ``path`` on ``inputs``. (Arguments may be given by position:
    the local executor calls this once per node, and keywords cost more.)"""
    ntype = registry.get(path) if registry is not None else None
    if ntype is None or ntype.function is None:
        return Invocation(False, {}, f"no in-process node type {'/'.join(path)} in this installation", [])
    return invoke_type(ntype, inputs, run_id, node, output_dir, base_dir)


def invoke_type(ntype, inputs: dict[str, Any], run_id: str, node: str, output_dir=None,
                base_dir=None) -> Invocation:
    """``invoke`` for a node type already looked up (it has a ``function``)."""
    ctx = NodeContext(run_id, node, output_dir, base_dir)
    try:
        outputs = ntype.function(dict(inputs), ctx)
    except NodeError as e:
        return Invocation(False, {}, str(e), ctx.log_lines)
    except Exception as e:
        tb = [("stderr", ln) for ln in traceback.format_exc().rstrip().splitlines()]
        return Invocation(False, {}, f"{type(e).__name__}: {e}", ctx.log_lines + tb)
    return _new(Invocation, (True, dict(outputs) if outputs else {}, None, ctx.log_lines))


#: the value classes a quick node's inputs may have for it to run inline (``NodeType.quick``)
_PLAIN = frozenset({int, float, bool, str, type(None)})
#: longer lists (a multiinput with many connections, a saved array) go to the thread pool
PLAIN_LIST_MAX = 64


def plain_inputs(inputs: dict[str, Any]) -> bool:
    """True when every input value is plain — a number, text, None, or a list of at most
    ``PLAIN_LIST_MAX`` of those — so a quick node type runs in microseconds on them. numpy
    values are never plain: an array may be large, and numpy releases the GIL on it."""
    plain = _PLAIN
    for v in inputs.values():
        c = v.__class__
        if c in plain:
            continue
        if c is list and len(v) <= PLAIN_LIST_MAX:
            for x in v:
                if x.__class__ not in plain:
                    return False
            continue
        return False
    return True
