"""What a node type is: its terminals and how it runs.

A ``NodeType`` lives at a ``path`` in the library (``("math", "Power")``),
declares its terminals as ``TerminalSpec``s and runs either

* in-process: ``function(inputs, ctx) -> outputs`` (a dict per terminal), or
* as a command: ``command(inputs) -> CommandLine`` (argument list, environment,
  working folder); the executor runs it and ``collect(result, inputs)`` turns
  stdout / stderr / exit code into output values.

``create_node`` gives a model ``Node`` whose terminals carry Nodeworks-style
``opts``, so the editor, the files and the engine agree on names and dtypes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from ..model import Node, Terminal, Workflow


def dtype_text(t: type | str | None) -> str:
    """Nodeworks' dtype text: ``float`` → ``"<class 'float'>"``, None → ``"None"``."""
    if t is None:
        return "None"
    if isinstance(t, str):
        return t
    mod = t.__module__
    name = t.__qualname__ if mod == "builtins" else f"{mod}.{t.__qualname__}"
    return f"<class '{name}'>"


FLOAT = dtype_text(float)
INT = dtype_text(int)
STR = dtype_text(str)
BOOL = dtype_text(bool)
LIST = dtype_text(list)
DICT = dtype_text(dict)
ARRAY = "<class 'numpy.ndarray'>"
ANY = "None"


@dataclass(frozen=True, slots=True)
class TerminalSpec:
    """One terminal of a node type, as Nodeworks describes it in ``opts``."""

    name: str
    direction: str  # "in" or "out"
    dtype: str = ANY
    default: Any = None
    widget: str | None = None
    multiinput: bool = False
    items: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    showlabel: bool = True
    browsetype: str | None = None
    extra_opts: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_input(self) -> bool:
        return self.direction == "in"

    def opts(self) -> dict[str, Any]:
        o: dict[str, Any] = {
            "widget": self.widget,
            "in": self.direction == "in",
            "out": self.direction == "out",
            "showlabel": self.showlabel,
            "dtype": self.dtype,
            "value": _copy(self.default),
            "multiinput": self.multiinput,
        }
        if self.items is not None:
            o["items"] = list(self.items)
        if self.min is not None:
            o["min"] = self.min
        if self.max is not None:
            o["max"] = self.max
        if self.browsetype is not None:
            o["browsetype"] = self.browsetype
        o.update(self.extra_opts)
        return o

    def terminal(self) -> Terminal:
        return Terminal(value=_copy(self.default), flipped=False, opts=self.opts())


def _copy(v: Any) -> Any:
    return list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v


def inp(name: str, dtype: str = ANY, default: Any = None, widget: str | None = None, **kw) -> TerminalSpec:
    return TerminalSpec(name, "in", dtype, default, widget, **kw)


def out(name: str, dtype: str = ANY, **kw) -> TerminalSpec:
    return TerminalSpec(name, "out", dtype, None, kw.pop("widget", None), **kw)


@dataclass(frozen=True, slots=True)
class CommandLine:
    """A program to run: an argument list (never a shell line), environment, folder."""

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)  # added to the inherited environment
    cwd: str | None = None


@dataclass(frozen=True, slots=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


class NodeContext:
    """What an in-process node may use while it runs: its folder and a log.

    Cheap to make (one per node run): paths are turned into ``Path``s only
    when a node asks for them.
    """

    __slots__ = ("run_id", "node", "_output_dir", "_base_dir", "log_lines")

    def __init__(self, run_id: str, node: str, output_dir: str | os.PathLike | None,
                 base_dir: str | os.PathLike | None = None):
        self.run_id = run_id
        self.node = node
        self._output_dir = output_dir
        self._base_dir = base_dir
        self.log_lines: list[tuple[str, str]] = []

    @property
    def base_dir(self) -> Path | None:
        """Folder that relative paths given to file nodes are taken from (None: the current folder)."""
        return Path(self._base_dir) if self._base_dir is not None else None

    @property
    def output_dir(self) -> Path:
        """The node's own folder in the run folder, created on first use."""
        if self._output_dir is None:
            raise RuntimeError("this run has no output folder")
        d = Path(self._output_dir)
        d.mkdir(parents=True, exist_ok=True)
        return d

    def log(self, line: str, stream: str = "stdout") -> None:
        self.log_lines.append((stream, line))

    def resolve_path(self, path: str | os.PathLike) -> Path:
        """``path`` with ``~`` expanded; a relative path is taken from ``base_dir`` (or the current folder)."""
        p = Path(os.path.expanduser(os.fspath(path)))
        if not p.is_absolute() and self.base_dir is not None:
            p = self.base_dir / p
        return p


class NodeError(Exception):
    """Raised by a node to fail with a message meant for the user (no traceback shown)."""


def default_collect(result: CommandResult, inputs: Mapping[str, Any]) -> dict[str, Any]:
    if result.returncode != 0:
        last = result.stderr.strip().splitlines()[-1:] or [""]
        raise NodeError(f"command exited with status {result.returncode}" + (f": {last[0]}" if last[0] else ""))
    return {"stdout": result.stdout, "stderr": result.stderr, "exitcode": result.returncode}


@dataclass(frozen=True, slots=True)
class NodeType:
    path: tuple[str, ...]
    terminals: tuple[TerminalSpec, ...]
    function: Callable[[dict[str, Any], NodeContext], dict[str, Any]] | None = None
    command: Callable[[dict[str, Any]], CommandLine] | None = None
    collect: Callable[[CommandResult, Mapping[str, Any]], dict[str, Any]] = default_collect
    description: str = ""
    #: run in a subprocess (``python -m nodeflow.worker``) even on the local executor
    isolate: bool = False
    #: a duration the type declares for itself (seconds): the ETA's prior
    expected_duration_s: float | None = None
    #: where the type came from: "builtin" or the plug-in's name
    origin: str = "builtin"
    #: not offered in the editor's palette (e.g. nodeflow's hidden workflow-settings node)
    hidden: bool = False
    #: a promise: ``function`` is plain Python that takes microseconds on plain values (numbers,
    #: text, short lists of them), touches no files, never waits and leaves its input values as
    #: they are (the history fingerprints them after it ran, see engine.fingerprint). The local executor then runs
    #: the node on the scheduler's own thread when its inputs are plain (``invoke.plain_inputs``)
    #: — a hand-off to a worker thread costs more than such a function, and under the GIL a worker
    #: would not run it alongside the scheduler anyway. Inputs that are arrays go to the thread pool.
    quick: bool = False

    def __post_init__(self):
        if (self.function is None) == (self.command is None) and self.path[0] != "types":
            raise ValueError(f"node type {'/'.join(self.path)} needs exactly one of function or command")

    @property
    def name(self) -> str:
        return self.path[-1]

    @property
    def kind(self) -> str:
        return "command" if self.command is not None else "python"

    def spec(self, terminal: str) -> TerminalSpec | None:
        for t in self.terminals:
            if t.name == terminal:
                return t
        return None

    def create_node(self, workflow: Workflow | None = None, pos: tuple[float, float] = (0.0, 0.0),
                    uniquename: str | None = None) -> Node:
        """A fresh Node of this type (Nodeworks-style uniquename if a workflow is given)."""
        base = self.name.lower()
        un = uniquename or (workflow.unique_name(base) if workflow is not None else base)
        return Node(uniquename=un, path=self.path, name=self.name, pos=[float(pos[0]), float(pos[1])],
                    terminals={t.name: t.terminal() for t in self.terminals})
