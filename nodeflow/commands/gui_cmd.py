"""``nodeflow gui [FILE]``: open the editor (also what plain ``nodeflow`` does).

Qt is imported only when the command runs, so other commands never load it.
Exit status: the Qt event loop's, 1 when the editor cannot start (e.g. no
display), with the reason on stderr.
"""
from __future__ import annotations

import sys


def add_parser(sub) -> None:
    p = sub.add_parser("gui", help="open the node editor (the default command)")
    p.add_argument("file", nargs="?", metavar="FILE", help="a workflow file to open")
    p.set_defaults(handler=run)


def run(args) -> int:
    try:
        from ..gui.app import run as run_gui
    except ImportError as e:
        print(f"the editor cannot start: {e} (is PySide6 installed?)", file=sys.stderr)
        return 1
    return run_gui(args.file)
