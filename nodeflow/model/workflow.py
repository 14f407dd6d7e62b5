"""The workflow model: Workflow, Node, Terminal, Connection as plain dataclasses.

This module owns the in-memory shape of a Nodeworks workflow. It knows nothing
of files (see ``nodeworks.py``), of validation (``validate.py``) or of graphs
(``graph.py``).

Losslessness: every object keeps the fields nodeflow does not understand in
``extra`` and the order its keys had in the file in ``key_order``, so a
load → save round trip writes back every field, in the same order, with the
same JSON types. An optional known field (``geometry``, ``feedback`` …) that is
``None`` is written only when the file had it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

NODE = "Node"
CONNECTION = "Connection"

#: Key under a node's ``customState`` where nodeflow keeps its own per-node
#: settings (executor, retries, resources, timeout …).
NODEFLOW_STATE_KEY = "nodeflow"


@dataclass(slots=True, eq=False)
class Terminal:
    """One port of a node with its current value and Nodeworks ``opts``."""

    value: Any = None
    flipped: bool = False
    opts: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    key_order: tuple[str, ...] | None = None  # None: made in memory, not read from a file

    @property
    def is_input(self) -> bool:
        return bool(self.opts.get("in"))

    @property
    def is_output(self) -> bool:
        return bool(self.opts.get("out"))

    @property
    def multiinput(self) -> bool:
        return bool(self.opts.get("multiinput"))

    @property
    def dtype(self) -> str:
        """The terminal's dtype text (``"<class 'float'>"``), ``"None"`` for any."""
        d = self.opts.get("dtype")
        return "None" if d is None else str(d)


@dataclass(slots=True, eq=False)
class Node:
    """A node: where its type lives in the library (``path``) and its terminals."""

    uniquename: str
    path: tuple[str, ...]
    name: str = ""
    pos: list[float] = field(default_factory=lambda: [0.0, 0.0])
    terminals: dict[str, Terminal] = field(default_factory=dict)
    tunnel: bool = False
    forcerun: bool = False
    hidden: bool = False
    customState: Any = None  # noqa: N815 - Nodeworks' own field name
    layer: int = 0
    geometry: list[float] | None = None
    #: the ``uniquename`` field as the file wrote it, if it differs from its key
    stored_uniquename: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    key_order: tuple[str, ...] | None = None  # None: made in memory, not read from a file

    def inputs(self) -> Iterator[tuple[str, Terminal]]:
        return ((n, t) for n, t in self.terminals.items() if t.is_input)

    def outputs(self) -> Iterator[tuple[str, Terminal]]:
        return ((n, t) for n, t in self.terminals.items() if t.is_output)

    @property
    def type_name(self) -> str:
        """``"math/Power"``: the path joined for messages."""
        return "/".join(self.path)

    @property
    def settings(self) -> dict[str, Any]:
        """nodeflow's per-node settings stored in ``customState["nodeflow"]``."""
        if isinstance(self.customState, dict):
            s = self.customState.get(NODEFLOW_STATE_KEY)
            if isinstance(s, dict):
                return s
        return {}

    def set_settings(self, settings: dict[str, Any]) -> None:
        """Store nodeflow settings, keeping whatever else ``customState`` holds."""
        if not isinstance(self.customState, dict):
            self.customState = {} if self.customState is None else {"value": self.customState}
        if settings:
            self.customState[NODEFLOW_STATE_KEY] = dict(settings)
        else:
            self.customState.pop(NODEFLOW_STATE_KEY, None)


@dataclass(slots=True, eq=False)
class Connection:
    """A link from an output terminal (``input`` end, upstream) to an input terminal.

    Nodeworks' naming is kept: ``input`` is where data comes *from*.
    """

    uniquename: str
    input: tuple[str, str]
    output: tuple[str, str]
    name: str = "connection"
    line: str = "cubic"
    controlpoints: list[Any] = field(default_factory=list)
    feedback: bool | None = None
    stored_uniquename: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    key_order: tuple[str, ...] | None = None  # None: made in memory, not read from a file

    @property
    def source(self) -> str:
        return self.input[0]

    @property
    def target(self) -> str:
        return self.output[0]

    def describe(self) -> str:
        return f"{self.input[0]}.{self.input[1]} -> {self.output[0]}.{self.output[1]}"


@dataclass(slots=True, eq=False)
class Workflow:
    """A whole workflow: nodes and connections keyed by uniquename."""

    nodes: dict[str, Node] = field(default_factory=dict)
    connections: dict[str, Connection] = field(default_factory=dict)
    #: order of the top-level keys in the file, nodes and connections mixed
    key_order: tuple[str, ...] = ()
    #: where it was loaded from / saved to, if anywhere (not written to the file)
    source_path: str | None = None
    #: base name → an index below which every ``base.i`` was taken when last asked (see unique_name)
    _name_hint: dict[str, int] = field(default_factory=dict, init=False, repr=False)

    # -- queries -----------------------------------------------------------
    def incoming(self, uniquename: str) -> list[Connection]:
        return [c for c in self.connections.values() if c.output[0] == uniquename]

    def outgoing(self, uniquename: str) -> list[Connection]:
        return [c for c in self.connections.values() if c.input[0] == uniquename]

    def connections_into(self) -> dict[tuple[str, str], list[Connection]]:
        """Input terminal (node, terminal) → connections ending there, in file order."""
        into: dict[tuple[str, str], list[Connection]] = {}
        for c in self.connections.values():
            into.setdefault(c.output, []).append(c)
        return into

    # -- edits (each a single change; the GUI's undo commands call these) ----
    def unique_name(self, base: str) -> str:
        """Nodeworks-style uniquename: ``float``, then ``float.0``, ``float.1`` …"""
        base = base.lower()
        nodes, conns = self.nodes, self.connections
        if base not in nodes and base not in conns:
            return base
        # probing starts where the last call for this base found a free index: adding n nodes of a
        # type (or n connections) is O(n), not O(n²); a removal forgets the hints, so a freed name
        # is given again as Nodeworks does
        i = self._name_hint.get(base, 0)
        while (name := f"{base}.{i}") in nodes or name in conns:
            i += 1
        self._name_hint[base] = i
        return name

    def forget_name_hints(self) -> None:
        """Names were freed without remove_node/disconnect (a caller popped them): unique_name
        looks from ``.0`` again."""
        self._name_hint.clear()

    def add_node(self, node: Node) -> Node:
        if node.uniquename in self.nodes or node.uniquename in self.connections:
            raise ValueError(f"a node or connection named {node.uniquename!r} already exists")
        self.nodes[node.uniquename] = node
        return node

    def remove_node(self, uniquename: str) -> tuple[Node, list[Connection]]:
        """Remove a node and every connection touching it; returns both for undo."""
        node = self.nodes.pop(uniquename)
        self.forget_name_hints()
        gone = [c for c in self.connections.values() if uniquename in (c.input[0], c.output[0])]
        for c in gone:
            del self.connections[c.uniquename]
        return node, gone

    def connect(self, source: tuple[str, str], target: tuple[str, str], uniquename: str | None = None) -> Connection:
        for end in (source, target):
            if end[0] not in self.nodes or end[1] not in self.nodes[end[0]].terminals:
                raise ValueError(f"no terminal {end[0]}.{end[1]}")
        name = uniquename or self.unique_name("connection")
        conn = Connection(uniquename=name, input=tuple(source), output=tuple(target))
        self.connections[name] = conn
        return conn

    def disconnect(self, uniquename: str) -> Connection:
        self.forget_name_hints()
        return self.connections.pop(uniquename)
