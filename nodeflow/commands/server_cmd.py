"""``nodeflow server``: run the shared server, manage its users, its timers.

* ``nodeflow server [--host 127.0.0.1] [--port 8765] [--data DIR] [--db URL]``
  serves the API under uvicorn (the ``server`` extra).
* ``nodeflow server add-user NAME [--admin]`` and ``add-token USER
  [--runner]`` work on the data folder directly and print the token once.
* ``nodeflow server timers [list|add|pause|resume|delete]`` and
  ``nodeflow server execute NAME`` talk to a configured server (``--server``).

Exit codes: 0 fine, 1 the server could not be reached or failed, 2 bad input.
"""
from __future__ import annotations

import sys


def _data_args(p) -> None:
    p.add_argument("--data", metavar="DIR", help="server data folder (default: <user data dir>/server)")
    p.add_argument("--db", metavar="URL", help="SQLAlchemy database URL (default: SQLite in the data folder)")


def add_parser(sub) -> None:
    p = sub.add_parser("server", help="run the shared nodeflow server, or manage its users and timers",
                       description="Without an action: serve the API. Actions manage users, tokens and timers.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    _data_args(p)
    p.add_argument("--lease-timeout", type=float, default=60.0, metavar="S",
                   help="seconds without a heartbeat before a runner's tasks are queued again (default 60)")
    p.add_argument("--heartbeat", type=float, default=5.0, metavar="S", help="runners' heartbeat (default 5)")
    p.add_argument("--max-retries", type=int, default=3, metavar="N",
                   help="times a task is queued again after its runner was lost (default 3)")
    p.add_argument("--max-upload-mb", type=float, default=32.0, metavar="MB", help="request size limit")
    p.add_argument("--no-timers", action="store_true", help="do not fire timers in this process")
    p.add_argument("--max-wait", type=float, default=60.0, metavar="S", help="longest long-poll (default 60)")
    p.add_argument("--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug"))
    p.set_defaults(handler=serve)
    acts = p.add_subparsers(dest="action", metavar="ACTION")

    a = acts.add_parser("add-user", help="create a user and print its first token (once)")
    a.add_argument("name")
    a.add_argument("--admin", action="store_true", help="may manage users, the queue and shared runners")
    _data_args(a)
    a.set_defaults(handler=add_user)

    a = acts.add_parser("add-token", help="create another token for a user and print it (once)")
    a.add_argument("user")
    a.add_argument("--runner", action="store_true", help="a runner token: may only run tasks")
    a.add_argument("--label", default="", help="what it is for")
    _data_args(a)
    a.set_defaults(handler=add_token)

    t = acts.add_parser("timers", help="list, add, pause, resume or delete timers on a server")
    t.add_argument("timer_action", nargs="?", default="list", choices=("list", "add", "pause", "resume", "delete"))
    t.add_argument("target", nargs="?", help="add: the workflow name; pause/resume/delete: the timer id")
    t.add_argument("--cron", help="add: the schedule (5 fields, or 6 with seconds last)")
    t.add_argument("--owner", help="add: whose workflow (one shared with you)")
    t.add_argument("--version", help="add: always run this version (default: the latest)")
    t.add_argument("--server", metavar="NAME", help="configured server (default: the only one)")
    t.set_defaults(handler=timers)

    e = acts.add_parser("execute", help="run a published workflow on the server (it goes on without you)")
    e.add_argument("name")
    e.add_argument("--version", help="number or commit (default: latest)")
    e.add_argument("--owner", help="whose workflow (one shared with you)")
    e.add_argument("--watch", action="store_true", help="wait for the run to finish, printing node events")
    e.add_argument("--server", metavar="NAME", help="configured server (default: the only one)")
    e.set_defaults(handler=execute)


def _data_dir(args):
    from pathlib import Path

    from .. import appdirs

    return Path(args.data) if args.data else appdirs.data_dir() / "server"


def serve(args) -> int:
    try:
        import uvicorn

        from ..remote.server import create_app
    except ImportError as e:
        print(f"the server needs its extra: pip install 'nodeflow[server]' ({e})", file=sys.stderr)
        return 2
    data = _data_dir(args)
    app = create_app(data, args.db, lease_timeout_s=args.lease_timeout, heartbeat_s=args.heartbeat,
                     max_retries=args.max_retries, max_body_bytes=int(args.max_upload_mb * 1024 * 1024),
                     run_timers=not args.no_timers, max_wait_s=args.max_wait)
    if not app.state.server.auth.users():
        print(f"no users yet: nodeflow server add-user NAME --admin --data {data}", file=sys.stderr)
    print(f"nodeflow server on http://{args.host}:{args.port} (data: {data})", file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level,
                                          timeout_graceful_shutdown=3))
    default_exit = server.handle_exit

    def handle_exit(sig, frame):  # end the long-polls now, so connections close at once
        app.state.server.closing = True
        app.state.server.notifier.close()
        default_exit(sig, frame)

    server.handle_exit = handle_exit
    server.run()
    return 0


def _state(args):
    from ..remote.server import ServerOptions, ServerState

    return ServerState(_data_dir(args), args.db, ServerOptions(run_timers=False, resume_runs=False))


def add_user(args) -> int:
    from ..remote.protocol import UserCreate
    from ..remote.server.errors import Conflict

    try:
        UserCreate(name=args.name, admin=args.admin)
    except ValueError:
        print(f"{args.name!r} is not a user name: letters, digits, '.', '_' or '-'", file=sys.stderr)
        return 2
    state = _state(args)
    try:
        _user, token = state.auth.create_user(args.name, args.admin)
    except Conflict as e:
        print(str(e), file=sys.stderr)
        return 2
    finally:
        state.close()
    print(token)
    print(f"user {args.name}{' (admin)' if args.admin else ''} created; the token above is shown only once",
          file=sys.stderr)
    return 0


def add_token(args) -> int:
    state = _state(args)
    try:
        u = state.auth.user_by_name(args.user)
        if u is None:
            print(f"no user {args.user!r}", file=sys.stderr)
            return 2
        _t, token = state.auth.create_token(u["id"], "runner" if args.runner else "user", args.label)
    finally:
        state.close()
    print(token)
    return 0


def timers(args) -> int:
    from ..remote.cli_support import CliError, client_for, run_cli, table, when

    def go():
        with client_for(args.server) as c:
            act = args.timer_action
            if act == "list":
                rows = [[t["id"], t["owner"], t["workflow"], t["cron"], t["version"] or "latest",
                         "paused" if t["paused"] else "active", t["source"], when(t["next_fire"]),
                         t["last_run_id"]] for t in c.timers()]
                table(["ID", "OWNER", "WORKFLOW", "CRON", "VERSION", "STATE", "FROM", "NEXT", "LAST RUN"], rows)
                return 0
            if not args.target:
                raise CliError(f"timers {act} needs a {'workflow name' if act == 'add' else 'timer id'}", 2)
            if act == "add":
                if not args.cron:
                    raise CliError("timers add needs --cron", 2)
                t = c.add_timer(args.target, args.cron, owner=args.owner, version=args.version)
                print(f"timer {t['id']}: {t['workflow']} at '{t['cron']}', next {when(t['next_fire'])}")
                return 0
            if not args.target.isdigit():
                raise CliError(f"a timer id is a number, not {args.target!r}", 2)
            c.timer_action(int(args.target), act)
            print(f"timer {args.target} {act}{'d' if act.endswith('e') else 'd'}")
            return 0

    return run_cli(go)


def execute(args) -> int:
    from ..remote.cli_support import client_for, run_cli

    def go():
        with client_for(args.server) as c:
            r = c.execute(args.name, args.version, owner=args.owner)
            print(r["run_id"])
            if not args.watch:
                return 0
            after, state = 0, r["state"]
            while True:
                ev = c.run_events(r["run_id"], after, wait_s=20)
                for e in ev["events"]:
                    if e["kind"] in ("node_succeeded", "node_failed", "node_skipped"):
                        print(f"{e['kind'][5:]:9} {e['node']}", file=sys.stderr)
                after, state = ev["next"], ev["state"]
                if state in ("succeeded", "failed", "cancelled") and not ev["events"]:
                    break
            print(f"run {r['run_id']}: {state}", file=sys.stderr)
            return 0 if state == "succeeded" else 1

    return run_cli(go)
