"""``nodeflow runners [--server NAME]``: the runners a server has, their
tags, slots, state, last heartbeat and running tasks; ``--shutdown ID``
asks one to drain and exit."""
from __future__ import annotations

import json
import time


def add_parser(sub) -> None:
    p = sub.add_parser("runners", help="list a nodeflow server's runners")
    p.add_argument("--server", metavar="NAME", help="configured server (default: the only one)")
    p.add_argument("--all", action="store_true", help="include offline runners")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--shutdown", type=int, metavar="ID", help="ask runner ID to finish its tasks and exit")
    p.set_defaults(handler=run)


def run(args) -> int:
    from ..remote.cli_support import client_for, run_cli, table

    def go():
        with client_for(args.server) as c:
            if args.shutdown is not None:
                c.shutdown_runner(args.shutdown)
                print(f"runner {args.shutdown} will drain and exit at its next heartbeat")
                return 0
            rs = c.runners()
        if not args.all:
            rs = [r for r in rs if r["state"] != "offline"]
        if args.json:
            print(json.dumps(rs, indent=2))
            return 0
        now = time.time()
        table(["ID", "NAME", "OWNER", "HOST", "STATE", "SLOTS", "TAGS", "HEARTBEAT", "RUNNING"],
              [[r["id"], r["name"], r["owner"], r["host"], r["state"], r["slots"], ",".join(r["tags"]) or "-",
                f"{now - r['last_heartbeat']:.0f}s ago" if r["last_heartbeat"] else "-",
                ",".join(str(t) for t in r["running_tasks"]) or "-"] for r in rs])
        return 0

    return run_cli(go)
