"""``nodeflow pull NAME [--version V] [-o FILE]``: fetch a published workflow.

Writes the exact bytes of that version (default: the latest) to FILE
(default ``NAME.nc``), never over an existing file unless ``--force``.
``--list`` lists the workflows you can see, ``--history`` the versions of
NAME, ``--diff A B`` the changes between two versions.
"""
from __future__ import annotations

import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("pull", help="fetch a workflow (or its history) from a nodeflow server")
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--version", help="version number or commit id (default: the latest)")
    p.add_argument("--owner", help="whose workflow (one shared with you)")
    p.add_argument("-o", "--output", metavar="FILE", help="where to write it (default: NAME.nc)")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.add_argument("--list", action="store_true", help="list the workflows you can see")
    p.add_argument("--history", action="store_true", help="list NAME's versions")
    p.add_argument("--diff", nargs=2, metavar=("A", "B"), help="show what changed between versions A and B")
    p.add_argument("--server", metavar="NAME", help="configured server (default: the only one)")
    p.set_defaults(handler=run)


def run(args) -> int:
    from ..model.fileio import atomic_write_bytes
    from ..remote.cli_support import CliError, client_for, run_cli, table, when

    def go():
        with client_for(args.server) as c:
            if args.list:
                table(["OWNER", "NAME", "VERSIONS", "UPDATED", "SHARED WITH", "SCHEDULE"],
                      [[w["owner"], w["name"], w["versions"], when(w["updated_at"]), ",".join(w["shared_with"]),
                        w["schedule"]] for w in c.workflows()])
                return 0
            if not args.name:
                raise CliError("pull needs a workflow NAME (or --list)", 2)
            if args.history:
                table(["VERSION", "COMMIT", "AUTHOR", "TIME", "MESSAGE"],
                      [[v["version"], v["commit"][:10], v["author"], when(v["time"]), v["message"]]
                       for v in c.history(args.name, owner=args.owner)])
                return 0
            if args.diff:
                d = c.diff(args.name, args.diff[0], args.diff[1], owner=args.owner)
                sys.stdout.write(d["diff"] or f"versions {d['a']} and {d['b']} are the same\n")
                return 0
            out = Path(args.output or f"{args.name}.nc")
            if out.exists() and not args.force:
                raise CliError(f"{out} exists; use --force to overwrite it or -o to write elsewhere", 2)
            params = {k: v for k, v in (("version", args.version), ("owner", args.owner)) if v}
            data = c.request("GET", f"/workflows/{args.name}/content", params=params, raw=True)
            atomic_write_bytes(out, data)
            info = c.workflow(args.name, args.version, owner=args.owner)
            print(f"{out}: {info['owner']}/{info['name']} version {info['version']} (commit {info['commit'][:10]})")
            return 0

    return run_cli(go)
