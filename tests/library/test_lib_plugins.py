"""Plug-ins: Nodeworks-style files, NODE_TYPES modules, entry points, and broken ones reported."""
from __future__ import annotations

import importlib.metadata
import textwrap
import types

import pytest

from nodeflow.library import (FLOAT, NodeContext, NodeType, builtin_registry, default_registry, inp,
                              load_plugins, out)

NODEWORKS_PLUGIN = '''
NAME = 'my custom nodes'

class MyStringNode:
    """Repeats a string."""
    name = 'my string node'
    terminalOpts = {
        'input': {'widget': 'lineedit', 'in': True, 'out': False, 'showlabel': True, 'dtype': str,
                  'value': 'ab'},
        'times': {'widget': 'spinbox', 'in': True, 'dtype': "<class 'int'>", 'value': 2, 'min': 0, 'max': 9},
        'output': {'widget': None, 'in': False, 'out': True, 'dtype': str, 'checkable': False},
    }

    def process(self):
        self.terminals['output'].value = self.terminals['input'].value * self.terminals['times'].value


class Summer:
    name = 'summer'
    terminalOpts = {
        'values': {'in': True, 'dtype': float, 'value': 0.0, 'multiinput': True},
        'total': {'out': True, 'dtype': float},
    }

    def process(self):
        self.terminals['total'].value = sum(self.terminals['values'].value)


def returnNodes():
    return [MyStringNode, Summer]
'''

NATIVE_PLUGIN = '''
from nodeflow.library import FLOAT, NodeType, inp, out

NAME = "native"
NODE_TYPES = [NodeType(("native", "Double"), (inp("x", FLOAT, 1.0, "doublespinbox"), out("y", FLOAT)),
                       function=lambda i, ctx: {"y": 2 * i["x"]})]
'''


def write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text))
    return folder / name


@pytest.fixture
def ctx(tmp_path):
    return NodeContext("r", "n", tmp_path / "out")


def test_nodeworks_style_plugin_loads_and_runs(tmp_path, ctx):
    d = tmp_path / "plugins"
    write(d, "mine.py", NODEWORKS_PLUGIN)
    reg = load_plugins(builtin_registry(), plugin_dirs=[d], entry_points=False)
    assert reg.problems == []
    t = reg.get(("my custom nodes", "my string node"))
    assert t is not None and t.origin == "my custom nodes" and t.description == "Repeats a string."
    node = t.create_node()
    assert node.path == ("my custom nodes", "my string node")
    assert node.terminals["input"].opts["dtype"] == "<class 'str'>" and node.terminals["input"].value == "ab"
    assert node.terminals["times"].opts["dtype"] == "<class 'int'>" and node.terminals["times"].opts["max"] == 9
    assert node.terminals["output"].opts["out"] and node.terminals["output"].opts["checkable"] is False
    assert t.function({"input": "xy", "times": 3}, ctx) == {"output": "xyxyxy"}
    assert t.function({}, ctx) == {"output": "abab"}  # defaults for missing inputs
    summer = reg.get(("my custom nodes", "summer"))
    assert summer.spec("values").multiinput and summer.spec("total").dtype == FLOAT
    assert summer.function({"values": [1.0, 2.5]}, ctx) == {"total": 3.5}


def test_plugin_process_errors_propagate(tmp_path, ctx):
    d = tmp_path / "plugins"
    write(d, "boom.py", '''
        NAME = 'boom'
        class Boom:
            name = 'boom'
            terminalOpts = {'x': {'in': True}, 'y': {'out': True}}
            def process(self):
                raise RuntimeError('kaput')
        def returnNodes():
            return [Boom]
    ''')
    reg = load_plugins(builtin_registry(), plugin_dirs=[d], entry_points=False)
    with pytest.raises(RuntimeError, match="kaput"):
        reg.get(("boom", "boom")).function({"x": 1}, ctx)


def test_node_types_plugin_loads(tmp_path, ctx):
    d = tmp_path / "plugins"
    write(d, "native.py", NATIVE_PLUGIN)
    reg = default_registry(plugin_dirs=[d], entry_points=False)
    assert reg.problems == []
    t = reg.get(("native", "Double"))
    assert t.origin == "native" and t.function({"x": 4.0}, ctx) == {"y": 8.0}


BROKEN = {
    "syntax.py": "NAME = 'x'\ndef returnNodes(:\n",
    "raises.py": "NAME = 'r'\nraise RuntimeError('plug-in exploded')\n",
    "exits.py": "import sys\nsys.exit(3)\n",
    "returns_raise.py": "NAME = 'rr'\ndef returnNodes():\n    raise ValueError('no nodes today')\n",
    "noname.py": "def returnNodes():\n    return []\n",
    "nothing.py": "x = 1\n",
    "badnative.py": "NODE_TYPES = ['not a node type']\n",
    "badclasses.py": '''
        NAME = 'bad classes'
        class NoProcess:
            name = 'no process'
            terminalOpts = {'x': {'in': True}}
        class NoName:
            terminalOpts = {}
            def process(self): pass
        class NoOpts:
            name = 'no opts'
            def process(self): pass
        class BothWays:
            name = 'both ways'
            terminalOpts = {'x': {'in': True, 'out': True}}
            def process(self): pass
        class Fine:
            name = 'fine'
            terminalOpts = {'x': {'in': True, 'value': 1}, 'y': {'out': True}}
            def process(self):
                self.terminals['y'].value = self.terminals['x'].value + 1
        def returnNodes():
            return [NoProcess, NoName, NoOpts, BothWays, Fine]
    ''',
    "clash.py": '''
        NAME = 'math'
        class Power:
            name = 'Power'
            terminalOpts = {'x': {'in': True}}
            def process(self): pass
        def returnNodes():
            return [Power]
    ''',
}


def test_broken_plugins_are_reported_and_skipped(tmp_path, ctx):
    d = tmp_path / "plugins"
    for name, text in BROKEN.items():
        write(d, name, text)
    write(d, "good.py", NODEWORKS_PLUGIN)
    write(d, "_helper.py", "raise RuntimeError('helpers are not plug-ins')\n")
    reg = load_plugins(builtin_registry(), plugin_dirs=[d], entry_points=False)

    # the good ones still load
    assert ("my custom nodes", "my string node") in reg
    assert reg.get(("bad classes", "fine")).function({"x": 1}, ctx) == {"y": 2}
    assert reg.get(("math", "Power")).origin == "builtin"

    problems = "\n".join(reg.problems)

    def one(*words):
        hits = [p for p in reg.problems if all(w in p for w in words)]
        assert len(hits) == 1, (words, problems)
        assert hits[0].startswith("plug-in file ")

    one("syntax.py", "SyntaxError", "line 2")
    one("raises.py", "RuntimeError: plug-in exploded")
    one("exits.py", "SystemExit")
    one("returns_raise.py", "returnNodes() failed", "no nodes today")
    one("noname.py", "NAME")
    one("nothing.py", "neither NODE_TYPES nor NAME and returnNodes()")
    one("badnative.py", "NODE_TYPES[0]", "not a nodeflow NodeType")
    one("badclasses.py", "'no process'", "no process() method")
    one("badclasses.py", "class NoName has no 'name'")
    one("badclasses.py", "'no opts'", "no 'terminalOpts'")
    one("badclasses.py", "'both ways'", "exactly one of 'in' and 'out'")
    one("clash.py", "'math/Power' is already registered", "builtin")
    assert "_helper" not in problems
    assert len(reg.problems) == 12


def test_same_file_name_in_two_folders(tmp_path):
    write(tmp_path / "a", "nodes.py", NODEWORKS_PLUGIN)
    write(tmp_path / "b", "nodes.py", NATIVE_PLUGIN)
    reg = load_plugins(builtin_registry(), plugin_dirs=[tmp_path / "a", str(tmp_path / "b")], entry_points=False)
    assert reg.problems == []
    assert ("my custom nodes", "summer") in reg and ("native", "Double") in reg


def test_the_same_plugin_twice_clashes_with_itself(tmp_path):
    write(tmp_path / "a", "one.py", NATIVE_PLUGIN)
    write(tmp_path / "b", "two.py", NATIVE_PLUGIN)
    reg = load_plugins(builtin_registry(), plugin_dirs=[tmp_path / "a", tmp_path / "b"], entry_points=False)
    assert len(reg.problems) == 1 and "two.py" in reg.problems[0] and "(by native)" in reg.problems[0]


def test_missing_folder_is_fine(tmp_path):
    reg = load_plugins(builtin_registry(), plugin_dirs=tmp_path / "nope", entry_points=False)
    assert reg.problems == [] and len(reg) == len(builtin_registry())


def test_default_folder_is_in_user_data_dir(tmp_path, monkeypatch):
    import platformdirs

    monkeypatch.setattr(platformdirs, "user_data_dir", lambda appname=None, *a, **k: str(tmp_path / appname))
    write(tmp_path / "nodeflow" / "plugins", "native.py", NATIVE_PLUGIN)
    reg = default_registry(entry_points=False)
    assert ("native", "Double") in reg


class FakeEntryPoint:
    def __init__(self, name, target):
        self.name, self.value, self.group = name, f"fake_{name}:thing", "nodeflow.nodes"
        self._target = target

    def load(self):
        if isinstance(self._target, BaseException):
            raise self._target
        return self._target


def _module(name, source):
    m = types.ModuleType(name)
    exec(textwrap.dedent(source), m.__dict__)
    return m


def test_entry_points(monkeypatch, ctx):
    triple = NodeType(("ep", "Triple"), (inp("x", FLOAT, 1.0), out("y", FLOAT)),
                      function=lambda i, c: {"y": 3 * i["x"]})
    eps = [
        FakeEntryPoint("nodeworks_style", _module("fake_nw", NODEWORKS_PLUGIN)),
        FakeEntryPoint("factory", lambda: [triple]),
        FakeEntryPoint("factory_module", lambda: _module("fake_native", NATIVE_PLUGIN)),
        FakeEntryPoint("missing", ModuleNotFoundError("No module named 'gone'")),
        FakeEntryPoint("factory_fails", lambda: 1 / 0),
        FakeEntryPoint("not_nodes", 42),
    ]
    seen = {}

    def fake_entry_points(**kw):
        seen.update(kw)
        return eps

    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points)
    reg = load_plugins(builtin_registry(), plugin_dirs=[], entry_points=True)
    assert seen == {"group": "nodeflow.nodes"}
    assert reg.get(("my custom nodes", "summer")).function({"values": [1, 2]}, ctx) == {"total": 3}
    assert reg.get(("ep", "Triple")).function({"x": 2}, ctx) == {"y": 6}
    assert reg.get(("ep", "Triple")).origin == "factory"
    assert ("native", "Double") in reg
    assert len(reg.problems) == 3
    assert any("entry point 'missing'" in p and "ModuleNotFoundError" in p for p in reg.problems)
    assert any("entry point 'factory_fails'" in p and "ZeroDivisionError" in p for p in reg.problems)
    assert any("entry point 'not_nodes'" in p and "not a module" in p for p in reg.problems)

    # entry_points=False does not look
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **kw: pytest.fail("looked"))
    load_plugins(builtin_registry(), plugin_dirs=[], entry_points=False)
