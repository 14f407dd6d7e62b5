"""The registry, create_node's Nodeworks opts, and import hygiene of nodeflow.library."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import nodeflow.library as library
from nodeflow.library import ARRAY, FLOAT, INT, STR, NodeRegistry, builtin_registry, dtype_text
from nodeflow.model import Workflow

OPT_KEYS = {"in", "out", "dtype", "multiinput", "widget", "value", "showlabel"}

#: path -> (inputs, outputs), as nodeworks-format.md and the library's issue name them
EXPECTED = {
    ("types", "Integer"): ((), ("int",)),
    ("types", "Float"): ((), ("float",)),
    ("types", "String"): ((), ("string",)),
    ("types", "Boolean"): ((), ("bool",)),
    ("math", "Add"): (("input",), ("result",)),
    ("math", "Subtract"): (("minuend", "subtrahend"), ("result",)),
    ("math", "Multiply"): (("input",), ("result",)),
    ("math", "Divide"): (("dividend", "divisor"), ("result",)),
    ("math", "Power"): (("base", "exponent"), ("result",)),
    ("math", "Root"): (("radicand", "degree"), ("result",)),
    ("math", "Modulo"): (("dividend", "divisor"), ("result",)),
    ("math", "Absolute"): (("input",), ("result",)),
    ("math", "Negate"): (("input",), ("result",)),
    ("math", "Minimum"): (("input",), ("result",)),
    ("math", "Maximum"): (("input",), ("result",)),
    ("math", "Compare"): (("a", "operation", "b"), ("result",)),
    ("numpy", "Range"): (("start", "stop", "step", "type"), ("range",)),
    ("numpy", "Trig"): (("input", "operation"), ("array",)),
    ("numpy", "Linspace"): (("start", "stop", "num"), ("array",)),
    ("numpy", "Sum"): (("input",), ("result",)),
    ("numpy", "Mean"): (("input",), ("result",)),
    ("matplotlib", "Plot"): (("x", "y", "title"), ("figure",)),
    ("shell", "Command"): (("command", "args", "environment", "directory", "after"),
                           ("stdout", "stderr", "exitcode")),
    ("files", "Read Text"): (("path",), ("text",)),
    ("files", "Write Text"): (("path", "text"), ("file",)),
    ("files", "Glob"): (("directory", "pattern"), ("files",)),
    ("nodeflow", "Workflow Settings"): ((), ()),
    ("nodeflow", "Sub-workflow"): (("workflow",), ()),
    ("nodeflow", "Workflow Input"): (("name", "value"), ("output",)),
    ("nodeflow", "Workflow Output"): (("name", "value"), ("output",)),
}
MULTIINPUT = {(("math", "Add"), "input"), (("math", "Multiply"), "input"), (("math", "Minimum"), "input"),
              (("math", "Maximum"), "input"), (("matplotlib", "Plot"), "x"), (("matplotlib", "Plot"), "y"),
              (("shell", "Command"), "args"), (("shell", "Command"), "after")}


def test_exactly_the_expected_types(registry):
    assert registry.known_paths() == frozenset(EXPECTED)


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_create_node_terminals_and_opts(registry, path):
    wf = Workflow()
    node = registry.create_node(path, wf, (10, 20))
    assert node.path == path and node.name == path[-1] and node.pos == [10.0, 20.0]
    ins, outs = EXPECTED[path]
    assert tuple(n for n, _ in node.inputs()) == ins
    assert tuple(n for n, _ in node.outputs()) == outs
    for name, term in node.terminals.items():
        assert OPT_KEYS <= term.opts.keys(), name
        assert term.opts["in"] != term.opts["out"]
        assert isinstance(term.opts["dtype"], str)
        assert term.opts["multiinput"] == ((path, name) in MULTIINPUT)
        if term.opts.get("widget") == "combobox":
            assert term.opts["items"] and term.value in term.opts["items"]
    assert registry.get(path).function is not None or registry.get(path).command is not None


def test_power_opts_match_the_format_doc(registry):
    node = registry.create_node(("math", "Power"))
    base, exponent, result = (node.terminals[n] for n in ("base", "exponent", "result"))
    assert base.opts["in"] and not base.opts["out"] and exponent.opts["in"]
    assert result.opts["out"] and not result.opts["in"]
    assert base.opts["dtype"] == exponent.opts["dtype"] == result.opts["dtype"] == "<class 'float'>" == FLOAT
    assert base.opts["widget"] == "doublespinbox"


def test_other_opts(registry):
    rng = registry.create_node(("numpy", "Range")).terminals
    assert rng["type"].opts["items"] == ["int", "int8", "int16", "int32", "int64", "float", "float16", "float32",
                                         "float64"]
    assert rng["type"].opts["widget"] == "combobox" and rng["range"].opts["dtype"] == ARRAY
    trig = registry.create_node(("numpy", "Trig")).terminals
    assert trig["operation"].opts["items"] == ["sin", "sinh", "cos", "cosh", "tan", "tanh"]
    assert registry.create_node(("types", "Integer")).terminals["int"].opts["dtype"] == INT
    cmd = registry.create_node(("shell", "Command")).terminals
    assert cmd["args"].value == [] and cmd["environment"].value == {} and cmd["directory"].value == ""
    assert cmd["stdout"].opts["dtype"] == STR and cmd["exitcode"].opts["dtype"] == INT
    assert registry.create_node(("matplotlib", "Plot")).terminals["figure"].opts["dtype"] == STR


def test_fresh_defaults_are_not_shared(registry):
    a, b = registry.create_node(("shell", "Command")), registry.create_node(("shell", "Command"))
    a.terminals["args"].value.append("x")
    assert b.terminals["args"].value == [] and registry.get(("shell", "Command")).spec("args").default == []


def test_uniquenames_nodeworks_style(registry):
    wf = Workflow()
    names = []
    for _ in range(3):
        n = registry.create_node(("types", "Float"), wf)
        wf.add_node(n)
        names.append(n.uniquename)
    assert names == ["float", "float.0", "float.1"]


def test_registry_basics():
    reg = builtin_registry()
    assert ("math", "Power") in reg and ["math", "Power"] in reg and reg.get(["nope"]) is None
    with pytest.raises(ValueError, match="already registered"):
        reg.register(reg.get(("math", "Power")))
    with pytest.raises(KeyError):
        reg.create_node(("no", "such"))
    assert len(NodeRegistry()) == 0 and reg.problems == []
    assert reg.get(("nodeflow", "Workflow Settings")).hidden
    assert not any(t.hidden for t in reg if t.path[0] != "nodeflow")


def test_dtype_text():
    assert dtype_text(float) == "<class 'float'>" and dtype_text(None) == "None"
    import numpy

    assert dtype_text(numpy.ndarray) == "<class 'numpy.ndarray'>" == ARRAY


def test_importing_the_library_loads_neither_numpy_nor_matplotlib_nor_qt():
    code = ("import sys, nodeflow.library as L; r = L.builtin_registry(); r.create_node(('numpy', 'Range')); "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('numpy', 'matplotlib', 'PySide6', 'PyQt5', 'PyQt6', 'NodeGraphQt')]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_no_qt_in_library_sources():
    root = Path(library.__file__).parent
    for file in root.rglob("*.py"):
        tree = ast.parse(file.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [node.module or ""]
            else:
                continue
            for m in mods:
                assert not m.startswith(("PySide", "PyQt", "NodeGraphQt", "qtpy")), f"{file}: imports {m}"
