"""Shared steps of the importers: command nodes, dependency links, cycle checks, layout."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import networkx as nx

from ..engine.settings import NodeSettings, WorkflowSettings
from ..library import builtin_registry
from ..model import Workflow
from ..model.layout import layered_layout
from . import DefinitionError

COMMAND = ("shell", "Command")


def check_dependencies(edges: Sequence[tuple[str, str]], names: set[str], what: str = "task") -> None:
    """Every edge names known tasks; the graph has no cycle (else DefinitionError naming them)."""
    for a, b in edges:
        for end, other in ((a, b), (b, a)):
            if end not in names:
                raise DefinitionError(f"{what} {other!r} refers to {end!r}, which is not defined")
    g = nx.DiGraph(list(edges))
    try:
        cyc = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return
    nodes = [u for u, _ in cyc]
    i = nodes.index(min(nodes))
    nodes = nodes[i:] + nodes[:i]
    raise DefinitionError(f"the {what}s form a cycle: {' -> '.join(nodes + nodes[:1])}")


def build(tasks: Mapping[str, dict[str, Any]], edges: Sequence[tuple[str, str]], *,
          workflow_settings: WorkflowSettings | None = None) -> Workflow:
    """tasks: name → {argv, env, directory, settings (NodeSettings kwargs), meta}; edges: (parent, child)."""
    check_dependencies(edges, set(tasks))
    reg = builtin_registry()
    ctype = reg.get(COMMAND)
    wf = Workflow()
    for name, t in tasks.items():
        argv = list(t["argv"])
        if not argv:
            raise DefinitionError(f"task {name!r} has an empty command")
        node = ctype.create_node(uniquename=name)
        node.name = name
        node.terminals["command"].value = argv[0]
        node.terminals["args"].value = argv[1:]
        node.terminals["environment"].value = dict(t.get("env") or {})
        node.terminals["directory"].value = t.get("directory") or ""
        settings = NodeSettings(**(t.get("settings") or {})).to_state()
        if t.get("meta"):
            settings["imported"] = dict(t["meta"])
        node.set_settings(settings)
        wf.add_node(node)
    for i, (a, b) in enumerate(edges):
        wf.connect((a, "exitcode"), (b, "after"), uniquename="connection" if i == 0 else f"connection.{i - 1}")
    if workflow_settings is not None:
        workflow_settings.store(wf)
    layered_layout(wf)
    if workflow_settings is not None:
        from ..engine.settings import SETTINGS_NODE

        wf.nodes[SETTINGS_NODE].pos = [0.0, -200.0]
    return wf
