"""Property-based tests: the loader either loads or raises WorkflowFileError, and what loads saves back exactly."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nodeflow.model import CycleError, Workflow, WorkflowFileError, dumps, generations, loads, topological_order
from nodeflow.model import validate

from model_helpers import VALID_FIXTURES, fixture_json

# Modest example counts: the whole module runs in well under 20 s.
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: for the generated workflows, which cost many draws each
WORKFLOW_SETTINGS = settings(SETTINGS, max_examples=50)

NODE_KNOWN = {"type", "name", "uniquename", "pos", "path", "terminals", "tunnel", "forcerun", "hidden",
              "customState", "layer", "geometry"}
TERMINAL_KNOWN = {"value", "flipped", "opts"}
CONNECTION_KNOWN = {"type", "name", "uniquename", "line", "input", "output", "controlpoints", "feedback"}
DTYPES = ["<class 'float'>", "<class 'int'>", "<class 'str'>", "<class 'bool'>", "<class 'numpy.ndarray'>",
          "None"]

names = st.text(min_size=1, max_size=6)  # any Unicode but surrogates: "größe", "节点", "a.0", " ", …
scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=6))
json_values = st.recursive(scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c,
                                                                                        max_size=4),
                           max_leaves=12)
#: small values for the many value slots of a generated workflow
small_values = st.recursive(scalars, lambda c: st.lists(c, max_size=2) | st.dictionaries(st.text(max_size=3), c,
                                                                                         max_size=2),
                            max_leaves=3)
numbers = st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False)


def check_loads_or_file_error(doc: str) -> Workflow | None:
    """The contract: a Workflow or WorkflowFileError, nothing else. What loads must also
    save back exactly, validate without raising and order without anything but CycleError."""
    try:
        wf = loads(doc)
    except WorkflowFileError as e:
        assert str(e)
        return None
    original = json.loads(doc)
    again = json.loads(dumps(wf))
    assert json.dumps(again) == json.dumps(original)
    problems = validate(wf, known_types=frozenset())
    assert isinstance(problems, list)
    for order in (topological_order, generations):
        try:
            order(wf)
        except CycleError as e:
            assert e.cycle
    return wf


# -- random JSON ------------------------------------------------------------------------

@SETTINGS
@given(json_values)
def test_random_json_loads_or_raises_file_error(value):
    check_loads_or_file_error(json.dumps(value))


def _any_field(known: set[str]):
    return st.dictionaries(st.sampled_from(sorted(known)) | st.text(max_size=4), json_values, max_size=6)


@SETTINGS
@given(st.dictionaries(names, st.one_of(
    _any_field(NODE_KNOWN).map(lambda d: {"type": "Node", **d}),
    _any_field(CONNECTION_KNOWN).map(lambda d: {"type": "Connection", **d}),
    _any_field(NODE_KNOWN | CONNECTION_KNOWN),
    json_values), max_size=5))
def test_random_node_shaped_objects_load_or_raise_file_error(doc):
    check_loads_or_file_error(json.dumps(doc))


@SETTINGS
@given(st.binary(max_size=60) | st.text(max_size=60))
def test_random_text_loads_or_raises_file_error(raw):
    try:
        loads(raw)
    except WorkflowFileError:
        pass


# -- random valid workflows -----------------------------------------------------------------

# Strategies are built once at import: building them inside composites costs more than drawing.
short_text = st.text(max_size=8)
bools = st.booleans()
pairs = st.lists(numbers, min_size=2, max_size=2)
DTYPE_S = st.sampled_from(DTYPES)
WIDGET_S = st.none() | st.sampled_from(["lineedit", "spinbox", "doublespinbox", "combobox", "display"])
PATH_S = st.lists(short_text, min_size=1, max_size=3)


def _extra(known: set[str]):
    return st.dictionaries(short_text.filter(lambda k: k not in known), small_values, max_size=2)


EXTRA_OPTS = _extra({"in", "out", "multiinput", "dtype", "widget", "value", "showlabel"})
EXTRA_TERMINAL = _extra(TERMINAL_KNOWN)
EXTRA_NODE = _extra(NODE_KNOWN)
EXTRA_CONNECTION = _extra(CONNECTION_KNOWN)
NODE_OPTIONAL = {"name": short_text, "uniquename": short_text, "pos": pairs, "tunnel": bools, "forcerun": bools,
                 "hidden": bools, "customState": small_values, "layer": numbers, "geometry": st.none() | pairs}
CONNECTION_OPTIONAL = {"name": short_text, "uniquename": short_text, "line": st.sampled_from(["cubic", "line"]),
                       "controlpoints": st.lists(pairs, max_size=2), "feedback": bools}


def ordered(draw, d: dict) -> dict:
    """``d`` with its keys in a random order."""
    keys = draw(st.permutations(list(d)))
    return {k: d[k] for k in keys}


@st.composite
def terminals(draw) -> dict:
    opts = {"in": draw(bools), "out": draw(bools), "multiinput": draw(bools), "dtype": draw(DTYPE_S),
            "widget": draw(WIDGET_S), "value": draw(small_values), "showlabel": draw(bools)}
    opts = {k: v for k, v in opts.items() if draw(bools)} | draw(EXTRA_OPTS)
    t = {"value": draw(small_values), "flipped": draw(bools), "opts": ordered(draw, opts)}
    t = {k: v for k, v in t.items() if draw(st.integers(0, 3))} | draw(EXTRA_TERMINAL)
    return ordered(draw, t)


TERMINALS_S = st.dictionaries(names, terminals(), max_size=4)


def _optional(draw, d: dict, key: str, optional: dict) -> None:
    for k, strategy in optional.items():
        if draw(bools):
            d[k] = key if k == "uniquename" and draw(bools) else draw(strategy)


def node_dict(draw, key: str) -> dict:
    d = {"type": "Node", "path": draw(PATH_S), "terminals": draw(TERMINALS_S)}
    _optional(draw, d, key, NODE_OPTIONAL)
    d |= draw(EXTRA_NODE)
    return ordered(draw, d)


@st.composite
def workflows(draw) -> dict:
    keys = draw(st.lists(names, min_size=1, max_size=6, unique=True))
    n_nodes = draw(st.integers(1, len(keys)))
    nodes = {k: node_dict(draw, k) for k in keys[:n_nodes]}
    ends = [(n, t) for n, d in nodes.items() for t in d["terminals"]]
    doc: dict = dict(nodes)
    conn_keys = keys[n_nodes:] + [f"connection.{i}" for i in range(draw(st.integers(0, 4)))]
    if ends:
        ends_s = st.sampled_from(ends)
        for k in conn_keys:
            if k in doc:
                continue
            c = {"type": "Connection", "input": list(draw(ends_s)), "output": list(draw(ends_s))}
            _optional(draw, c, k, CONNECTION_OPTIONAL)
            c |= draw(EXTRA_CONNECTION)
            doc[k] = ordered(draw, c)
    return ordered(draw, doc)  # nodes and connections interleaved


@WORKFLOW_SETTINGS
@given(workflows())
def test_random_valid_workflows_round_trip_exactly(doc):
    text = json.dumps(doc, ensure_ascii=False, indent=1)
    wf = loads(text)
    assert list(wf.nodes) == [k for k, v in doc.items() if v["type"] == "Node"]
    assert list(wf.connections) == [k for k, v in doc.items() if v["type"] == "Connection"]
    out = dumps(wf)
    assert json.dumps(json.loads(out)) == json.dumps(doc)
    assert dumps(loads(out)) == out
    check_loads_or_file_error(text)


# -- mutated valid files --------------------------------------------------------------------------

def _slots(obj, path=()):
    """Every (path, container, key) in a parsed JSON document."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield path + (k,), obj, k
            yield from _slots(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield path + (i,), obj, i
            yield from _slots(v, path + (i,))


@st.composite
def mutate(draw, doc: dict) -> dict:
    doc = json.loads(json.dumps(doc))  # a private copy
    for _ in range(draw(st.integers(1, 4))):
        slots = list(_slots(doc))
        if not slots:
            break
        _path, container, key = draw(st.sampled_from(slots))
        op = draw(st.sampled_from(["drop", "replace", "junk", "rename", "wrong-type"]))
        old = container[key]
        if op == "drop":
            del container[key]
        elif op == "replace":
            container[key] = draw(json_values)
        elif op == "junk" and isinstance(container, dict):
            container[draw(st.text(max_size=6))] = draw(json_values)
        elif op == "rename":
            if isinstance(old, str):  # a reference or a name: to another existing name or a new one
                container[key] = draw(st.sampled_from(sorted(doc)) | st.text(max_size=6))
            elif isinstance(container, dict):  # rename the key itself (a node, terminal or field)
                new = draw(st.text(max_size=6))
                items = [(new if k == key else k, v) for k, v in container.items()]
                container.clear()
                container.update(items)
        elif op == "wrong-type":
            container[key] = draw(st.sampled_from([None, True, 0, 1.5, "", "x", [], {}, [1, 2], {"a": 1}]))
    return doc


VALID_DOCS = [fixture_json(name) for name in VALID_FIXTURES]


@settings(SETTINGS, max_examples=150)
@given(st.sampled_from(VALID_DOCS).flatmap(mutate))
def test_mutated_fixtures_load_or_raise_file_error(doc):
    check_loads_or_file_error(json.dumps(doc, ensure_ascii=False))


@WORKFLOW_SETTINGS
@given(workflows().flatmap(mutate))
def test_mutated_random_workflows_load_or_raise_file_error(doc):
    check_loads_or_file_error(json.dumps(doc))
