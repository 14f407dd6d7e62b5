"""``nodeflow push FILE -m MSG [--server NAME] [--name NAME]``: publish a
workflow file to a server as a new version (a git commit there).

The name defaults to the file's name without ``.nc``. Exit 0 published;
1 the file or the server failed; 2 bad input (the server refused it).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("push", help="publish a workflow file to a nodeflow server (a new version)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("-m", "--message", required=True, help="what changed (the commit message)")
    p.add_argument("--name", help="name on the server (default: the file name without .nc)")
    p.add_argument("--server", metavar="NAME", help="configured server (default: the only one)")
    p.set_defaults(handler=run)


def run(args) -> int:
    from ..remote.cli_support import client_for, run_cli

    path = Path(args.file)
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
    except OSError as e:
        print(f"{path}: {e.strerror or e}", file=sys.stderr)
        return 1
    except UnicodeDecodeError:
        print(f"{path}: not UTF-8 text", file=sys.stderr)
        return 1
    name = args.name or re.sub(r"[^A-Za-z0-9._-]", "_", path.name[:-3] if path.name.endswith(".nc") else path.stem)
    name = name.lstrip("._-") or "workflow"

    def go():
        with client_for(args.server) as c:
            out = c.publish(name, text, args.message)
        print(f"published {out['owner']}/{out['name']} version {out['version']} (commit {out['commit'][:10]})")
        return 0

    return run_cli(go)
