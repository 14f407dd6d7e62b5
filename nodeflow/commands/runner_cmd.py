"""``nodeflow runner --server URL --token T [--tags a,b] [--slots N] [--workdir DIR]``:
a runner agent that takes tasks from a nodeflow server and runs them here.

The token may also come from ``--token-file`` or ``NODEFLOW_RUNNER_TOKEN``
(so it does not show in the process list); ``--server`` may name a server
configured with ``nodeflow login`` instead of giving a URL. SIGTERM or
Ctrl-C drains (running tasks finish, nothing new is taken); a second one
stops at once and gives the running tasks back to the queue.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys


def add_parser(sub) -> None:
    p = sub.add_parser("runner", help="run tasks from a nodeflow server on this machine",
                       description="Register with a server, lease the tasks whose tags this runner has, run them "
                                   "with the local executor, report logs and results.")
    p.add_argument("--server", required=True, metavar="URL", help="server URL (or a configured server's name)")
    p.add_argument("--token", help="a user or runner token (see also --token-file, NODEFLOW_RUNNER_TOKEN)")
    p.add_argument("--token-file", metavar="FILE", help="read the token from FILE")
    p.add_argument("--tags", default="", help="comma-separated tags this runner offers, e.g. gpu,linux")
    p.add_argument("--slots", type=int, default=1, metavar="N", help="tasks run at once (default 1)")
    p.add_argument("--workdir", metavar="DIR", help="where task folders go (default: <state dir>/runner)")
    p.add_argument("--name", help="name shown in the runner list (default: the host name)")
    p.add_argument("--lease-wait", type=float, default=20.0, metavar="S", help="long-poll length (default 20)")
    p.add_argument("--backoff-max", type=float, default=10.0, metavar="S",
                   help="longest pause between tries while the server is unreachable (default 10)")
    p.add_argument("--no-guard", action="store_true",
                   help="do not tie command nodes' lives to the runner's (they may outlive a killed runner)")
    p.add_argument("--stats", metavar="FILE", help=argparse.SUPPRESS)  # lease timings (benchmarks)
    p.set_defaults(handler=run)


def _token(args) -> str | None:
    if args.token:
        return args.token
    if args.token_file:
        with open(args.token_file, encoding="utf-8") as f:
            return f.read().strip()
    return os.environ.get("NODEFLOW_RUNNER_TOKEN")


def run(args) -> int:
    from pathlib import Path

    from .. import appdirs
    from ..remote.agent import AgentSettings, RunnerAgent
    from ..remote.client import ServerClient

    url, token = args.server, None
    try:
        token = _token(args)
    except OSError as e:
        print(f"{args.token_file}: {e.strerror or e}", file=sys.stderr)
        return 2
    if "://" not in url:  # a configured server's name
        from ..remote.cli_support import CliError, client_for

        try:
            c = client_for(url)
        except CliError as e:
            print(str(e), file=sys.stderr)
            return e.code
        url, token = c.url, token or c.token
        c.close()
    if not token:
        print("a runner needs a token: --token, --token-file or NODEFLOW_RUNNER_TOKEN", file=sys.stderr)
        return 2
    if args.slots < 1:
        print("--slots must be at least 1", file=sys.stderr)
        return 2
    tags = tuple(t.strip() for t in args.tags.split(",") if t.strip())
    settings = AgentSettings(workdir=Path(args.workdir) if args.workdir else appdirs.state_dir() / "runner",
                             tags=tags, slots=args.slots, lease_wait_s=args.lease_wait, guard=not args.no_guard,
                             backoff_max_s=args.backoff_max,
                             stats_path=Path(args.stats) if args.stats else None)
    if args.name:
        settings.name = args.name
    agent = RunnerAgent(ServerClient(url, token), settings)
    signals = {"n": 0}

    def on_signal(signum, frame):
        signals["n"] += 1
        if signals["n"] == 1:
            print("draining: running tasks finish, nothing new is taken (signal again to stop now)",
                  file=sys.stderr, flush=True)
            agent.drain()
        else:
            agent.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        return agent.run()
    finally:
        agent.client.close()
