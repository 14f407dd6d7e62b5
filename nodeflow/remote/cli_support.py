"""Helpers the server-related CLI commands share: finding the configured
server and its token, and turning client errors into messages."""
from __future__ import annotations

import sys
from typing import Any


class CliError(Exception):
    """Print the message, exit with ``code``."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def client_for(server: str | None, *, timeout: float = 30.0):
    """A ``ServerClient`` for configured server ``server`` (or the only one configured)."""
    from ..config import ConfigError, load_config
    from .client import ServerClient
    from .credentials import server_token

    try:
        config = load_config()
    except ConfigError as e:
        raise CliError(str(e), 2) from None
    servers = config.server
    if server is None:
        if len(servers) == 1:
            server = next(iter(servers))
        elif not servers:
            raise CliError("no server configured: nodeflow login --server NAME --url URL --token TOKEN", 2)
        else:
            raise CliError(f"several servers configured ({', '.join(sorted(servers))}): pick one with --server", 2)
    cfg = servers.get(server)
    if cfg is None:
        known = ", ".join(sorted(servers)) or "none"
        raise CliError(f"no server {server!r} in {config.path} (configured: {known}); use nodeflow login", 2)
    url = cfg.get("url")
    if not url:
        raise CliError(f"[server.{server}] in {config.path} has no url", 2)
    try:
        token = server_token(server, cfg)
    except (OSError, ValueError) as e:
        raise CliError(str(e), 2) from None
    if not token:
        raise CliError(f"no token stored for server {server!r}: nodeflow login --server {server} --url {url} "
                       "--token TOKEN", 2)
    return ServerClient(str(url), token, timeout=timeout)


def run_cli(fn, *args: Any) -> int:
    """Call ``fn``; server and CLI errors become a message on stderr and an exit code."""
    from .client import RemoteError, ServerUnavailable

    try:
        return fn(*args) or 0
    except CliError as e:
        print(str(e), file=sys.stderr)
        return e.code
    except ServerUnavailable as e:
        print(f"server unavailable: {e.detail}", file=sys.stderr)
        return 1
    except RemoteError as e:
        print(f"the server said {e}", file=sys.stderr)
        return 2 if 400 <= e.status < 500 and e.status not in (401, 403, 404) else 1


def table(header: list[str], rows: list[list[Any]]) -> None:
    rows = [[("-" if c is None else str(c)) for c in r] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)] if rows else [len(h) for h in header]
    for r in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())


def when(ts: float | None) -> str:
    if ts is None:
        return "-"
    from datetime import datetime

    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
