"""The ``nodeflow`` command: argument parsing and dispatch to the sub-commands.

Each sub-command lives in its own small module ``nodeflow/commands/*_cmd.py``
with ``add_parser(subparsers)`` that registers it and sets ``handler``; they
are found by name, so adding a command never touches this file. Handlers
import what they need when they run, so ``nodeflow validate`` never loads the
engine or Qt. Exit codes: 0 success, 1 a file could not be read or a node
failed, 2 invalid input (validation errors, bad arguments).
Plain ``nodeflow`` opens the editor (``nodeflow gui``) when it is installed.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from . import __version__, commands


def command_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(commands.__path__) if m.name.endswith("_cmd"))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nodeflow", description="Draw, validate and run Nodeworks workflows.")
    p.add_argument("--version", action="version", version=f"nodeflow {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in command_modules():
        importlib.import_module(f"{commands.__name__}.{name}").add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        if "gui" in parser._subparsers._group_actions[0].choices:  # the editor is there: open it
            args = parser.parse_args(["gui"])
        else:
            parser.print_help()
            return 0
    return args.handler(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
