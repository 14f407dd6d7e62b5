"""The ``nodeflow`` command: argument parsing and dispatch to the sub-commands.

Each sub-command lives in its own small module under ``nodeflow/commands/``
(imported only when used, so ``nodeflow validate`` never loads the engine or
Qt). Exit codes: 0 success, 1 a file could not be read or a node failed,
2 invalid input (validation errors, bad arguments).
"""
from __future__ import annotations

import argparse
import sys

from . import __version__


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nodeflow", description="Draw, validate and run Nodeworks workflows.")
    p.add_argument("--version", action="version", version=f"nodeflow {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    v = sub.add_parser("validate", help="check workflow files and print their problems")
    v.add_argument("files", nargs="+", metavar="FILE")
    v.add_argument("--order", action="store_true", help="also print the execution order, one uniquename per line")

    from .commands import run_cmd, history_cmd

    run_cmd.add_parser(sub)
    history_cmd.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "validate":
        from .commands.validate_cmd import run

        return run(args)
    return args.handler(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
