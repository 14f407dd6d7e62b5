"""Every way a workflow file can fail to load raises one WorkflowFileError naming the place."""
from __future__ import annotations

import os

import pytest

import nodeflow
from nodeflow.model import WorkflowFileError, load, loads

from model_helpers import conn, fixture, float_node, power_node, text


def base() -> dict:
    return {"float": float_node("float", 2.0), "power": power_node("power"),
            "connection": conn("connection", ("float", "float"), ("power", "base"))}


def test_base_loads():
    wf = loads(text(base()))
    assert list(wf.nodes) == ["float", "power"] and list(wf.connections) == ["connection"]


def _set(*path, value):
    def mutate(d):
        obj = d
        for k in path[:-1]:
            obj = obj[k]
        obj[path[-1]] = value
    return mutate


def _del(*path):
    def mutate(d):
        obj = d
        for k in path[:-1]:
            obj = obj[k]
        del obj[path[-1]]
    return mutate


# (id, mutation of base(), uniquename at fault, field at fault, text expected in the message)
CASES = [
    # a value that is neither a Node nor a Connection
    ("value-list", _set("float", value=[1, 2]), "float", None, "array"),
    ("value-string", _set("float", value="Node"), "float", None, "string"),
    ("value-null", _set("power", value=None), "power", None, "null"),
    ("type-missing", _del("float", "type"), "float", "type", "missing"),
    ("type-wrong", _set("float", "type", value="Nod"), "float", "type", '"Nod"'),
    ("type-lowercase", _set("connection", "type", value="connection"), "connection", "type", "expected"),
    ("type-number", _set("float", "type", value=5), "float", "type", "expected"),
    ("type-null", _set("float", "type", value=None), "float", "type", "missing"),
    ("node-typed-as-connection", _set("float", "type", value="Connection"), "float", "input", "missing"),
    # required node fields
    ("path-missing", _del("power", "path"), "power", "path", "missing"),
    ("path-null", _set("power", "path", value=None), "power", "path", "missing"),
    ("path-string", _set("power", "path", value="math/Power"), "power", "path", "list of strings"),
    ("path-empty", _set("power", "path", value=[]), "power", "path", "non-empty"),
    ("path-not-str", _set("power", "path", value=["math", 7]), "power", "path", "list of strings"),
    ("path-nested", _set("power", "path", value=[["math", "Power"]]), "power", "path", "list of strings"),
    ("terminals-missing", _del("power", "terminals"), "power", "terminals", "missing"),
    ("terminals-list", _set("power", "terminals", value=[]), "power", "terminals", "object"),
    ("terminals-string", _set("power", "terminals", value="base"), "power", "terminals", "object"),
    ("terminal-number", _set("power", "terminals", "base", value=1.0), "power", "terminals.base", "object"),
    ("terminal-null", _set("power", "terminals", "exponent", value=None), "power", "terminals.exponent",
     "object"),
    ("opts-list", _set("power", "terminals", "base", "opts", value=[]), "power", "terminals.base.opts",
     "object"),
    ("opts-null", _set("float", "terminals", "float", "opts", value=None), "float", "terminals.float.opts",
     "object"),
    ("opts-in-not-bool", _set("power", "terminals", "base", "opts", "in", value="true"), "power",
     "terminals.base.opts.in", "true or false"),
    ("opts-out-not-bool", _set("float", "terminals", "float", "opts", "out", value=1), "float",
     "terminals.float.opts.out", "true or false"),
    ("opts-multiinput-not-bool", _set("power", "terminals", "base", "opts", "multiinput", value=None), "power",
     "terminals.base.opts.multiinput", "true or false"),
    ("flipped-not-bool", _set("power", "terminals", "base", "flipped", value=0), "power",
     "terminals.base.flipped", "true or false"),
    # wrong types of optional node fields
    ("pos-one-number", _set("float", "pos", value=[1.0]), "float", "pos", "two numbers"),
    ("pos-three-numbers", _set("float", "pos", value=[1.0, 2.0, 3.0]), "float", "pos", "two numbers"),
    ("pos-string-number", _set("float", "pos", value=[1.0, "2"]), "float", "pos", "two numbers"),
    ("pos-bool", _set("float", "pos", value=[True, 0]), "float", "pos", "two numbers"),
    ("pos-null", _set("float", "pos", value=None), "float", "pos", "two numbers"),
    ("pos-object", _set("float", "pos", value={"x": 0, "y": 0}), "float", "pos", "two numbers"),
    ("geometry-one-number", _set("float", "geometry", value=[100.0]), "float", "geometry", "two numbers"),
    ("geometry-string", _set("float", "geometry", value="100x50"), "float", "geometry", "two numbers"),
    ("tunnel-string", _set("float", "tunnel", value="false"), "float", "tunnel", "true or false"),
    ("tunnel-int", _set("float", "tunnel", value=0), "float", "tunnel", "true or false"),
    ("tunnel-null", _set("float", "tunnel", value=None), "float", "tunnel", "true or false"),
    ("forcerun-string", _set("float", "forcerun", value="yes"), "float", "forcerun", "true or false"),
    ("hidden-list", _set("float", "hidden", value=[]), "float", "hidden", "true or false"),
    ("layer-string", _set("float", "layer", value="1"), "float", "layer", "number"),
    ("layer-bool", _set("float", "layer", value=True), "float", "layer", "number"),
    ("layer-null", _set("float", "layer", value=None), "float", "layer", "number"),
    ("name-number", _set("float", "name", value=5), "float", "name", "string"),
    ("name-null", _set("float", "name", value=None), "float", "name", "string"),
    ("name-list", _set("float", "name", value=["Float"]), "float", "name", "string"),
    ("uniquename-number", _set("float", "uniquename", value=0), "float", "uniquename", "string"),
    ("uniquename-null", _set("power", "uniquename", value=None), "power", "uniquename", "string"),
    # required connection fields
    ("input-missing", _del("connection", "input"), "connection", "input", "missing"),
    ("output-missing", _del("connection", "output"), "connection", "output", "missing"),
    ("input-one-element", _set("connection", "input", value=["float"]), "connection", "input",
     "[node uniquename, terminal name]"),
    ("input-string", _set("connection", "input", value="float.float"), "connection", "input",
     "[node uniquename, terminal name]"),
    ("output-number-terminal", _set("connection", "output", value=["power", 0]), "connection", "output",
     "[node uniquename, terminal name]"),
    ("output-three", _set("connection", "output", value=["power", "base", "x"]), "connection", "output",
     "[node uniquename, terminal name]"),
    ("output-null", _set("connection", "output", value=None), "connection", "output",
     "[node uniquename, terminal name]"),
    # references
    ("input-unknown-node", _set("connection", "input", value=["nope", "float"]), "connection", "input",
     "'nope'"),
    ("output-unknown-node", _set("connection", "output", value=["Power", "base"]), "connection", "output",
     "'Power'"),
    ("input-names-a-connection", _set("connection", "input", value=["connection", "float"]), "connection",
     "input", "does not exist"),
    ("input-unknown-terminal", _set("connection", "input", value=["float", "result"]), "connection", "input",
     "'result'"),
    ("output-unknown-terminal", _set("connection", "output", value=["power", "Base"]), "connection", "output",
     "'Base'"),
    # wrong types of optional connection fields
    ("connection-name-number", _set("connection", "name", value=1), "connection", "name", "string"),
    ("connection-uniquename-null", _set("connection", "uniquename", value=None), "connection", "uniquename",
     "string"),
    ("connection-line-null", _set("connection", "line", value=None), "connection", "line", "string"),
    ("controlpoints-object", _set("connection", "controlpoints", value={}), "connection", "controlpoints",
     "list"),
    ("feedback-string", _set("connection", "feedback", value="true"), "connection", "feedback",
     "true or false"),
    ("feedback-null", _set("connection", "feedback", value=None), "connection", "feedback", "true or false"),
]


@pytest.mark.parametrize("mutate, uniquename, field, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_field(mutate, uniquename, field, words):
    d = base()
    mutate(d)
    with pytest.raises(WorkflowFileError) as info:
        loads(text(d))
    e = info.value
    assert isinstance(e, ValueError)
    assert (e.uniquename, e.field) == (uniquename, field)
    assert e.line is None and e.column is None
    msg = str(e)
    assert repr(uniquename) in msg
    if field is not None:
        assert repr(field) in msg
    assert words in msg


@pytest.mark.parametrize("mutate, uniquename, field, words", [c[1:] for c in CASES[::7]],
                         ids=[c[0] for c in CASES[::7]])
def test_bad_field_through_load_names_the_file(mutate, uniquename, field, words, tmp_path):
    d = base()
    mutate(d)
    p = tmp_path / "bad.nc"
    p.write_text(text(d), encoding="utf-8")
    with pytest.raises(WorkflowFileError) as info:
        load(p)
    e = info.value
    assert (e.uniquename, e.field, e.path) == (uniquename, field, os.fspath(p))
    assert str(e).startswith(f"{p}: {uniquename!r}")


@pytest.mark.parametrize("doc", ["[]", '["float"]', '"workflow"', "3", "2.5", "null", "true"])
def test_top_level_not_an_object(doc):
    with pytest.raises(WorkflowFileError) as info:
        loads(doc)
    e = info.value
    assert (e.uniquename, e.field, e.line) == (None, None, None)
    assert "one JSON object" in str(e)


def test_empty_object_is_an_empty_workflow():
    wf = loads("{}")
    assert wf.nodes == {} and wf.connections == {}
    assert nodeflow.dumps(wf) == "{}\n"


def test_not_json_has_line_and_column():
    with pytest.raises(WorkflowFileError) as info:
        load(fixture("bad_json.nc"))
    e = info.value
    assert (e.line, e.column) == (3, 20)
    assert (e.uniquename, e.field) == (None, None)
    assert e.path == os.fspath(fixture("bad_json.nc"))
    assert "line 3, column 20" in str(e)
    assert str(e).startswith(f"{fixture('bad_json.nc')}: line 3, column 20: not valid JSON")


@pytest.mark.parametrize("doc, line, column", [
    ("", 1, 1),
    ("{} x", 1, 4),
    ('{\n  "a": {\n    "type": "Node",\n', 4, 1),
    ('{\n\n\n  "a": tru\n}', 4, 8),
    ("{'a': 1}", 1, 2),
    ('{"a": NaN-}', 1, 10),
])
def test_json_syntax_errors(doc, line, column):
    with pytest.raises(WorkflowFileError) as info:
        loads(doc)
    assert (info.value.line, info.value.column) == (line, column)
    assert f"line {line}, column {column}" in str(info.value)


def test_truncated_file(tmp_path):
    raw = fixture("basic.nc").read_bytes()
    p = tmp_path / "truncated.nc"
    p.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(WorkflowFileError) as info:
        load(p)
    assert info.value.line is not None and info.value.line > 1


def test_non_utf8_file():
    with pytest.raises(WorkflowFileError) as info:
        load(fixture("latin1.nc"))
    e = info.value
    assert "UTF-8" in str(e)
    assert e.path == os.fspath(fixture("latin1.nc"))
    assert str(e).startswith(str(fixture("latin1.nc")))


def test_non_utf8_bytes():
    with pytest.raises(WorkflowFileError):
        loads(fixture("latin1.nc").read_bytes())


def test_absurd_nesting_is_a_file_error():
    with pytest.raises(WorkflowFileError):
        loads('{"a": ' + "[" * 200_000 + "]" * 200_000 + "}")


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(OSError) as info:
        load(tmp_path / "nope.nc")
    assert not isinstance(info.value, WorkflowFileError)


def test_first_bad_object_in_file_order_is_reported():
    d = base()
    d["float"]["pos"] = "x"
    d["power"]["path"] = None
    with pytest.raises(WorkflowFileError) as info:
        loads(text(d))
    assert (info.value.uniquename, info.value.field) == ("float", "pos")


def test_error_is_exported_at_the_top():
    assert nodeflow.WorkflowFileError is WorkflowFileError
    assert issubclass(WorkflowFileError, ValueError)


def test_error_survives_pickling():
    # errors cross process boundaries (worker pools): message and place must survive
    import pickle

    e = WorkflowFileError("bad", path="f.nc", uniquename="a", field="pos")
    e2 = pickle.loads(pickle.dumps(e))
    assert type(e2) is WorkflowFileError
    assert str(e2) == str(e) == "f.nc: 'a': field 'pos': bad"
    assert (e2.path, e2.uniquename, e2.field, e2.line, e2.column) == ("f.nc", "a", "pos", None, None)


@pytest.mark.parametrize("doc", [text(base()), "{not json", "[]", text({"a": {"type": "Node"}})])
def test_loading_leaves_the_garbage_collector_as_it_was(doc):
    # loads pauses the cyclic collector while it builds the model: it must restore it, error or not
    import gc

    was = gc.isenabled()
    try:
        for state in (True, False):
            (gc.enable if state else gc.disable)()
            try:
                loads(doc)
            except WorkflowFileError:
                pass
            assert gc.isenabled() is state
    finally:
        (gc.enable if was else gc.disable)()
