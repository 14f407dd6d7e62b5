"""``nodeflow import daggy|donut FILE -o OUT.nc``: other tools' DAGs as Nodeworks workflows.

Exit 0 on success, 2 when the definition is invalid (a cycle, a dangling
parent, a missing field — named in the message), 1 when it can't be read.
"""
from __future__ import annotations

import sys


def add_parser(sub) -> None:
    p = sub.add_parser("import", help="turn a Daggy or donut-dagger definition into a Nodeworks workflow")
    p.add_argument("format", choices=("daggy", "donut"))
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", required=True, metavar="OUT.nc")
    p.set_defaults(handler=run)


def run(args) -> int:
    from ..importers import DefinitionError
    from ..model import save

    if args.format == "daggy":
        from ..importers.daggy import load
    else:
        from ..importers.donut import load
    try:
        wf = load(args.file)
    except DefinitionError as e:
        print(f"{args.file}: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"{args.file}: {e.strerror or e}", file=sys.stderr)
        return 1
    save(wf, args.output)
    n = sum(1 for node in wf.nodes.values() if not node.hidden)
    print(f"{args.output}: {n} command nodes, {len(wf.connections)} connections")
    return 0
