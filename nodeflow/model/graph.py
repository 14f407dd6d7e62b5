"""Graph views of a workflow: dependencies, order, levels, reach.

The node-level dependency graph has an edge upstream → downstream for every
pair of nodes joined by at least one connection. Two shapes of it:
``Adjacency`` (plain dicts, what validation and the run plan use: building a
networkx DiGraph with edge attributes costs several times more at 10,000
nodes) and ``dependency_graph`` (a networkx DiGraph with the connections on
each edge as ``connections``, for callers that want networkx's algorithms).
The functions here take either. Orders are deterministic: ties are broken by
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


class Adjacency:
    """Node-level dependencies as dicts: ``pred[n]`` and ``succ[n]`` map neighbours to None.

    Iterating them gives neighbours in connection order, like a DiGraph's
    ``_pred``/``_succ``; ``to_networkx()`` when an algorithm needs a DiGraph.
    ``sources[n]`` maps each connected input terminal of ``n`` to its
    upstream ends ``(node, terminal)`` in connection order, made in the same
    pass over the connections (validation and the run plan both want it;
    dangling connections included).
    """

    __slots__ = ("pred", "succ", "sources", "acyclic")

    def __init__(self, wf: Workflow):
        pred: dict[str, dict[str, None]] = {n: {} for n in wf.nodes}
        succ: dict[str, dict[str, None]] = {n: {} for n in wf.nodes}
        sources: dict[str, dict[str, list[tuple[str, str]]]] = {}
        for c in wf.connections.values():
            src = c.input
            u, (v, vt) = src[0], c.output
            if u in succ and v in pred:  # dangling connections are validation's to report
                succ[u][v] = None
                pred[v][u] = None
            into = sources.get(v)
            if into is None:
                sources[v] = {vt: [src]}
            else:
                ends = into.get(vt)
                if ends is None:
                    into[vt] = [src]
                else:
                    ends.append(src)
        self.pred, self.succ, self.sources = pred, succ, sources
        #: True once a full topological order was found (removing nodes keeps it); None: not known
        self.acyclic: bool | None = None

    def remove(self, n: str) -> None:
        for u in self.pred.pop(n):
            self.succ[u].pop(n, None)
        for v in self.succ.pop(n):
            self.pred[v].pop(n, None)

    def descendants(self, n: str) -> set[str]:
        """Every node reachable from ``n`` (not ``n`` itself unless on a cycle)."""
        succ = self.succ
        seen: set[str] = set()
        stack = list(succ[n])
        while stack:
            m = stack.pop()
            if m not in seen:
                seen.add(m)
                stack.extend(succ[m])
        return seen

    def to_networkx(self) -> nx.DiGraph:
        g = nx.DiGraph()
        g.add_nodes_from(self.succ)
        g.add_edges_from((u, v) for u, vs in self.succ.items() for v in vs)
        return g


def _dicts(g: "nx.DiGraph | Adjacency") -> tuple[dict, dict]:
    """(pred, succ) adjacency dicts of either graph shape (a DiGraph's raw ones: its views are slow)."""
    if isinstance(g, Adjacency):
        return g.pred, g.succ
    return g._pred, g._succ


def dependency_graph(wf: Workflow) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(wf.nodes)
    edges: dict[tuple[str, str], list[str]] = {}
    for c in wf.connections.values():
        edges.setdefault((c.input[0], c.output[0]), []).append(c.uniquename)
    g.add_edges_from((u, v, {"connections": cs}) for (u, v), cs in edges.items())
    return g


def _cycle_in(g: "nx.DiGraph | Adjacency") -> list[str]:
    cyc = nx.find_cycle(g.to_networkx() if isinstance(g, Adjacency) else g)
    nodes = [u for u, _v in cyc]
    i = nodes.index(min(nodes))
    return nodes[i:] + nodes[:i]


def topological_order(wf: Workflow, graph: "nx.DiGraph | Adjacency | None" = None) -> list[str]:
    """Every node after all its upstream nodes; among ready nodes, by uniquename.

    Kahn's algorithm with a heap over the graph's adjacency (the same order as
    ``nx.lexicographical_topological_sort``, a few times faster).
    """
    g = graph if graph is not None else Adjacency(wf)
    pred, succ = _dicts(g)
    indegree = {n: len(p) for n, p in pred.items()}
    heap = [n for n, d in indegree.items() if d == 0]
    heapq.heapify(heap)
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
    if g.__class__ is Adjacency:
        g.acyclic = True  # validation's cycle check need not walk it again
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


def is_acyclic(g: "nx.DiGraph | Adjacency") -> bool:
    """True when ``g`` has no cycle (Kahn's count over the adjacency dicts: fast at 10,000s of nodes)."""
    pred, succ = _dicts(g)
    indegree = {n: len(p) for n, p in pred.items()}
    stack = [n for n, d in indegree.items() if d == 0]
    seen = 0
    while stack:
        n = stack.pop()
        seen += 1
        for m in succ[n]:
            indegree[m] -= 1
            if indegree[m] == 0:
                stack.append(m)
    return seen == len(indegree)


def cycles(g: "nx.DiGraph | Adjacency", limit: int = 100) -> list[list[str]]:
    """Elementary cycles of length >= 2, each once, rotated to start at its least name.

    Sorted for stable output; at most ``limit`` (a tangle can have exponentially
    many). Self-loops are left to the caller.
    """
    if getattr(g, "acyclic", None):
        return []
    succ = _dicts(g)[1]
    loops = [(n, n) for n, vs in succ.items() if n in vs]
    if not loops and is_acyclic(g):
        return []
    g2 = g.to_networkx() if isinstance(g, Adjacency) else g.copy()
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
