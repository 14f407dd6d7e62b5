"""Plug-in discovery: node types from entry points and from a plug-in folder.

Sources, in this order:

* entry points in the group ``nodeflow.nodes``; each loads a module, or a
  callable returning a module or an iterable of ``NodeType``;
* ``*.py`` files in the plug-in folders (default:
  ``platformdirs.user_data_dir("nodeflow")/plugins``), each imported under a
  module name of its own (files whose name starts with ``_`` are helpers and
  are not loaded).

A plug-in module is either Nodeworks-style::

    NAME = 'my custom nodes'          # first element of the node paths

    class MyNode:
        name = 'double it'            # path: ('my custom nodes', 'double it')
        terminalOpts = {
            'input':  {'in': True,  'dtype': float, 'value': 1.0, 'widget': 'doublespinbox'},
            'output': {'out': True, 'dtype': float},
        }

        def process(self):
            self.terminals['output'].value = 2 * self.terminals['input'].value

    def returnNodes():
        return [MyNode]

or exposes ``NODE_TYPES``, a list of ``nodeflow.library.NodeType``.

A Nodeworks-style class is instantiated without arguments for every run;
``self.terminals[name].value`` holds each input's value (a list for a
multiinput terminal) and is where ``process()`` puts the outputs;
``self.context`` is the run's ``NodeContext`` (output folder, log).

Whatever goes wrong in a plug-in (it does not import, ``returnNodes`` raises,
a class lacks ``name``/``terminalOpts``/``process``, a path is already taken)
is recorded as a message in ``registry.problems`` naming the plug-in, and
that plug-in or node type is skipped; the rest still loads.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import os
import re
import sys
import traceback
import types as pytypes
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .types import NodeContext, NodeType, TerminalSpec, dtype_text

if TYPE_CHECKING:
    from .registry import NodeRegistry

ENTRY_POINT_GROUP = "nodeflow.nodes"

#: opts that map to TerminalSpec fields; every other opt is kept in ``extra_opts``
_SPEC_OPTS = frozenset({"in", "out", "dtype", "value", "widget", "multiinput", "items", "min", "max", "showlabel",
                        "browsetype"})


class PluginError(Exception):
    """A plug-in or one of its node types cannot be used (message meant for the user)."""


def default_plugin_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("nodeflow")) / "plugins"


def load_plugins(registry: "NodeRegistry", plugin_dirs: Iterable[str | os.PathLike] | str | os.PathLike | None = None,
                 entry_points: bool = True) -> "NodeRegistry":
    """Register the node types of every plug-in found; problems go to ``registry.problems``."""
    if entry_points:
        for ep in _entry_points():
            source = f"entry point {ep.name!r} ({getattr(ep, 'value', '?')})"
            try:
                obj = ep.load()
                if not isinstance(obj, pytypes.ModuleType) and callable(obj):
                    obj = obj()
            except (Exception, SystemExit) as e:
                registry.problems.append(f"plug-in {source}: cannot load: {_error(e)}; skipped")
                continue
            _register_all(registry, source, obj, origin=ep.name)

    if plugin_dirs is None:
        dirs: list[Path] = [default_plugin_dir()]
    elif isinstance(plugin_dirs, (str, os.PathLike)):
        dirs = [Path(plugin_dirs)]
    else:
        dirs = [Path(d) for d in plugin_dirs]
    for folder in dirs:
        if not folder.is_dir():
            continue
        for file in sorted(folder.glob("*.py")):
            if file.name.startswith("_"):
                continue
            source = f"file {file}"
            try:
                module = import_file(file)
            except (Exception, SystemExit) as e:
                registry.problems.append(f"plug-in {source}: cannot import: {_error(e)}; skipped")
                continue
            _register_all(registry, source, module, origin=file.stem)
    return registry


def _entry_points():
    try:
        return list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    except Exception:  # a broken installed distribution must not stop nodeflow
        return []


def import_file(path: str | os.PathLike) -> pytypes.ModuleType:
    """Import one plug-in file under a module name unique to its full path."""
    path = Path(path).resolve()
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    name = f"nodeflow_plugin_{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"{path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses, pickling etc. look the module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _error(e: BaseException) -> str:
    if isinstance(e, SyntaxError):
        where = f" ({Path(e.filename).name}, line {e.lineno})" if e.filename else ""
        return f"SyntaxError: {e.msg}{where}"
    if isinstance(e, PluginError):
        return str(e)
    text = str(e)
    tb = traceback.extract_tb(e.__traceback__)
    where = f" (at {Path(tb[-1].filename).name}, line {tb[-1].lineno})" if tb else ""
    return f"{type(e).__name__}: {text}{where}" if text else f"{type(e).__name__}{where}"


# -- turning a plug-in object into node types ---------------------------------
def _register_all(registry: "NodeRegistry", source: str, obj: Any, origin: str) -> None:
    try:
        candidates = _node_types_of(obj, origin)
    except (Exception, SystemExit) as e:
        registry.problems.append(f"plug-in {source}: {_error(e)}; skipped")
        return
    for item in candidates:
        if isinstance(item, BaseException):
            registry.problems.append(f"plug-in {source}: {_error(item)}; that node type is skipped")
            continue
        if item.path in registry:
            existing = registry.get(item.path)
            registry.problems.append(
                f"plug-in {source}: node type {'/'.join(item.path)!r} is already registered "
                f"(by {existing.origin}); that node type is skipped")
            continue
        registry.register(item)


def _node_types_of(obj: Any, origin: str) -> list[NodeType | BaseException]:
    """Node types (or the error for each one that is broken) offered by a module or an iterable."""
    if isinstance(obj, pytypes.ModuleType):
        if hasattr(obj, "NODE_TYPES"):
            return _native(obj.NODE_TYPES, str(getattr(obj, "NAME", None) or origin))
        if hasattr(obj, "returnNodes"):
            name = getattr(obj, "NAME", None)
            if not isinstance(name, str) or not name.strip():
                raise PluginError("NAME (the library folder of its nodes, e.g. NAME = 'my custom nodes') is missing "
                                  "or not text")
            try:
                classes = obj.returnNodes()
                classes = list(classes)
            except (Exception, SystemExit) as e:
                raise PluginError(f"returnNodes() failed: {_error(e)}") from None
            return [_adapt_or_error(name, cls) for cls in classes]
        raise PluginError("has neither NODE_TYPES nor NAME and returnNodes()")
    if isinstance(obj, Iterable) and not isinstance(obj, (str, bytes, Mapping)):
        return _native(obj, origin)
    raise PluginError(f"gave {type(obj).__name__}, not a module or a list of node types")


def _native(items: Any, origin: str) -> list[NodeType | BaseException]:
    if not isinstance(items, Iterable) or isinstance(items, (str, bytes, Mapping)):
        raise PluginError(f"NODE_TYPES must be a list of NodeType, got {type(items).__name__}")
    out: list[NodeType | BaseException] = []
    for n, t in enumerate(items):
        if not isinstance(t, NodeType):
            out.append(PluginError(f"NODE_TYPES[{n}] is a {type(t).__name__}, not a nodeflow NodeType"))
        elif t.origin == "builtin":
            out.append(dataclasses.replace(t, origin=origin))
        else:
            out.append(t)
    return out


def _adapt_or_error(library: str, cls: Any) -> NodeType | BaseException:
    try:
        return nodeworks_node_type(library, cls)
    except PluginError as e:
        return e


def nodeworks_node_type(library: str, cls: Any) -> NodeType:
    """A NodeType at ``(library, cls.name)`` running a Nodeworks-style class's ``process()``."""
    label = getattr(cls, "__name__", repr(cls))
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name.strip():
        raise PluginError(f"class {label} has no 'name' (text)")
    opts = getattr(cls, "terminalOpts", None)
    if not isinstance(opts, Mapping):
        raise PluginError(f"node {name!r} (class {label}) has no 'terminalOpts' dict")
    if not callable(getattr(cls, "process", None)):
        raise PluginError(f"node {name!r} (class {label}) has no process() method")
    specs = tuple(_terminal_spec(name, tname, o) for tname, o in opts.items())
    path = (library, name)

    def run(inputs: dict[str, Any], ctx: NodeContext) -> dict[str, Any]:
        return run_nodeworks_class(cls, specs, inputs, ctx)

    doc = (getattr(cls, "__doc__", None) or "").strip().splitlines()
    return NodeType(path, specs, function=run, description=doc[0] if doc else "", origin=library)


def _terminal_spec(node: str, tname: Any, o: Any) -> TerminalSpec:
    if not isinstance(tname, str) or not tname:
        raise PluginError(f"node {node!r}: terminal name {tname!r} is not text")
    if not isinstance(o, Mapping):
        raise PluginError(f"node {node!r}: terminalOpts[{tname!r}] must be a dict of options")
    is_in, is_out = bool(o.get("in")), bool(o.get("out"))
    if is_in == is_out:
        raise PluginError(f"node {node!r}: terminal {tname!r} must set exactly one of 'in' and 'out' to True")
    items = o.get("items")
    try:
        return TerminalSpec(
            name=tname, direction="in" if is_in else "out", dtype=dtype_text(o.get("dtype")),
            default=o.get("value"), widget=o.get("widget"), multiinput=bool(o.get("multiinput", False)),
            items=tuple(str(i) for i in items) if items is not None else None,
            min=o.get("min"), max=o.get("max"), showlabel=bool(o.get("showlabel", True)),
            browsetype=o.get("browsetype"),
            extra_opts={k: v for k, v in o.items() if k not in _SPEC_OPTS})
    except (TypeError, ValueError, AttributeError) as e:
        raise PluginError(f"node {node!r}: terminal {tname!r} has bad options: {e}") from None


class PluginTerminal:
    """What a Nodeworks-style ``process()`` sees as ``self.terminals[name]``."""

    __slots__ = ("name", "value", "opts")

    def __init__(self, name: str, value: Any, opts: dict[str, Any]):
        self.name = name
        self.value = value
        self.opts = opts

    def __repr__(self) -> str:
        return f"PluginTerminal({self.name!r}, value={self.value!r})"


def run_nodeworks_class(cls: Any, specs: tuple[TerminalSpec, ...], inputs: Mapping[str, Any],
                        ctx: NodeContext | None = None) -> dict[str, Any]:
    """Instantiate ``cls``, give it terminals holding ``inputs``, call ``process()``, read the outputs."""
    node = cls()
    terminals = {}
    for s in specs:
        value = inputs.get(s.name, s.default) if s.is_input else None
        terminals[s.name] = PluginTerminal(s.name, value, s.opts())
    node.terminals = terminals
    if ctx is not None and not hasattr(node, "context"):
        try:
            node.context = ctx
        except AttributeError:
            pass
    node.process()
    return {s.name: node.terminals[s.name].value for s in specs if not s.is_input
            if s.name in node.terminals}
