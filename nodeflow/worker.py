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
from pathlib import Path


def run_spec(spec_path: str) -> int:
    from .executors.base import TaskResult, TaskSpec
    from .library import default_registry
    from .library.invoke import invoke

    spec = TaskSpec.read(spec_path)
    folder = Path(spec_path).resolve().parent
    started = time.time()
    inv = invoke(default_registry(), spec.path, spec.inputs, run_id=spec.run_id, node=spec.node,
                 output_dir=folder, base_dir=spec.cwd)
    for stream, line in inv.log:
        print(line, file=sys.stdout if stream == "stdout" else sys.stderr)
    if not inv.ok:
        print(inv.error, file=sys.stderr)
    TaskResult(inv.ok, inv.outputs, inv.error, started_at=started, finished_at=time.time()).write(folder)
    return 0 if inv.ok else 1


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
