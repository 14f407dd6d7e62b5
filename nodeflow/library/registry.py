"""The node library: node types keyed by path, built-ins plus plug-ins.

``default_registry()`` builds a fresh registry each call (no module-level
singleton): the built-in nodes, then plug-ins found through the entry-point
group ``nodeflow.nodes`` and the plug-in folder in the platformdirs user data
dir. A plug-in that fails to load is recorded in ``registry.problems`` and
skipped.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Callable

from ..model import Problem, Workflow
from .types import NodeType


class NodeRegistry:
    def __init__(self, types: Iterable[NodeType] = ()):
        self._types: dict[tuple[str, ...], NodeType] = {}
        #: messages about plug-ins that could not be loaded
        self.problems: list[str] = []
        self._rules: list[Callable[[Workflow], list[Problem]]] = []
        for t in types:
            self.register(t)

    def register(self, node_type: NodeType, *, replace: bool = False) -> None:
        if node_type.path in self._types and not replace:
            raise ValueError(f"node type {'/'.join(node_type.path)} is already registered")
        self._types[node_type.path] = node_type

    def get(self, path: Iterable[str]) -> NodeType | None:
        return self._types.get(tuple(path))

    def __contains__(self, path) -> bool:
        return tuple(path) in self._types

    def __len__(self) -> int:
        return len(self._types)

    def __iter__(self):
        return iter(sorted(self._types.values(), key=lambda t: t.path))

    def known_paths(self) -> frozenset[tuple[str, ...]]:
        return frozenset(self._types)

    def add_validation_rule(self, rule: Callable[[Workflow], list[Problem]]) -> None:
        self._rules.append(rule)

    def validation_rules(self) -> list[Callable[[Workflow], list[Problem]]]:
        return list(self._rules)

    def create_node(self, path: Iterable[str], workflow: Workflow | None = None,
                    pos: tuple[float, float] = (0.0, 0.0)):
        t = self.get(path)
        if t is None:
            raise KeyError(f"unknown node type {'/'.join(path)}")
        return t.create_node(workflow, pos)


def builtin_registry() -> NodeRegistry:
    """Only the node types that ship with nodeflow."""
    from .builtins import all_types

    return NodeRegistry(all_types())


def default_registry(*, plugin_dirs: Iterable[str] | None = None, entry_points: bool = True) -> NodeRegistry:
    """Built-ins plus plug-ins (entry points and the user plug-in folder)."""
    from .plugins import load_plugins

    reg = builtin_registry()
    load_plugins(reg, plugin_dirs=plugin_dirs, entry_points=entry_points)
    return reg
