"""Sub-workflow references to the shared server: ``server:[SERVER/]NAME[@VERSION]``.

``SERVER`` is a configured server account (``nodeflow login``; optional when
only one is configured), ``VERSION`` a version number or commit (latest when
left out). The engine's sub-workflow inliner calls ``fetch_reference`` once
per reference at run start, so the snapshot is the exact committed version;
its identity (server, owner, name, commit) is what reference-cycle detection
compares.
"""
from __future__ import annotations

from ..model import Workflow, loads


class ReferenceError_(ValueError):
    pass


def parse_reference(ref: str) -> tuple[str | None, str, str | None]:
    """``"server:hpc/prep@3"`` → ``("hpc", "prep", "3")``."""
    if not ref.startswith("server:"):
        raise ReferenceError_(f"not a server reference: {ref!r}")
    body = ref[len("server:"):]
    name, _, version = body.partition("@")
    server, _, wname = name.rpartition("/")
    if not wname:
        raise ReferenceError_(f"{ref!r} names no workflow (use server:[SERVER/]NAME[@VERSION])")
    return server or None, wname, version or None


def fetch_reference(ref: str) -> tuple[str, str, Workflow]:
    """(identity, display name, workflow) of a server reference; raises ValueError with the reason."""
    from ..engine.subworkflows import SubworkflowError
    from .cli_support import CliError, client_for
    from .client import RemoteError

    try:
        server, name, version = parse_reference(ref)
        with client_for(server) as client:
            got = client.workflow(name, version=version)
    except (ReferenceError_, CliError, RemoteError) as e:
        raise SubworkflowError(f"cannot fetch {ref!r}: {e}") from None
    display = f"{name}@{got['version']}"
    ident = f"server:{server or ''}/{got['owner']}/{name}@{got['commit']}"
    return ident, display, loads(got["content"], path=None)
