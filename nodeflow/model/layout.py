"""A layered layout for workflows built by program (imports, generators).

Nodes go in columns by generation (longest path from a source), and within a
column in the order of the barycentre of their upstream nodes, so edges mostly
run left to right without crossing much. Linear in nodes + connections —
NodeGraphQt's own auto layout takes minutes on a few thousand nodes and
recurses too deep on long chains.
"""
from __future__ import annotations

from .graph import dependency_graph, topological_order
from .workflow import Workflow

COLUMN_WIDTH = 260.0
ROW_HEIGHT = 140.0


def layered_layout(wf: Workflow, *, column_width: float = COLUMN_WIDTH, row_height: float = ROW_HEIGHT) -> None:
    """Set every node's ``pos`` (the workflow must be acyclic)."""
    g = dependency_graph(wf)
    order = topological_order(wf, g)
    level: dict[str, int] = {}
    for n in order:
        level[n] = max((level[u] + 1 for u in g._pred[n]), default=0)
    columns: dict[int, list[str]] = {}
    for n in order:
        columns.setdefault(level[n], []).append(n)
    row: dict[str, float] = {}
    for lv in sorted(columns):
        names = columns[lv]
        if lv > 0:
            names.sort(key=lambda n: (sum(row[u] for u in g._pred[n]) / max(1, len(g._pred[n])), n))
        for i, n in enumerate(names):
            row[n] = float(i)
    for n in order:
        wf.nodes[n].pos = [level[n] * column_width, row[n] * row_height]
