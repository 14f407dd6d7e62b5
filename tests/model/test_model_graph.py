"""Graph views: dependency graph, deterministic order, generations, reach, CycleError."""
from __future__ import annotations

import random

import pytest

from nodeflow.model import (CycleError, dependency_graph, downstream, generations, load, loads,
                            topological_order, upstream)

from model_helpers import edges_workflow, fixture, text

# a diamond with a tail and a separate pair:   src -> {left, right} -> join -> tail ; alone ; x -> y
EDGES = [("src", "right"), ("src", "left"), ("left", "join"), ("right", "join"), ("join", "tail"), ("x", "y")]


def wf_of(edges, extra=(), shuffle_seed=None):
    d = edges_workflow(edges, extra_nodes=extra)
    if shuffle_seed is not None:
        items = list(d.items())
        random.Random(shuffle_seed).shuffle(items)
        d = dict(items)
    return loads(text(d))


def test_topological_order_breaks_ties_by_uniquename():
    wf = wf_of(EDGES, extra=("alone",))
    assert topological_order(wf) == ["alone", "src", "left", "right", "join", "tail", "x", "y"]


@pytest.mark.parametrize("seed", range(5))
def test_topological_order_does_not_depend_on_file_order(seed):
    assert topological_order(wf_of(EDGES, ("alone",), shuffle_seed=seed)) == [
        "alone", "src", "left", "right", "join", "tail", "x", "y"]


def test_topological_order_ready_nodes_by_name_not_depth():
    # "b" becomes ready only after "z" although it sorts first; "a" waits for "b"
    wf = wf_of([("z", "b"), ("b", "a")], extra=("c",))
    assert topological_order(wf) == ["c", "z", "b", "a"]


def test_topological_order_of_fixtures():
    assert topological_order(load(fixture("basic.nc"))) == ["float", "integer", "multiply", "power"]
    assert topological_order(load(fixture("interleaved.nc"))) == ["float", "multiply", "power"]
    assert topological_order(load(fixture("trig_plot.nc"))) == ["range", "trig", "plot"]


def test_every_node_comes_after_its_upstream():
    rnd = random.Random(7)
    names = [f"n{i:02d}" for i in range(40)]
    edges = [(names[i], names[j]) for i in range(40) for j in range(i + 1, 40) if rnd.random() < 0.1]
    wf = wf_of(edges, extra=tuple(names), shuffle_seed=3)
    order = topological_order(wf)
    assert sorted(order) == sorted(names)
    pos = {n: i for i, n in enumerate(order)}
    assert all(pos[u] < pos[v] for u, v in edges)


def test_empty_workflow():
    wf = loads("{}")
    assert topological_order(wf) == [] and generations(wf) == []


def test_generations():
    wf = wf_of(EDGES, extra=("alone",))
    assert generations(wf) == [["alone", "src", "x"], ["left", "right", "y"], ["join"], ["tail"]]


def test_generation_is_by_longest_path():
    wf = wf_of([("a", "b"), ("b", "c"), ("a", "c")])
    assert generations(wf) == [["a"], ["b"], ["c"]]


def test_upstream_and_downstream():
    wf = wf_of(EDGES, extra=("alone",))
    assert upstream(wf, "join") == {"src", "left", "right"}
    assert downstream(wf, "join") == {"tail"}
    assert downstream(wf, "src") == {"left", "right", "join", "tail"}
    assert upstream(wf, "src") == set()
    assert upstream(wf, "alone") == set() and downstream(wf, "alone") == set()
    assert upstream(wf, "y") == {"x"}


def test_graph_can_be_passed_in():
    wf = wf_of(EDGES)
    g = dependency_graph(wf)
    assert topological_order(wf, g) == topological_order(wf)
    assert generations(wf, g) == generations(wf)
    assert upstream(wf, "tail", g) == {"src", "left", "right", "join"}
    assert downstream(wf, "x", g) == {"y"}


def test_dependency_graph_keeps_connections_on_edges():
    wf = load(fixture("multiinput.nc"))
    g = dependency_graph(wf)
    assert set(g.nodes) == set(wf.nodes)
    assert g.number_of_edges() == 4
    assert g.edges["float", "multiply"]["connections"] == ["connection"]
    wf2 = wf_of([("a", "b"), ("a", "b")])
    assert dependency_graph(wf2).edges["a", "b"]["connections"] == ["connection.0", "connection.1"]


def test_cycle_error_names_the_cycle():
    wf = load(fixture("cycle.nc"))
    with pytest.raises(CycleError) as info:
        topological_order(wf)
    assert info.value.cycle == ["alpha", "beta", "gamma"]
    assert str(info.value) == "cycle: alpha -> beta -> gamma -> alpha"
    assert isinstance(info.value, ValueError)
    with pytest.raises(CycleError) as info:
        generations(wf)
    assert info.value.cycle == ["alpha", "beta", "gamma"]


def test_cycle_error_names_only_the_cycle_not_the_path_to_it():
    wf = wf_of([("a", "b"), ("b", "c"), ("c", "d"), ("d", "c"), ("d", "e")])
    with pytest.raises(CycleError) as info:
        topological_order(wf)
    assert info.value.cycle == ["c", "d"]
    assert str(info.value) == "cycle: c -> d -> c"


def test_cycle_error_on_self_loop():
    wf = wf_of([("a", "b"), ("b", "b")])
    with pytest.raises(CycleError) as info:
        topological_order(wf)
    assert info.value.cycle == ["b"]
    assert str(info.value) == "cycle: b -> b"


def test_reach_works_on_cyclic_graphs():
    wf = load(fixture("cycle.nc"))
    assert upstream(wf, "alpha") == {"beta", "gamma"}
    assert downstream(wf, "alpha") == {"beta", "gamma"}


def test_adjacency_matches_the_networkx_view_and_finds_descendants():
    from nodeflow.model import Adjacency
    from nodeflow.model.graph import cycles, is_acyclic

    edges = [("a", "b"), ("b", "c"), ("a", "c"), ("c", "d")]
    wf = loads(text(edges_workflow(edges)))
    adj = Adjacency(wf)
    g = dependency_graph(wf)
    assert {n: set(s) for n, s in adj.succ.items()} == {n: set(g.successors(n)) for n in g}
    assert adj.descendants("a") == {"b", "c", "d"} and adj.descendants("d") == set()
    assert topological_order(wf, adj) == topological_order(wf, g) == ["a", "b", "c", "d"]
    assert is_acyclic(adj) and cycles(adj) == []
    adj.remove("c")
    assert adj.descendants("a") == {"b"} and "c" not in adj.pred["d"]
    cyclic = loads(text(edges_workflow(edges + [("d", "a")])))
    assert not is_acyclic(Adjacency(cyclic))
    assert cycles(Adjacency(cyclic)) == cycles(dependency_graph(cyclic)) == [["a", "b", "c", "d"], ["a", "c", "d"]]
