"""Graph views of a workflow with networkx: dependencies, order, levels, reach.

The node-level dependency graph has an edge upstream → downstream for every
pair of nodes joined by at least one connection (the connections are kept on
the edge as ``connections``). Orders are deterministic: ties are broken by
uniquename.
"""
from __future__ import annotations

import heapq

import networkx as nx

from .workflow import Workflow


class CycleError(ValueError):
    """The workflow's connections form a cycle; ``cycle`` lists its nodes in order."""

    def __init__(self, cycle: list[str]):
        self.cycle = cycle
        super().__init__("cycle: " + " -> ".join(cycle + cycle[:1]))


def dependency_graph(wf: Workflow) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(wf.nodes)
    edges: dict[tuple[str, str], list[str]] = {}
    for c in wf.connections.values():
        edges.setdefault((c.input[0], c.output[0]), []).append(c.uniquename)
    g.add_edges_from((u, v, {"connections": cs}) for (u, v), cs in edges.items())
    return g


def _cycle_in(g: nx.DiGraph) -> list[str]:
    cyc = nx.find_cycle(g)
    nodes = [u for u, _v in cyc]
    i = nodes.index(min(nodes))
    return nodes[i:] + nodes[:i]


def topological_order(wf: Workflow, graph: nx.DiGraph | None = None) -> list[str]:
    """Every node after all its upstream nodes; among ready nodes, by uniquename.

    Kahn's algorithm with a heap over the graph's adjacency (the same order as
    ``nx.lexicographical_topological_sort``, a few times faster).
    """
    g = graph if graph is not None else dependency_graph(wf)
    indegree = {n: len(p) for n, p in g._pred.items()}  # the raw dicts: views cost a lot at this scale
    heap = [n for n, d in indegree.items() if d == 0]
    heapq.heapify(heap)
    succ = g._succ
    order: list[str] = []
    push, pop = heapq.heappush, heapq.heappop
    while heap:
        n = pop(heap)
        order.append(n)
        for m in succ[n]:
            indegree[m] -= 1
            if indegree[m] == 0:
                push(heap, m)
    if len(order) != len(indegree):
        raise CycleError(_cycle_in(g))
    return order


def generations(wf: Workflow, graph: nx.DiGraph | None = None) -> list[list[str]]:
    """Levels: level 0 has no upstream; level k depends only on levels < k."""
    g = graph if graph is not None else dependency_graph(wf)
    try:
        return [sorted(gen) for gen in nx.topological_generations(g)]
    except nx.NetworkXUnfeasible:
        raise CycleError(_cycle_in(g)) from None


def upstream(wf: Workflow, uniquename: str, graph: nx.DiGraph | None = None) -> set[str]:
    """All nodes whose results reach ``uniquename`` (not including it)."""
    g = graph if graph is not None else dependency_graph(wf)
    return set(nx.ancestors(g, uniquename))


def downstream(wf: Workflow, uniquename: str, graph: nx.DiGraph | None = None) -> set[str]:
    """All nodes that use ``uniquename``'s results, directly or not."""
    g = graph if graph is not None else dependency_graph(wf)
    return set(nx.descendants(g, uniquename))


def is_acyclic(g: nx.DiGraph) -> bool:
    """True when ``g`` has no cycle (Kahn's count over the raw adjacency: fast at 10,000s of nodes)."""
    indegree = {n: len(p) for n, p in g._pred.items()}
    stack = [n for n, d in indegree.items() if d == 0]
    succ = g._succ
    seen = 0
    while stack:
        n = stack.pop()
        seen += 1
        for m in succ[n]:
            indegree[m] -= 1
            if indegree[m] == 0:
                stack.append(m)
    return seen == len(indegree)


def cycles(g: nx.DiGraph, limit: int = 100) -> list[list[str]]:
    """Elementary cycles of length >= 2, each once, rotated to start at its least name.

    Sorted for stable output; at most ``limit`` (a tangle can have exponentially
    many). Self-loops are left to the caller.
    """
    loops = list(nx.selfloop_edges(g))
    if not loops and is_acyclic(g):
        return []
    g2 = g.copy()
    g2.remove_edges_from(loops)
    found: list[list[str]] = []
    for comp in nx.strongly_connected_components(g2):
        if len(comp) < 2:
            continue
        for cyc in nx.simple_cycles(g2.subgraph(comp)):
            i = cyc.index(min(cyc))
            found.append(cyc[i:] + cyc[:i])
            if len(found) >= limit:
                return sorted(found)
    return sorted(found)
