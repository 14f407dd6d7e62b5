"""Read and write MFiX Nodeworks workflow files (``.nc``), losslessly.

A file is one JSON object: uniquename → Node or Connection (told apart by
``"type"``). Reading checks every field nodeflow relies on and raises one
``WorkflowFileError`` naming the uniquename and field at fault; fields it does
not know are kept in ``extra`` and key order in ``key_order``, so writing
gives back every field in the same order with the same JSON types.
"""
from __future__ import annotations

import json
import os
from typing import Any

from .errors import WorkflowFileError
from .fileio import atomic_write_text
from .gcpause import paused_gc
from .values import json_default
from .workflow import CONNECTION, NODE, Connection, Node, Terminal, Workflow

# Known fields in the order Nodeworks writes them (used for new objects).
NODE_FIELDS = ("type", "name", "uniquename", "pos", "path", "terminals", "tunnel", "forcerun",
               "hidden", "customState", "layer", "geometry")
TERMINAL_FIELDS = ("value", "flipped", "opts")
CONNECTION_FIELDS = ("type", "name", "uniquename", "line", "input", "output", "controlpoints", "feedback")

_NODE_KNOWN = frozenset(NODE_FIELDS)
_TERMINAL_KNOWN = frozenset(TERMINAL_FIELDS)
_CONNECTION_KNOWN = frozenset(CONNECTION_FIELDS)


def _fail(key: str, field: str | None, message: str) -> WorkflowFileError:
    return WorkflowFileError(message, uniquename=key, field=field)


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer",
            float: "number", type(None): "null"}.get(type(value), type(value).__name__)


def _is_number(v: Any) -> bool:
    return (type(v) is int or type(v) is float)


def _check_xy(key: str, field: str, v: Any) -> list:
    if type(v) is not list or len(v) != 2 or not (_is_number(v[0]) and _is_number(v[1])):
        raise _fail(key, field, f"must be a list of two numbers, got {json.dumps(v, default=str)[:60]}")
    return v


def _check_bool(key: str, field: str, v: Any) -> bool:
    if type(v) is not bool:
        raise _fail(key, field, f"must be true or false, got {_type_name(v)}")
    return v


def _check_str(key: str, field: str, v: Any) -> str:
    if type(v) is not str:
        raise _fail(key, field, f"must be a string, got {_type_name(v)}")
    return v


def _read_terminal(key: str, tname: str, d: Any) -> Terminal:
    # (the readers run ~10^5 times for a big file: the common case does no work it can skip)
    if type(d) is not dict:
        raise _fail(key, f"terminals.{tname}", f"must be an object, got {_type_name(d)}")
    opts = d.get("opts", {})
    if type(opts) is not dict:
        raise _fail(key, f"terminals.{tname}.opts", f"must be an object, got {_type_name(opts)}")
    flipped = d.get("flipped", False)
    if type(flipped) is not bool:
        raise _fail(key, f"terminals.{tname}.flipped", f"must be true or false, got {_type_name(flipped)}")
    for flag in ("in", "out", "multiinput"):
        if flag in opts and type(opts[flag]) is not bool:
            raise _fail(key, f"terminals.{tname}.opts.{flag}",
                        f"must be true or false, got {_type_name(opts[flag])}")
    extra = {} if _TERMINAL_KNOWN.issuperset(d) else {k: v for k, v in d.items() if k not in _TERMINAL_KNOWN}
    return Terminal(d.get("value"), flipped, opts, extra, tuple(d))


def _read_node(key: str, d: dict) -> Node:
    get = d.get
    path = get("path")
    if path is None:
        raise _fail(key, "path", "is missing (a node needs the path of its type, e.g. [\"math\", \"Power\"])")
    if type(path) is not list or not path or not all(type(p) is str for p in path):
        raise _fail(key, "path", "must be a non-empty list of strings")
    terms = get("terminals")
    if terms is None:
        raise _fail(key, "terminals", "is missing")
    if type(terms) is not dict:
        raise _fail(key, "terminals", f"must be an object, got {_type_name(terms)}")
    terminals = {tname: _read_terminal(key, tname, td) for tname, td in terms.items()}

    node = Node(key, tuple(path), terminals=terminals)
    node.name = _check_str(key, "name", d["name"]) if "name" in d else key
    if "uniquename" in d:
        stored = _check_str(key, "uniquename", d["uniquename"])
        if stored != key:
            node.stored_uniquename = stored
    if "pos" in d:
        node.pos = _check_xy(key, "pos", d["pos"])
    for flag in ("tunnel", "forcerun", "hidden"):
        if flag in d:
            setattr(node, flag, _check_bool(key, flag, d[flag]))
    if "customState" in d:
        node.customState = d["customState"]
    if "layer" in d:
        layer = d["layer"]
        if not _is_number(layer):
            raise _fail(key, "layer", f"must be a number, got {_type_name(layer)}")
        node.layer = layer
    geometry = get("geometry")
    if geometry is not None:
        node.geometry = _check_xy(key, "geometry", geometry)
    if not _NODE_KNOWN.issuperset(d):
        node.extra = {k: v for k, v in d.items() if k not in _NODE_KNOWN}
    node.key_order = tuple(d)
    return node


def _read_end(key: str, field: str, v: Any, nodes: dict[str, Node], direction: str) -> tuple[str, str]:
    if type(v) is not list or len(v) != 2 or type(v[0]) is not str or type(v[1]) is not str:
        raise _fail(key, field, "must be [node uniquename, terminal name]")
    node = nodes.get(v[0])
    if node is None:
        raise _fail(key, field, f"names node {v[0]!r}, which does not exist")
    if v[1] not in node.terminals:
        raise _fail(key, field, f"names terminal {v[1]!r} of node {v[0]!r}, which has no such terminal")
    return (v[0], v[1])


def _read_connection(key: str, d: dict, nodes: dict[str, Node]) -> Connection:
    for f in ("input", "output"):
        if f not in d:
            raise _fail(key, f, "is missing")
    conn = Connection(key, _read_end(key, "input", d["input"], nodes, "out"),
                      _read_end(key, "output", d["output"], nodes, "in"))
    if "name" in d:
        conn.name = _check_str(key, "name", d["name"])
    if "uniquename" in d:
        stored = _check_str(key, "uniquename", d["uniquename"])
        if stored != key:
            conn.stored_uniquename = stored
    if "line" in d:
        conn.line = _check_str(key, "line", d["line"])
    if "controlpoints" in d:
        cp = d["controlpoints"]
        if type(cp) is not list:
            raise _fail(key, "controlpoints", f"must be a list, got {_type_name(cp)}")
        conn.controlpoints = cp
    if "feedback" in d:
        conn.feedback = _check_bool(key, "feedback", d["feedback"])
    if not _CONNECTION_KNOWN.issuperset(d):
        conn.extra = {k: v for k, v in d.items() if k not in _CONNECTION_KNOWN}
    conn.key_order = tuple(d)
    return conn


def from_dict(data: Any) -> Workflow:
    """Build a Workflow from parsed Nodeworks JSON, or raise WorkflowFileError."""
    if type(data) is not dict:
        raise WorkflowFileError(f"a workflow file holds one JSON object, got {_type_name(data)}")
    nodes: dict[str, Node] = {}
    pending: list[tuple[str, dict]] = []
    for key, d in data.items():
        if type(d) is not dict:
            raise _fail(key, None, f"must be an object with \"type\": \"Node\" or \"Connection\", got {_type_name(d)}")
        t = d.get("type")
        if t == NODE:
            nodes[key] = _read_node(key, d)
        elif t == CONNECTION:
            pending.append((key, d))
        elif t is None:
            raise _fail(key, "type", "is missing (expected \"Node\" or \"Connection\")")
        else:
            raise _fail(key, "type", f"is {json.dumps(t, default=str)[:40]}; expected \"Node\" or \"Connection\"")
    connections = {key: _read_connection(key, d, nodes) for key, d in pending}
    return Workflow(nodes, connections, tuple(data))


def loads(text: str | bytes, *, path: str | None = None) -> Workflow:
    """Parse Nodeworks JSON text. Raises WorkflowFileError with line/column on bad JSON."""
    # A big file makes a million objects at once, none of them in a reference cycle;
    # the cyclic garbage collector would walk the growing heap over and over meanwhile
    # (half of the load time of a 10,000-node file), so it is paused while they are made.
    with paused_gc():
        return _loads(text, path)


def _loads(text: str | bytes, path: str | None) -> Workflow:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise WorkflowFileError(f"not valid JSON: {e.msg}", path=path, line=e.lineno, column=e.colno) from None
    except (UnicodeDecodeError, RecursionError) as e:
        raise WorkflowFileError(f"not valid JSON: {e}", path=path) from None
    try:
        wf = from_dict(data)
    except WorkflowFileError as e:
        raise (e.with_path(path) if path else e) from None
    wf.source_path = path
    return wf


def load(path: str | os.PathLike) -> Workflow:
    """Read a workflow file. Raises WorkflowFileError (a ValueError) or OSError."""
    p = os.fspath(path)
    with open(p, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise WorkflowFileError(f"not UTF-8 text (byte {e.start})", path=p) from None
    return loads(text, path=p)


# -- writing -----------------------------------------------------------------

def _ordered(obj: Any, known: tuple[str, ...], values: dict[str, Any], defaults: dict[str, Any]) -> dict:
    """Emit ``values`` in the object's original key order, new fields after."""
    out: dict[str, Any] = {}
    order = obj.key_order
    extra = obj.extra
    if order is not None:  # read from a file (possibly an empty object): keep exactly its fields
        for k in order:
            if k in values:
                out[k] = values[k]
            elif k in extra:
                out[k] = extra[k]
        for k in known:
            # a field the file did not have is added only once it differs from its default
            if k not in out and k in values and (k not in defaults or values[k] != defaults[k]):
                out[k] = values[k]
    else:
        for k in known:
            if k in values:
                out[k] = values[k]
    for k, v in extra.items():
        if k not in out:
            out[k] = v
    return out


_NODE_DEFAULTS = {"pos": [0.0, 0.0], "tunnel": False, "forcerun": False, "hidden": False, "layer": 0,
                  "customState": None, "geometry": None}
_CONN_DEFAULTS = {"feedback": None, "controlpoints": [], "line": "cubic", "name": "connection"}
_TERM_DEFAULTS = {"value": None, "flipped": False, "opts": {}}


def terminal_to_dict(t: Terminal) -> dict:
    return _ordered(t, TERMINAL_FIELDS, {"value": t.value, "flipped": t.flipped, "opts": t.opts}, _TERM_DEFAULTS)


def node_to_dict(n: Node) -> dict:
    values = {
        "type": NODE, "name": n.name if "name" in (n.key_order or ()) else (n.name or n.uniquename),
        "uniquename": n.stored_uniquename if n.stored_uniquename is not None else n.uniquename,
        "pos": n.pos, "path": list(n.path),
        "terminals": {name: terminal_to_dict(t) for name, t in n.terminals.items()},
        "tunnel": n.tunnel, "forcerun": n.forcerun, "hidden": n.hidden,
        "customState": n.customState, "layer": n.layer,
    }
    if n.geometry is not None or "geometry" in (n.key_order or ()):
        values["geometry"] = n.geometry
    return _ordered(n, NODE_FIELDS, values, {**_NODE_DEFAULTS, "name": n.uniquename, "uniquename": n.uniquename})


def connection_to_dict(c: Connection) -> dict:
    values = {
        "type": CONNECTION, "name": c.name,
        "uniquename": c.stored_uniquename if c.stored_uniquename is not None else c.uniquename,
        "line": c.line, "input": list(c.input), "output": list(c.output), "controlpoints": c.controlpoints,
    }
    if c.feedback is not None or "feedback" in (c.key_order or ()):
        values["feedback"] = c.feedback
    return _ordered(c, CONNECTION_FIELDS, values, {**_CONN_DEFAULTS, "uniquename": c.uniquename})


def to_dict(wf: Workflow) -> dict:
    """The workflow as the JSON object Nodeworks writes, in the file's key order."""
    out: dict[str, Any] = {}
    nodes, conns = wf.nodes, wf.connections
    for k in wf.key_order:
        if k in nodes:
            out[k] = node_to_dict(nodes[k])
        elif k in conns:
            out[k] = connection_to_dict(conns[k])
    for k, n in nodes.items():
        if k not in out:
            out[k] = node_to_dict(n)
    for k, c in conns.items():
        if k not in out:
            out[k] = connection_to_dict(c)
    return out


def dumps(wf: Workflow, *, indent: int | None = 2) -> str:
    """Nodeworks JSON text. numpy values computed by nodes are written as lists."""
    return json.dumps(to_dict(wf), indent=indent, ensure_ascii=False, default=json_default) + "\n"


def save(wf: Workflow, path: str | os.PathLike) -> None:
    """Write atomically: the old file stays whole if anything fails part-way."""
    text = dumps(wf)  # serialize first: a value that can't be written fails before the file is touched
    atomic_write_text(path, text)
    wf.source_path = os.fspath(path)
