"""shell/Command: runs a program with an argument list — never a shell line.

The argument vector is ``[command, *args]``; every value goes in verbatim as
one element (a string ``args`` is ONE argument; a list gives one argument per
element; nothing is split or quoted). ``args`` is multiinput, so several
connections add arguments in connection order (e.g. a format string from a
String node, then another command's ``stdout``). The executor runs the
CommandLine; ``default_collect`` turns the result into ``stdout``, ``stderr``
and ``exitcode`` and fails the node on a non-zero exit status.

``directory`` (relative to the workflow file's folder) is created when missing.
``after`` (multiinput) takes any output and ignores its value: it only orders
commands (run this after those), as Daggy's parents and donut's neighbours do.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..types import ANY, DICT, INT, STR, CommandLine, NodeError, NodeType, default_collect, inp, out
from ._values import describe, is_numpy

LABEL = "Command"


def _atom(where: str, v: Any) -> str:
    if isinstance(v, str):
        s = v
    elif isinstance(v, os.PathLike):
        s = os.fspath(v)
    elif isinstance(v, (bool, int, float)):
        s = str(v)
    elif v is None:
        raise NodeError(f"{LABEL}: {where} has no value")
    else:
        raise NodeError(f"{LABEL}: {where} must be text or a number, got {type(v).__name__} {describe(v)}")
    if "\0" in s:
        raise NodeError(f"{LABEL}: {where} contains a NUL character, which no program can receive")
    return s


def arguments(value: Any) -> list[str]:
    """``args`` as a list of strings: text is one argument, a list one per element (one level flattened)."""
    if is_numpy(value):
        value = value.tolist()
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        return [_atom("the argument", value)]
    argv: list[str] = []
    for n, v in enumerate(value):
        if is_numpy(v):
            v = v.tolist()
        if isinstance(v, (list, tuple)):
            argv.extend(_atom(f"argument {n + 1}.{m + 1}", w) for m, w in enumerate(v))
        else:
            argv.append(_atom(f"argument {n + 1}", v))
    return argv


def environment(value: Any) -> dict[str, str]:
    """``environment`` as {name: value}: a mapping, or a list of ``NAME=value`` texts."""
    if value is None or value == "":
        return {}
    if isinstance(value, (list, tuple)):
        pairs = []
        for item in value:
            if not isinstance(item, str) or "=" not in item:
                raise NodeError(f"{LABEL}: environment entries must look like NAME=value, got {describe(item)}")
            pairs.append(item.split("=", 1))
        value = dict(pairs)
    if not isinstance(value, Mapping):
        raise NodeError(f"{LABEL}: 'environment' must be a mapping of names to values, got {type(value).__name__}")
    env: dict[str, str] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not k or "=" in k or "\0" in k:
            raise NodeError(f"{LABEL}: {describe(k)} is not a valid environment variable name")
        env[k] = _atom(f"environment variable {k}", v)
    return env


def command_line(inputs: Mapping[str, Any]) -> CommandLine:
    command = inputs.get("command")
    if isinstance(command, os.PathLike):
        command = os.fspath(command)
    if not isinstance(command, str) or not command:
        raise NodeError(f"{LABEL}: 'command' is empty: give the program to run, e.g. echo")
    _atom("'command'", command)
    directory = inputs.get("directory")
    if directory is None or directory == "":
        cwd = None
    elif isinstance(directory, (str, os.PathLike)):
        cwd = os.path.expanduser(os.fspath(directory))
    else:
        raise NodeError(f"{LABEL}: 'directory' must be a folder path, got {type(directory).__name__}")
    return CommandLine(argv=(command, *arguments(inputs.get("args"))), env=environment(inputs.get("environment")),
                       cwd=cwd)


TYPES = [
    NodeType(("shell", "Command"),
             (inp("command", STR, "", "lineedit"),
              inp("args", ANY, [], "lineedit", multiinput=True),
              inp("environment", DICT, {}, None),
              inp("directory", STR, "", "browse", browsetype="directory"),
              inp("after", ANY, [], None, multiinput=True, showlabel=True),
              out("stdout", STR), out("stderr", STR), out("exitcode", INT)),
             command=command_line, collect=default_collect, isolate=False,
             description="runs a program with arguments (no shell); fails on a non-zero exit status"),
]
