"""Lossless round trips of Nodeworks files: load → dumps/save → same JSON, same key order, same types."""
from __future__ import annotations

import json
import math
import os

import pytest

import nodeflow
from nodeflow.model import Node, Terminal, Workflow, dumps, load, loads, save

from model_helpers import (FLOAT, VALID_FIXTURES, assert_same_json, conn, fixture, fixture_json, float_node,
                           power_node, term, text)


@pytest.mark.parametrize("name", VALID_FIXTURES)
def test_fixture_dumps_back_exactly(name):
    original = fixture_json(name)
    wf = load(fixture(name))
    assert_same_json(json.loads(dumps(wf)), original)
    # compact output carries the same JSON
    assert_same_json(json.loads(dumps(wf, indent=None)), original)


@pytest.mark.parametrize("name", VALID_FIXTURES)
def test_fixture_load_save_load(name, tmp_path):
    original = fixture_json(name)
    wf = load(fixture(name))
    out = tmp_path / name
    save(wf, out)
    assert wf.source_path == os.fspath(out)
    with open(out, encoding="utf-8") as f:
        assert_same_json(json.load(f), original)
    again = load(out)
    assert again.source_path == os.fspath(out)
    assert dumps(again) == dumps(wf)
    # saving twice gives the same bytes
    save(again, tmp_path / "second.nc")
    assert (tmp_path / "second.nc").read_bytes() == out.read_bytes()


def test_fixture_list_is_complete():
    # every valid fixture is covered by the parametrized round trips above
    assert {"basic.nc", "unknown_types.nc", "vendor_fields.nc", "unicode.nc", "multiinput.nc",
            "geometry_state.nc", "numbers.nc", "interleaved.nc", "minimal_fields.nc", "trig_plot.nc",
            "cycle.nc", "dtype_error.nc"} <= set(VALID_FIXTURES)


def test_basic_file_reads_into_model():
    wf = load(fixture("basic.nc"))
    assert list(wf.nodes) == ["float", "integer", "multiply", "power"]
    assert list(wf.connections) == ["connection", "connection.0", "connection.1"]
    mult = wf.nodes["multiply"]
    assert mult.path == ("math", "Multiply")
    assert mult.type_name == "math/Multiply"
    assert mult.name == "Multiply"
    assert mult.terminals["input"].multiinput and mult.terminals["input"].is_input
    assert mult.terminals["result"].is_output and not mult.terminals["result"].is_input
    assert mult.terminals["result"].value == 271875.0
    assert mult.terminals["result"].dtype == FLOAT
    assert [n for n, _ in mult.inputs()] == ["input"]
    assert [n for n, _ in mult.outputs()] == ["result"]
    c = wf.connections["connection.1"]
    assert (c.input, c.output) == (("multiply", "result"), ("power", "base"))
    assert (c.source, c.target) == ("multiply", "power")
    assert c.describe() == "multiply.result -> power.base"
    assert [x.uniquename for x in wf.incoming("multiply")] == ["connection", "connection.0"]
    assert [x.uniquename for x in wf.outgoing("multiply")] == ["connection.1"]


def test_unknown_node_types_keep_every_field():
    original = fixture_json("unknown_types.nc")
    wf = load(fixture("unknown_types.nc"))
    assert wf.nodes["my string node"].path == ("my custom nodes", "my string node")
    assert wf.nodes["frobnicate"].path == ("acme", "deep", "Frobnicate")
    knob = wf.nodes["frobnicate"].terminals["knob"]
    assert knob.flipped is True and knob.value == 11 and knob.opts["detents"] == [0, 5, 11]
    assert knob.dtype == "<class 'acme.Knob'>"
    assert_same_json(json.loads(dumps(wf)), original)


def test_vendor_fields_are_kept_in_place():
    original = fixture_json("vendor_fields.nc")
    wf = load(fixture("vendor_fields.nc"))
    n = wf.nodes["float"]
    assert n.extra == {"acmeColor": "#ff8800", "x-notes": original["float"]["x-notes"], "zz_last": None}
    t = n.terminals["float"]
    assert t.extra == {"tooltip": "a float", "acme": [1, 2.0, {"k": "v"}]}
    assert t.opts["unit"] == "m/s"
    c = wf.connections["connection"]
    assert c.extra == {"color": [255, 0, 0], "weight": 2, "label": {"text": "speed", "visible": False}}
    out = json.loads(dumps(wf))
    assert list(out["float"]) == list(original["float"])  # acmeColor still between pos and path
    assert list(out["float"]["terminals"]["float"]) == ["tooltip", "value", "acme", "flipped", "opts"]
    assert list(out["connection"])[0] == "color"
    assert_same_json(out, original)


def test_unicode_uniquenames():
    original = fixture_json("unicode.nc")
    wf = load(fixture("unicode.nc"))
    assert list(wf.nodes) == ["größe", "节点", "ünïcødé.0"]
    assert wf.nodes["größe"].name == "Größe"
    assert wf.connections["connection"].output == ("节点", "输入")
    assert wf.nodes["节点"].terminals["值"].value == "π ≈ 3.14159 🚀"
    s = dumps(wf)
    assert "größe" in s and "节点" in s and "🚀" in s  # written as UTF-8, not \u escapes
    assert_same_json(json.loads(s), original)


def test_unicode_file_saved_as_utf8(tmp_path):
    wf = load(fixture("unicode.nc"))
    out = tmp_path / "größe 节点.nc"
    save(wf, out)
    raw = out.read_bytes()
    assert "节点".encode("utf-8") in raw
    assert_same_json(json.loads(raw.decode("utf-8")), fixture_json("unicode.nc"))


def test_multiinput_terminal_with_several_connections():
    wf = load(fixture("multiinput.nc"))
    into = wf.connections_into()
    assert [c.uniquename for c in into[("multiply", "input")]] == [
        "connection", "connection.0", "connection.1", "connection.2"]
    assert [c.input[0] for c in into[("multiply", "input")]] == ["float", "float.0", "float.1", "float.2"]
    assert_same_json(json.loads(dumps(wf)), fixture_json("multiinput.nc"))


def test_geometry_custom_state_and_feedback():
    original = fixture_json("geometry_state.nc")
    wf = load(fixture("geometry_state.nc"))
    p, m = wf.nodes["power"], wf.nodes["multiply"]
    assert p.geometry == [260.5, 140]
    assert p.customState["history"][1] == {"run": 2, "ok": False, "why": None}
    assert p.settings == {"executor": "slurm", "retries": 2, "resources": {"cpus": 4, "mem": "8G"},
                          "timeout": 3600.0}
    assert (m.tunnel, m.forcerun, m.hidden) == (True, True, True)
    assert wf.connections["connection"].feedback is False
    assert wf.connections["connection.0"].feedback is True
    assert wf.connections["connection.0"].line == "line"
    assert wf.connections["connection"].controlpoints == [[120.0, 40.0], [180, 60]]
    assert_same_json(json.loads(dumps(wf)), original)


def test_numbers_keep_their_json_types():
    wf = load(fixture("numbers.nc"))

    def value(n, t):
        return wf.nodes[n].terminals[t].value

    assert type(value("integer", "int")) is int and value("integer", "int") == 3
    assert type(value("float", "float")) is float and value("float", "float") == 3.0
    assert value("float.0", "float") == 1e-300
    v = value("float.1", "float")
    assert v == 0.0 and math.copysign(1.0, v) == -1.0
    assert value("float.2", "float") == 1.7976931348623157e308
    assert value("integer.0", "int") == 12345678901234567890123
    assert value("list", "value") == [1, 2.0, 3e-05, -4, "five", None, True, [6, [7.0]]]
    assert value("dict", "value") == {"a": 1, "b": [1.0, {"c": None}], "d": {"e": 0.5, "f": 5}}
    assert wf.nodes["integer"].pos == [100, -20] and type(wf.nodes["integer"].pos[0]) is int
    assert wf.nodes["dict"].layer == 2.5
    s = dumps(wf)
    for token in ('"value": 3,', '"value": 3.0,', "1e-300", "-0.0", "12345678901234567890123", "3e-05"):
        assert token in s, token
    assert_same_json(json.loads(s), fixture_json("numbers.nc"))


def test_interleaved_nodes_and_connections_keep_file_order():
    original = fixture_json("interleaved.nc")
    wf = load(fixture("interleaved.nc"))
    assert wf.key_order == tuple(original)
    assert list(wf.nodes) == ["float", "multiply", "power"]
    # the first connection names nodes that come later in the file
    assert wf.connections["connection.0"].input == ("multiply", "result")
    out = json.loads(dumps(wf))
    assert list(out) == ["connection.0", "float", "connection", "multiply", "connection.1", "power"]
    assert_same_json(out, original)


def test_missing_optional_fields_are_not_added():
    original = fixture_json("minimal_fields.nc")
    wf = load(fixture("minimal_fields.nc"))
    p = wf.nodes["power"]
    assert p.name == "power" and (p.tunnel, p.layer, p.geometry, p.customState) == (False, 0, None, None)
    assert wf.nodes["power"].terminals["exponent"].opts == {}
    out = json.loads(dumps(wf))
    assert list(out["float"]) == ["type", "name", "uniquename", "pos", "path", "terminals"]
    assert list(out["power"]) == ["type", "path", "terminals"]
    assert list(out["power"]["terminals"]["exponent"]) == ["value"]
    assert list(out["power"]["terminals"]["result"]) == ["opts"]
    assert list(out["connection"]) == ["type", "input", "output"]
    for field in ("tunnel", "forcerun", "hidden", "layer", "geometry", "customState"):
        assert field not in out["float"] and field not in out["power"]
    assert_same_json(out, original)


def test_changed_optional_field_is_written_after_the_file_fields():
    wf = load(fixture("minimal_fields.nc"))
    wf.nodes["power"].tunnel = True
    wf.nodes["power"].geometry = [100.0, 50.0]
    wf.nodes["float"].set_settings({"executor": "local"})
    wf.connections["connection"].feedback = True
    out = json.loads(dumps(wf))
    assert list(out["power"]) == ["type", "path", "terminals", "tunnel", "geometry"]
    assert out["power"]["geometry"] == [100.0, 50.0]
    assert out["float"]["customState"] == {"nodeflow": {"executor": "local"}}
    assert list(out["connection"]) == ["type", "input", "output", "feedback"]
    assert out["connection"]["feedback"] is True


def test_edits_change_only_what_was_edited():
    original = fixture_json("basic.nc")
    wf = load(fixture("basic.nc"))
    wf.nodes["float"].terminals["float"].value = 2.0
    out = json.loads(dumps(wf))
    assert out["float"]["terminals"]["float"]["value"] == 2.0
    out["float"]["terminals"]["float"]["value"] = 3125.0
    assert_same_json(out, original)


def test_stored_uniquename_that_differs_from_key_is_kept():
    d = {"float": float_node("float") | {"uniquename": "float.7"},
         "power": power_node("power"),
         "c": conn("c", ("float", "float"), ("power", "base"), uniquename="connection.3")}
    wf = loads(text(d))
    assert wf.nodes["float"].stored_uniquename == "float.7"
    assert wf.connections["c"].stored_uniquename == "connection.3"
    assert_same_json(json.loads(dumps(wf)), d)


def test_empty_name_is_kept():
    d = {"float": float_node("float") | {"name": ""}}
    assert_same_json(json.loads(dumps(loads(text(d)))), d)


def test_null_geometry_and_custom_state_are_kept():
    d = {"float": float_node("float") | {"geometry": None, "customState": None}}
    assert_same_json(json.loads(dumps(loads(text(d)))), d)


def test_terminal_value_list_and_dict():
    d = {"n": float_node("n") | {"terminals": {
        "l": term("out", "<class 'list'>", [1, 2.5, "x", [None, {"y": 1e-300}]]),
        "d": term("out", "<class 'dict'>", {"z": 1, "a": {"nested": [3, 3.0]}}),
        "e": term("out", "None", [])}}}
    wf = loads(text(d))
    assert wf.nodes["n"].terminals["d"].value == {"z": 1, "a": {"nested": [3, 3.0]}}
    assert_same_json(json.loads(dumps(wf)), d)


def test_bytes_and_bom_are_accepted(tmp_path):
    raw = fixture("basic.nc").read_bytes()
    assert_same_json(json.loads(dumps(loads(raw))), fixture_json("basic.nc"))
    p = tmp_path / "bom.nc"
    p.write_bytes(b"\xef\xbb\xbf" + raw)
    assert_same_json(json.loads(dumps(load(p))), fixture_json("basic.nc"))


def test_numpy_values_are_written_as_lists():
    np = pytest.importorskip("numpy")
    wf = load(fixture("trig_plot.nc"))
    wf.nodes["range"].terminals["range"].value = np.arange(0.0, 1.0, 0.5)
    wf.nodes["trig"].terminals["array"].value = np.float64(0.25)
    out = json.loads(dumps(wf))
    assert out["range"]["terminals"]["range"]["value"] == [0.0, 0.5]
    assert out["trig"]["terminals"]["array"]["value"] == 0.25


def test_new_workflow_is_written_in_nodeworks_field_order():
    wf = Workflow()
    wf.add_node(Node("float", ("types", "Float"), name="Float",
                     terminals={"float": Terminal(1.5, opts={"out": True, "dtype": FLOAT})}))
    wf.add_node(Node("power", ("math", "Power"), name="Power",
                     terminals={"base": Terminal(1.0, opts={"in": True, "dtype": FLOAT})}))
    c = wf.connect(("float", "float"), ("power", "base"))
    assert c.uniquename == "connection"
    assert wf.unique_name("float") == "float.0"
    assert wf.unique_name("Connection") == "connection.0"
    out = json.loads(dumps(wf))
    assert list(out) == ["float", "power", "connection"]
    assert list(out["float"]) == ["type", "name", "uniquename", "pos", "path", "terminals", "tunnel", "forcerun",
                                  "hidden", "customState", "layer"]
    assert list(out["float"]["terminals"]["float"]) == ["value", "flipped", "opts"]
    assert out["connection"] == {"type": "Connection", "name": "connection", "uniquename": "connection",
                                 "line": "cubic", "input": ["float", "float"], "output": ["power", "base"],
                                 "controlpoints": []}
    # and what was written reads back into the same file
    assert dumps(loads(dumps(wf))) == dumps(wf)


def test_workflow_edits():
    wf = load(fixture("basic.nc"))
    with pytest.raises(ValueError):
        wf.add_node(Node("float", ("types", "Float")))
    with pytest.raises(ValueError):
        wf.connect(("float", "nope"), ("power", "base"))
    node, gone = wf.remove_node("multiply")
    assert node.uniquename == "multiply"
    assert sorted(c.uniquename for c in gone) == ["connection", "connection.0", "connection.1"]
    assert wf.connections == {}
    out = json.loads(dumps(wf))
    assert list(out) == ["float", "integer", "power"]
    removed = wf.connect(("float", "float"), ("power", "base"))
    assert wf.disconnect(removed.uniquename) is removed


def test_package_top_exports_the_file_api(tmp_path):
    wf = nodeflow.load(fixture("basic.nc"))
    nodeflow.save(wf, tmp_path / "x.nc")
    assert nodeflow.loads((tmp_path / "x.nc").read_text(encoding="utf-8")).nodes.keys() == wf.nodes.keys()
    assert nodeflow.dumps(wf) == dumps(wf)
    assert isinstance(wf, nodeflow.Workflow)
    assert isinstance(wf.connections["connection"], nodeflow.Connection)
    assert isinstance(wf.nodes["float"], nodeflow.Node)
    assert isinstance(wf.nodes["float"].terminals["float"], nodeflow.Terminal)


def test_unique_names_stay_unique_and_freed_names_come_back():
    wf = Workflow()

    def add_float(name=None):
        node = Node(name or wf.unique_name("float"), ("types", "Float"), name="Float",
                    terminals={"float": Terminal(1.0, opts={"out": True, "dtype": FLOAT})})
        return wf.add_node(node).uniquename

    made = [add_float() for _ in range(5)]
    assert made == ["float", "float.0", "float.1", "float.2", "float.3"]
    assert wf.unique_name("float") == wf.unique_name("float") == "float.4"  # asking twice takes nothing
    wf.nodes["float.4"] = wf.nodes["float.3"]  # put there behind unique_name's back
    wf.nodes["float.5"] = wf.nodes["float.3"]
    assert add_float() == "float.6"
    wf.remove_node("float.0")
    assert add_float() == "float.0"  # a freed name is given again, as Nodeworks does
    del wf.nodes["float.1"]  # the GUI's undo pops names itself, then says so
    wf.forget_name_hints()
    assert add_float() == "float.1"
    for i in range(3):
        wf.connect(("float", "float"), ("float", "float"))
    assert sorted(wf.connections) == ["connection", "connection.0", "connection.1"]
    wf.disconnect("connection.0")
    assert wf.connect(("float", "float"), ("float", "float")).uniquename == "connection.0"
