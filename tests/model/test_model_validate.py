"""Validation rules: a list of Problems, never an exception."""
from __future__ import annotations

import json

import pytest

import nodeflow
from nodeflow.model import ERROR, WARNING, Connection, Problem, dumps, load, loads, save, validate
from nodeflow.model.validate import dtypes_compatible, errors

from model_helpers import (ANY, FLOAT, INT, STR, any_node, assert_same_json, conn, edges_workflow, fixture,
                           fixture_json, float_node, int_node, multiply_node, node, power_node, string_node, term,
                           text)

KNOWN = frozenset({("types", "Float"), ("types", "Integer"), ("types", "String"), ("math", "Power"),
                   ("math", "Multiply"), ("my custom nodes", "passthrough")})


def problems_of(d: dict, known=KNOWN) -> list[Problem]:
    return validate(loads(text(d)), known_types=known)


def codes(problems) -> list[str]:
    return [p.code for p in problems]


def test_valid_file_has_no_problems():
    assert validate(load(fixture("basic.nc")), known_types=KNOWN) == []
    assert validate(load(fixture("multiinput.nc")), known_types=KNOWN) == []
    assert validate(load(fixture("interleaved.nc")), known_types=KNOWN) == []


def test_known_types_none_skips_the_type_check():
    assert validate(load(fixture("unknown_types.nc"))) == []
    assert validate(load(fixture("unknown_types.nc")), known_types=None) == []


# -- direction -----------------------------------------------------------------

def test_connection_starting_at_an_input_terminal():
    d = {"a": power_node("a"), "b": power_node("b"),
         "connection": conn("connection", ("a", "base"), ("b", "exponent"))}
    [p] = problems_of(d)
    assert (p.severity, p.code, p.uniquename) == (ERROR, "direction", "connection")
    assert p.nodes == ("a", "b")
    assert p.message == "starts at a.base, which is not an output terminal"
    assert p.is_error
    assert str(p) == "connection: starts at a.base, which is not an output terminal"


def test_connection_ending_at_an_output_terminal():
    d = {"f": float_node("f"), "g": float_node("g"), "c": conn("c", ("f", "float"), ("g", "float"))}
    [p] = problems_of(d)
    assert (p.severity, p.code, p.uniquename) == (ERROR, "direction", "c")
    assert p.message == "ends at g.float, which is not an input terminal"


def test_connection_backwards_gives_both_direction_errors():
    d = {"f": float_node("f"), "p": power_node("p"), "c": conn("c", ("p", "base"), ("f", "float"))}
    ps = problems_of(d)
    assert codes(ps) == ["direction", "direction"]
    assert "starts at p.base" in ps[0].message and "ends at f.float" in ps[1].message


def test_terminal_without_opts_is_neither_input_nor_output():
    d = {"a": node("a", ("types", "Float"), {"x": {"value": 1}}),
         "b": node("b", ("types", "Float"), {"y": {"value": 2}}), "c": conn("c", ("a", "x"), ("b", "y"))}
    assert codes(problems_of(d)) == ["direction", "direction"]


# -- how many connections a terminal takes -------------------------------------------

def test_two_connections_into_a_single_input_is_an_error():
    d = {"f": float_node("f"), "g": float_node("g"), "p": power_node("p"),
         "c1": conn("c1", ("f", "float"), ("p", "base")), "c2": conn("c2", ("g", "float"), ("p", "base"))}
    [p] = problems_of(d)
    assert (p.severity, p.code, p.uniquename, p.nodes) == (ERROR, "multi", "p", ("p",))
    assert p.message == "terminal 'base' takes one connection but has 2: c1, c2"


def test_several_connections_into_a_multiinput_are_fine():
    d = {"f": float_node("f"), "g": float_node("g"), "h": int_node("h"), "m": multiply_node("m"),
         "c1": conn("c1", ("f", "float"), ("m", "input")), "c2": conn("c2", ("g", "float"), ("m", "input")),
         "c3": conn("c3", ("h", "int"), ("m", "input"))}
    assert problems_of(d) == []


def test_one_output_may_feed_many_inputs():
    d = {"f": float_node("f"), "p": power_node("p"), "q": power_node("q"),
         "c1": conn("c1", ("f", "float"), ("p", "base")), "c2": conn("c2", ("f", "float"), ("p", "exponent")),
         "c3": conn("c3", ("f", "float"), ("q", "base"))}
    assert problems_of(d) == []


def test_the_same_connection_twice_into_a_single_input():
    d = {"f": float_node("f"), "p": power_node("p"),
         "c1": conn("c1", ("f", "float"), ("p", "base")), "c2": conn("c2", ("f", "float"), ("p", "base"))}
    assert codes(problems_of(d)) == ["multi"]


# -- dtypes -----------------------------------------------------------------------

def test_str_into_float_is_an_error():
    d = {"s": string_node("s", "x"), "p": power_node("p"), "c": conn("c", ("s", "string"), ("p", "base"))}
    [p] = problems_of(d)
    assert (p.severity, p.code, p.uniquename, p.nodes) == (ERROR, "dtype", "c", ("s", "p"))
    assert p.message == "type mismatch: s.string gives str but p.base takes float"


def test_dtype_error_fixture():
    [p] = validate(load(fixture("dtype_error.nc")), known_types=KNOWN)
    assert p.code == "dtype" and p.uniquename == "connection"


def test_int_into_float_is_allowed():
    d = {"i": int_node("i", 3), "p": power_node("p"), "c": conn("c", ("i", "int"), ("p", "base"))}
    assert problems_of(d) == []


def test_float_into_int_is_an_error():
    d = {"f": float_node("f"), "n": node("n", ("my custom nodes", "passthrough"), {"input": term("in", INT)}),
         "c": conn("c", ("f", "float"), ("n", "input"))}
    [p] = problems_of(d)
    assert p.code == "dtype" and "gives float but n.input takes int" in p.message


@pytest.mark.parametrize("src_dtype, dst_dtype", [(ANY, FLOAT), (STR, ANY), (ANY, ANY),
                                                 ("<class 'numpy.ndarray'>", ANY)])
def test_none_matches_anything(src_dtype, dst_dtype):
    d = {"a": node("a", ("my custom nodes", "passthrough"), {"output": term("out", src_dtype)}),
         "b": node("b", ("my custom nodes", "passthrough"), {"input": term("in", dst_dtype)}),
         "c": conn("c", ("a", "output"), ("b", "input"))}
    assert problems_of(d) == []


def test_missing_dtype_matches_anything():
    d = {"a": node("a", ("my custom nodes", "passthrough"), {"output": {"opts": {"out": True}}}),
         "b": power_node("b"), "c": conn("c", ("a", "output"), ("b", "base"))}
    assert problems_of(d) == []


def test_dtypes_compatible_table():
    assert dtypes_compatible(INT, FLOAT)
    assert not dtypes_compatible(FLOAT, INT)
    assert not dtypes_compatible(STR, FLOAT)
    assert dtypes_compatible(ANY, STR) and dtypes_compatible(STR, ANY)
    assert dtypes_compatible("<class 'numpy.ndarray'>", "<class 'numpy.ndarray'>")
    assert not dtypes_compatible("<class 'numpy.ndarray'>", FLOAT)


# -- unknown node types ---------------------------------------------------------------

def test_unknown_type_is_a_warning_and_the_file_still_saves(tmp_path):
    wf = load(fixture("unknown_types.nc"))
    ps = validate(wf, known_types=KNOWN)
    assert [(p.severity, p.code, p.uniquename) for p in ps] == [
        (WARNING, "unknown-type", "my string node"), (WARNING, "unknown-type", "frobnicate")]
    assert "'acme/deep/Frobnicate'" in ps[1].message
    assert not any(p.is_error for p in ps) and errors(ps) == []
    save(wf, tmp_path / "out.nc")
    assert_same_json(json.loads((tmp_path / "out.nc").read_text(encoding="utf-8")), fixture_json("unknown_types.nc"))


def test_top_level_validate_uses_the_library(tmp_path):
    wf = load(fixture("basic.nc"))
    assert nodeflow.validate(wf) == []
    wf2 = load(fixture("unknown_types.nc"))
    ps = nodeflow.validate(wf2)
    assert {(p.severity, p.code, p.uniquename) for p in ps} == {
        (WARNING, "unknown-type", "my string node"), (WARNING, "unknown-type", "frobnicate")}


def test_top_level_validate_with_a_registry():
    from nodeflow.library import NodeRegistry

    empty = NodeRegistry()
    ps = nodeflow.validate(load(fixture("basic.nc")), registry=empty)
    assert codes(ps) == ["unknown-type"] * 4

    def no_floats(wf):
        return [Problem(ERROR, k, "floats are banned", "house-rule") for k, n in wf.nodes.items()
                if n.path == ("types", "Float")]

    empty.add_validation_rule(no_floats)
    ps = nodeflow.validate(load(fixture("basic.nc")), registry=empty)
    assert [(p.code, p.uniquename) for p in ps if p.code == "house-rule"] == [("house-rule", "float")]


def test_extra_rules():
    wf = load(fixture("basic.nc"))
    extra = [lambda wf: [Problem(WARNING, "power", "be careful", "note")]]
    assert validate(wf, known_types=KNOWN, extra_rules=extra) == [Problem(WARNING, "power", "be careful", "note")]


def test_uniquename_field_differing_from_key_is_a_warning():
    d = {"float": float_node("float") | {"uniquename": "float.3"}}
    [p] = problems_of(d)
    assert (p.severity, p.code, p.uniquename) == (WARNING, "uniquename", "float")


# -- cycles ----------------------------------------------------------------------------

def test_cycle_reported_once_in_order_from_the_least_name():
    wf = load(fixture("cycle.nc"))
    ps = validate(wf, known_types=KNOWN)
    assert [(p.severity, p.code, p.uniquename, p.message) for p in ps] == [
        (ERROR, "cycle", "alpha", "cycle: alpha -> beta -> gamma -> alpha")]
    assert ps[0].nodes == ("alpha", "beta", "gamma")


def test_cycle_direction_is_kept():
    # alpha -> gamma -> beta -> alpha: rotating must not reverse it
    d = edges_workflow([("gamma", "beta"), ("beta", "alpha"), ("alpha", "gamma")])
    [p] = problems_of(d)
    assert p.message == "cycle: alpha -> gamma -> beta -> alpha"


def test_cycle_with_several_connections_between_the_same_nodes_is_reported_once():
    d = edges_workflow([("a", "b"), ("a", "b"), ("b", "a")])
    ps = problems_of(d)
    assert [p.message for p in ps if p.code == "cycle"] == ["cycle: a -> b -> a"]


def test_two_separate_cycles_are_both_reported():
    d = edges_workflow([("b", "a"), ("a", "b"), ("zeta", "eta"), ("eta", "theta"), ("theta", "zeta"),
                        ("b", "eta")], extra_nodes=("lonely",))
    ps = problems_of(d)
    assert sorted(p.message for p in ps if p.code == "cycle") == [
        "cycle: a -> b -> a", "cycle: eta -> theta -> zeta -> eta"]
    assert all(p.severity == ERROR for p in ps)


def test_overlapping_cycles_are_each_reported():
    d = edges_workflow([("a", "b"), ("b", "a"), ("b", "c"), ("c", "b")])
    ps = problems_of(d)
    assert sorted(p.message for p in ps if p.code == "cycle") == ["cycle: a -> b -> a", "cycle: b -> c -> b"]


def test_self_loop_is_reported():
    d = {"m": multiply_node("m"), "loop": conn("loop", ("m", "result"), ("m", "input"))}
    [p] = problems_of(d)
    assert (p.severity, p.code, p.uniquename, p.nodes) == (ERROR, "self-loop", "loop", ("m",))
    assert "m.result -> m.input" in p.message


def test_self_loop_inside_a_cycle():
    d = edges_workflow([("a", "a"), ("a", "b"), ("b", "a")])
    ps = problems_of(d)
    assert sorted(codes(ps)) == ["cycle", "self-loop"]
    assert [p.message for p in ps if p.code == "cycle"] == ["cycle: a -> b -> a"]


def test_unicode_cycle_names():
    d = edges_workflow([("节点", "größe"), ("größe", "节点")])
    [p] = problems_of(d)
    assert p.message == "cycle: größe -> 节点 -> größe"  # "g" < "节" in code point order


def test_many_cycles_are_capped_but_reported():
    # a complete digraph on 7 nodes has thousands of elementary cycles
    names = [f"n{i}" for i in range(7)]
    d = edges_workflow([(a, b) for a in names for b in names if a != b])
    ps = validate(loads(text(d)), known_types=KNOWN)
    cyc = [p for p in ps if p.code == "cycle"]
    assert 1 <= len(cyc) <= 100
    assert len({p.message for p in cyc}) == len(cyc)


# -- never raises ----------------------------------------------------------------------

def test_everything_wrong_at_once_does_not_raise():
    d = {"s": string_node("s"), "p": power_node("p"), "q": power_node("q"), "m": multiply_node("m"),
         "u": any_node("u", ("nowhere", "Nothing")),
         "c1": conn("c1", ("s", "string"), ("p", "base")),            # dtype
         "c2": conn("c2", ("p", "base"), ("q", "result")),            # direction twice + dtype fine
         "c3": conn("c3", ("m", "result"), ("m", "input")),           # self-loop
         "c4": conn("c4", ("p", "result"), ("q", "base")),
         "c5": conn("c5", ("q", "result"), ("p", "exponent")),        # cycle p <-> q
         "c6": conn("c6", ("u", "output"), ("p", "exponent")),        # second into p.exponent
         }
    ps = problems_of(d)
    assert set(codes(ps)) == {"dtype", "direction", "self-loop", "cycle", "multi", "unknown-type"}
    assert all(isinstance(p, Problem) for p in ps)


def test_dangling_connection_made_in_memory_is_a_problem_not_an_exception():
    wf = load(fixture("basic.nc"))
    wf.connections["ghost"] = Connection("ghost", ("float", "float"), ("nowhere", "input"))
    wf.connections["ghost.0"] = Connection("ghost.0", ("float", "nothing"), ("multiply", "input"))
    del wf.nodes["integer"]  # leaves connection.0 pointing at a node that is gone
    ps = validate(wf, known_types=KNOWN)
    assert sorted((p.uniquename, p.code) for p in ps) == [
        ("connection.0", "dangling"), ("ghost", "dangling"), ("ghost.0", "dangling")]
    assert all(p.is_error for p in ps)


def test_odd_opts_do_not_raise():
    d = {"a": node("a", ("types", "Float"), {"x": {"value": 1, "opts": {"out": True, "dtype": 5}},
                                             "y": {"value": 1, "opts": {"in": True, "dtype": None,
                                                                        "multiinput": False}}}),
         "b": node("b", ("types", "Float"), {"y": {"opts": {"in": True, "dtype": ["list"]}}}),
         "c": conn("c", ("a", "x"), ("b", "y")), "c2": conn("c2", ("a", "x"), ("a", "y"))}
    ps = problems_of(d)
    assert "dtype" in codes(ps) and "self-loop" in codes(ps)


def test_saving_a_workflow_with_problems_is_allowed(tmp_path):
    wf = load(fixture("cycle.nc"))
    assert errors(validate(wf)) != []
    save(wf, tmp_path / "c.nc")
    assert dumps(load(tmp_path / "c.nc")) == dumps(wf)
