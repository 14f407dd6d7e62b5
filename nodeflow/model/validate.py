"""Validation: a list of problems in a workflow, never an exception.

Rules: connections must run from an ``out`` terminal to an ``in`` terminal;
a terminal that is not ``multiinput`` takes one connection; the dtypes at the
two ends must agree (``"None"`` matches anything, int → float is allowed);
node types the library does not know are warnings; self-loops and cycles are
errors, each cycle reported once with its nodes in order.
"""
from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass, field

from .gcpause import paused_gc
from .graph import Adjacency, cycles
from .workflow import Workflow

ERROR = "error"
WARNING = "warning"

ANY_DTYPE = "None"
#: (upstream dtype, downstream dtype) pairs that are allowed although they differ
COMPATIBLE = {("<class 'int'>", "<class 'float'>"), ("<class 'bool'>", "<class 'int'>"),
              ("<class 'bool'>", "<class 'float'>")}


@dataclass(frozen=True, slots=True)
class Problem:
    severity: str  # "error" | "warning"
    uniquename: str  # the node or connection at fault
    message: str
    code: str = ""  # machine-readable kind: "direction", "multi", "dtype", "unknown-type", "cycle", "self-loop",
    #                 "dangling" (a connection naming a node or terminal that is gone)
    nodes: tuple[str, ...] = field(default=())  # nodes involved (cycle members, both ends)

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def __str__(self) -> str:
        return f"{self.uniquename}: {self.message}"


STR_DTYPE = "<class 'str'>"
FILE_PREFIX = "file:"


def dtypes_compatible(upstream: str, downstream: str) -> bool:
    """Whether a value of ``upstream`` dtype may flow into a ``downstream`` terminal.

    Besides Python classes, a terminal may declare a kind of file, ``"file:csv"``
    (typed edges): a file kind passes to and from plain text (a path is text),
    but two different kinds do not mix.
    """
    if upstream == ANY_DTYPE or downstream == ANY_DTYPE or upstream == downstream:
        return True
    if upstream.startswith(FILE_PREFIX) or downstream.startswith(FILE_PREFIX):
        return STR_DTYPE in (upstream, downstream)
    return (upstream, downstream) in COMPATIBLE


def declare_dtype(node, terminal: str, dtype: str) -> None:
    """Declare what a terminal carries (e.g. ``"file:csv"`` on a command's ``stdout``)."""
    if terminal not in node.terminals:
        raise KeyError(f"{node.uniquename} has no terminal {terminal!r}")
    node.terminals[terminal].opts["dtype"] = dtype


def _short(dtype: str) -> str:
    return dtype[8:-2] if dtype.startswith("<class '") and dtype.endswith("'>") else dtype


def validate(wf: Workflow, known_types: Container[tuple[str, ...]] | None = None,
             extra_rules: list[Callable[[Workflow], list[Problem]]] | None = None,
             graph=None) -> list[Problem]:
    """All problems of ``wf``. ``known_types``: library paths; None skips that check.

    ``graph``: the workflow's ``Adjacency`` (or ``dependency_graph``) if the caller has it already.
    """
    with paused_gc():
        return _validate(wf, known_types, extra_rules, graph)


def _validate(wf, known_types, extra_rules, graph) -> list[Problem]:
    problems: list[Problem] = []
    add = problems.append
    nodes = wf.nodes

    for key, node in nodes.items():
        if node.stored_uniquename is not None:
            add(Problem(WARNING, key, f"its uniquename field says {node.stored_uniquename!r}; the key is used",
                        "uniquename", (key,)))
        if known_types is not None and node.path not in known_types:
            add(Problem(WARNING, key, f"unknown node type {node.type_name!r}: the node is kept as it is but cannot run",
                        "unknown-type", (key,)))

    for key, c in wf.connections.items():
        (u, ut), (v, vt) = c.input, c.output
        src_node, dst_node = nodes.get(u), nodes.get(v)
        src = src_node.terminals.get(ut) if src_node is not None else None
        dst = dst_node.terminals.get(vt) if dst_node is not None else None
        if src is None or dst is None:
            missing = f"{u}.{ut}" if src is None else f"{v}.{vt}"
            add(Problem(ERROR, key, f"{c.describe()}: terminal {missing} does not exist", "dangling", (u, v)))
            continue
        # the opts dicts read directly (not the Terminal properties): this loop runs once per connection
        so, do = src.opts, dst.opts
        if not so.get("out"):
            add(Problem(ERROR, key, f"starts at {u}.{ut}, which is not an output terminal", "direction", (u, v)))
        if not do.get("in"):
            add(Problem(ERROR, key, f"ends at {v}.{vt}, which is not an input terminal", "direction", (u, v)))
        if u == v:
            add(Problem(ERROR, key, f"self-loop: {c.describe()} connects {u!r} to itself", "self-loop", (u,)))
        sd, dd = so.get("dtype"), do.get("dtype")
        if sd != dd and not dtypes_compatible(src.dtype, dst.dtype):
            add(Problem(ERROR, key, f"type mismatch: {u}.{ut} gives {_short(src.dtype)} "
                        f"but {v}.{vt} takes {_short(dst.dtype)}", "dtype", (u, v)))

    # a terminal that takes one connection: the usual workflow has none with more, found through
    # the adjacency's sources; their connections (whose both ends exist: a dangling one is reported
    # as such above) are then gathered in one pass, in connection order
    if isinstance(graph, Adjacency):
        many = [(n, t) for n, into in graph.sources.items() for t, ends in into.items() if len(ends) > 1]
    else:
        many = [end for end, conns in wf.connections_into().items() if len(conns) > 1]
    single = set()
    for n, t in many:
        node = nodes.get(n)
        term = node.terminals.get(t) if node is not None else None
        if term is not None and not term.opts.get("multiinput"):
            single.add((n, t))
    if single:
        keys_into: dict[tuple[str, str], list[str]] = {}
        for key, c in wf.connections.items():
            u, ut = c.input
            if c.output in single and u in nodes and ut in nodes[u].terminals:
                keys_into.setdefault(c.output, []).append(key)
        for (n, t), keys in keys_into.items():
            if len(keys) > 1:
                add(Problem(ERROR, n, f"terminal {t!r} takes one connection but has {len(keys)}: {', '.join(keys)}",
                            "multi", (n,)))

    for cyc in cycles(graph if graph is not None else Adjacency(wf)):
        add(Problem(ERROR, cyc[0], "cycle: " + " -> ".join(cyc + cyc[:1]), "cycle", tuple(cyc)))

    for rule in extra_rules or ():
        problems.extend(rule(wf))
    return problems


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == ERROR]
