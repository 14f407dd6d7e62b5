"""Shared helpers for the model tests: fixture paths and builders of real-format Nodeworks JSON.

Not a test module (pytest collects only ``test_*.py``); the model tests import it by
name, which works because pytest puts this folder on ``sys.path`` (rootdir-relative
"prepend" import mode, no ``__init__.py``).
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "model"

FLOAT = "<class 'float'>"
INT = "<class 'int'>"
STR = "<class 'str'>"
ARRAY = "<class 'numpy.ndarray'>"
ANY = "None"

#: fixture files that are valid workflow files (every one must round-trip exactly)
VALID_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.nc") if p.name not in {"bad_json.nc", "latin1.nc"})


def fixture(name: str) -> Path:
    return FIXTURES / name


def fixture_json(name: str) -> Any:
    with open(fixture(name), encoding="utf-8") as f:
        return json.load(f)


def assert_same_json(got: Any, want: Any) -> None:
    """Equal as JSON *and* in key order and number types (json.dumps tells 3 from 3.0)."""
    assert got == want
    assert json.dumps(got) == json.dumps(want)


def opts(direction: str, dtype: str = ANY, value: Any = None, *, multiinput: bool = False,
         widget: str | None = None, **more: Any) -> dict:
    """A full Nodeworks ``opts`` dict, as Nodeworks writes it."""
    o = {"widget": widget, "in": direction == "in", "out": direction == "out", "showlabel": direction == "in",
         "items": [], "min": None, "max": None, "dtype": dtype, "value": value, "multiinput": multiinput,
         "checkable": False, "columndelegate": {}, "rowdelegate": {}, "columns": [], "rows": [], "buttons": [],
         "browsetype": "file", "name": "", "selectionBehavior": "row", "selectionMode": "single"}
    o.update(more)
    return o


def term(direction: str, dtype: str = ANY, value: Any = None, *, multiinput: bool = False, **more: Any) -> dict:
    return {"value": value, "flipped": False, "opts": opts(direction, dtype, value, multiinput=multiinput, **more)}


def node(uname: str, path: tuple[str, ...] | list[str] = ("types", "Float"), terminals: dict | None = None,
         **more: Any) -> dict:
    if terminals is None:
        terminals = {"float": term("out", FLOAT, 1.0)}
    d = {"type": "Node", "name": uname.split(".")[0].capitalize(), "uniquename": uname, "pos": [0.0, 0.0],
         "path": list(path), "terminals": terminals, "tunnel": False, "forcerun": False, "hidden": False,
         "customState": None, "layer": 0}
    d.update(more)
    return d


def conn(uname: str, src: tuple[str, str], dst: tuple[str, str], **more: Any) -> dict:
    d = {"type": "Connection", "name": "connection", "uniquename": uname, "line": "cubic",
         "input": list(src), "output": list(dst), "controlpoints": []}
    d.update(more)
    return d


def float_node(uname: str, value: float = 1.0) -> dict:
    return node(uname, ("types", "Float"), {"float": term("out", FLOAT, value)})


def string_node(uname: str, value: str = "") -> dict:
    return node(uname, ("types", "String"), {"string": term("out", STR, value)})


def int_node(uname: str, value: int = 0) -> dict:
    return node(uname, ("types", "Integer"), {"int": term("out", INT, value)})


def multiply_node(uname: str) -> dict:
    return node(uname, ("math", "Multiply"), {"input": term("in", FLOAT, 1.0, multiinput=True),
                                              "result": term("out", FLOAT)})


def power_node(uname: str) -> dict:
    return node(uname, ("math", "Power"), {"base": term("in", FLOAT, 1.0), "exponent": term("in", FLOAT, 1.0),
                                           "result": term("out", FLOAT)})


def any_node(uname: str, path: tuple[str, ...] = ("my custom nodes", "passthrough")) -> dict:
    """A node with an untyped input ``input`` and an untyped output ``output``."""
    return node(uname, path, {"input": term("in", ANY), "output": term("out", ANY)})


def chain(*names: str, multiply: bool = True) -> dict:
    """Multiply nodes ``names`` joined result → input in the order given (last one not closed)."""
    d = {n: multiply_node(n) for n in names}
    for i, (a, b) in enumerate(zip(names, names[1:])):
        d[f"connection.{i}"] = conn(f"connection.{i}", (a, "result"), (b, "input"))
    return d


def edges_workflow(edges: list[tuple[str, str]], extra_nodes: tuple[str, ...] = ()) -> dict:
    """Multiply nodes joined result → input for every (upstream, downstream) pair."""
    d: dict[str, Any] = {}
    for u, v in edges:
        for n in (u, v):
            d.setdefault(n, multiply_node(n))
    for n in extra_nodes:
        d.setdefault(n, multiply_node(n))
    for i, (u, v) in enumerate(edges):
        d[f"connection.{i}"] = conn(f"connection.{i}", (u, "result"), (v, "input"))
    return d


def text(d: Any) -> str:
    return json.dumps(d, indent=2, ensure_ascii=False)


def deep(d: Any) -> Any:
    return copy.deepcopy(d)
