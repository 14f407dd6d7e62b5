"""``python -m nodeflow.worker SPEC.json``: run one TaskSpec anywhere.

Reads the spec (arrays from ``.npy`` files beside it), finds the node type in
the library (built-ins and plug-ins of this installation), runs it with the
spec's folder as its output folder, and writes ``result.json`` there
atomically — ``ok``, outputs (arrays beside it) or the error. Exit status 0
when the node succeeded, 1 when it failed, 2 when the spec could not be read.
The same bundle runs in a local subprocess, a Slurm job or a runner agent.
"""
from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path


def run_spec(spec_path: str) -> int:
    from .executors.base import TaskResult, TaskSpec
    from .library import NodeContext, NodeError, default_registry

    spec = TaskSpec.read(spec_path)
    folder = Path(spec_path).resolve().parent
    started = time.time()
    ntype = default_registry().get(spec.path)
    if ntype is None or ntype.function is None:
        TaskResult(False, error=f"unknown node type {'/'.join(spec.path)} on this machine",
                   started_at=started, finished_at=time.time()).write(folder)
        return 1
    ctx = NodeContext(spec.run_id, spec.node, folder, spec.cwd)
    try:
        outputs = ntype.function(dict(spec.inputs), ctx)
    except NodeError as e:
        error = str(e)
    except Exception as e:
        traceback.print_exc()
        error = f"{type(e).__name__}: {e}"
    else:
        for stream, line in ctx.log_lines:
            print(line, file=sys.stdout if stream == "stdout" else sys.stderr)
        TaskResult(True, dict(outputs or {}), started_at=started, finished_at=time.time()).write(folder)
        return 0
    for stream, line in ctx.log_lines:
        print(line, file=sys.stdout if stream == "stdout" else sys.stderr)
    print(error, file=sys.stderr)
    TaskResult(False, error=error, started_at=started, finished_at=time.time()).write(folder)
    return 1


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m nodeflow.worker SPEC.json", file=sys.stderr)
        return 2
    try:
        return run_spec(args[0])
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"nodeflow.worker: cannot read {args[0]}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
