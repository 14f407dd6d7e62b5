"""``nodeflow validate FILE... [--order]``: print problems, optionally the run order.

Each problem prints as ``FILE: uniquename: message`` (warnings end in
``(warning)``). Exit 0 when no file has errors (warnings allowed), 2 when any
has an error, else 1 when a file can't be read or parsed (the loader's message
is printed on stderr).
"""
from __future__ import annotations

import sys

from ..model import CycleError, WorkflowFileError, load, topological_order


def add_parser(sub) -> None:
    v = sub.add_parser("validate", help="check workflow files and print their problems")
    v.add_argument("files", nargs="+", metavar="FILE")
    v.add_argument("--order", action="store_true", help="also print the execution order, one uniquename per line")
    v.set_defaults(handler=run)


def run(args) -> int:
    from .. import validate
    from ..library import default_registry

    registry = default_registry()
    worst = 0
    for path in args.files:
        try:
            wf = load(path)
        except (WorkflowFileError, OSError) as e:
            msg = str(e) if isinstance(e, WorkflowFileError) else f"{path}: {e.strerror or e}"
            print(msg, file=sys.stderr)
            worst = max(worst, 1)
            continue
        problems = validate(wf, registry=registry)
        for p in problems:
            suffix = "" if p.is_error else " (warning)"
            print(f"{path}: {p.uniquename}: {p.message}{suffix}")
        if any(p.is_error for p in problems):
            worst = 2
        if args.order:
            try:
                for name in topological_order(wf):
                    print(name)
            except CycleError as e:
                print(f"{path}: no execution order: {e}", file=sys.stderr)
    return worst
