"""``nodeflow login --server NAME --url URL [--token T]``: remember a server account.

The URL goes into the config (``[server.NAME]``); the token into the OS
keyring, or a 0600 file when there is no keyring. Without ``--token`` it is
asked for (not echoed); ``--token -`` reads it from stdin. The token is
checked with the server first unless ``--no-check``.
"""
from __future__ import annotations

import sys


def add_parser(sub) -> None:
    p = sub.add_parser("login", help="store a nodeflow server's URL and your token for it")
    p.add_argument("--server", required=True, metavar="NAME", help="a short name for the server, e.g. lab")
    p.add_argument("--url", required=True, help="e.g. http://lab.example.org:8765")
    p.add_argument("--token", help="your token ('-': read from stdin; default: ask)")
    p.add_argument("--tags", help="tags every node sent to this server needs (comma-separated)")
    p.add_argument("--no-check", action="store_true", help="store without asking the server")
    p.set_defaults(handler=run)


def run(args) -> int:
    from ..config import ConfigError, load_config
    from ..remote.cli_support import run_cli
    from ..remote.client import ServerClient
    from ..remote.credentials import store_token

    token = args.token
    if token == "-":
        token = sys.stdin.readline().strip()
    elif token is None:
        import getpass

        token = getpass.getpass(f"token for {args.url}: ").strip()
    if not token:
        print("no token given", file=sys.stderr)
        return 2
    url = args.url.rstrip("/")
    if "://" not in url:
        print(f"{url!r} is not a URL (e.g. http://host:8765)", file=sys.stderr)
        return 2

    def go():
        me = None
        if not args.no_check:
            with ServerClient(url, token) as c:
                me = c.me()
        try:
            config = load_config()
        except ConfigError as e:
            print(str(e), file=sys.stderr)
            return 2
        entry = dict(config.server.get(args.server) or {})
        entry.pop("token", None)
        entry["url"] = url
        if me:
            entry["user"] = me["name"]
        if args.tags is not None:
            entry["tags"] = [t.strip() for t in args.tags.split(",") if t.strip()]
        config.server[args.server] = entry
        where = store_token(args.server, token)
        path = config.save()
        who = f" as {me['name']}" if me else ""
        print(f"server {args.server} ({url}){who} saved in {path}; token kept in {where}")
        return 0

    try:
        return run_cli(go)
    except ValueError as e:
        print(str(e), file=sys.stderr)
        return 2
