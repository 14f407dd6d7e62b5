"""Between the wire and the local executor: a leased task becomes a TaskSpec
that runs here, a final ``TaskStatus`` becomes the report sent back.

* ``local_spec`` — unknown fields are dropped (a newer desktop may send
  more); the node gets its own folder ``<workdir>/<run>/<node>-t<task>``;
  its working folder is kept when it exists here (a shared file system),
  else the task folder is used; command nodes are wrapped in ``guard.py``.
* ``wire_report`` — outputs encoded with arrays inline (JSON only, never a
  pickle); log lines not sent yet travel in the result.
* ``shrunk`` — a report the server refused as too large, as a failure that
  fits.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import fields
from pathlib import Path

from ...executors.base import CANCELLED, FAILED, SUCCEEDED, TaskSpec, TaskStatus
from ...model.values import encode
from ..protocol import LeasedTask, TaskReport, WireResult

_SPEC_FIELDS = {f.name for f in fields(TaskSpec)}
_WIRE_STATE = {SUCCEEDED: "succeeded", FAILED: "failed", CANCELLED: "cancelled"}
#: run as a plain script (stdlib only, no site, no nodeflow imports): starts in a few milliseconds
GUARD = str(Path(__file__).with_name("guard.py"))
MAX_LINE = 65536
MAX_RESULT_LINES = 20000


def local_spec(task: LeasedTask, workdir: Path, *, keep_cwd: bool = True, guard: bool = True) -> TaskSpec:
    from ...engine.runfolders import node_dirname

    spec = TaskSpec.from_json_dict({k: v for k, v in task.spec.items() if k in _SPEC_FIELDS}, None)
    folder = workdir / node_dirname(str(spec.run_id or "run")) / f"{node_dirname(spec.node or 'node')}-t{task.task_id}"
    folder.mkdir(parents=True, exist_ok=True)
    spec.workdir = str(folder)
    if not (keep_cwd and spec.cwd and os.path.isdir(spec.cwd)):
        spec.cwd = str(folder)
    spec.executor = "local"
    if spec.kind == "command" and guard and spec.argv:
        spec.argv = [sys.executable, "-I", "-S", GUARD, str(os.getpid()), "--", *spec.argv]
    return spec


def wire_report(task: LeasedTask, st: TaskStatus, lines: list[tuple[str, str]]) -> TaskReport:
    res = st.result
    try:
        outputs = encode(res.outputs) if res is not None else {}
        json.dumps(outputs, allow_nan=True)
        wire = WireResult(ok=bool(res and res.ok), outputs=outputs, error=res.error if res else st.reason,
                          exit_code=res.exit_code if res else None,
                          started_at=(res.started_at if res else None) or st.started_at,
                          finished_at=(res.finished_at if res else None) or time.time(),
                          log=[(s, line[:MAX_LINE]) for s, line in lines][-MAX_RESULT_LINES:])
        state, reason = _WIRE_STATE.get(st.state, "failed"), st.reason
    except (TypeError, ValueError) as e:
        wire = WireResult(ok=False, error=f"the node's outputs cannot be sent as JSON: {e}")
        state, reason = "failed", "outputs"
    if not wire.ok and state == "succeeded":
        state = "failed"
    return TaskReport(task_id=task.task_id, lease=task.lease, state=state, reason=reason, result=wire)


def shrunk(rep: TaskReport, limit_note: str) -> TaskReport:
    """The same report as a failure without outputs (and with its log's tail only)."""
    r = rep.result
    wire = WireResult(ok=False, error=f"the result was too large to send ({limit_note})", exit_code=r.exit_code,
                      started_at=r.started_at, finished_at=r.finished_at, log=r.log[-100:])
    state = "cancelled" if rep.state == "cancelled" else "failed"
    return TaskReport(task_id=rep.task_id, lease=rep.lease, state=state, reason="too-large", result=wire)
