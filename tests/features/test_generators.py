"""Generator nodes: JSON output adds nodes at run time, or fails cleanly adding nothing."""
from __future__ import annotations

import base64
import json
import sys

import pytest

from nodeflow.engine import EventCollector, EventKind, NodeState, RunState, run_workflow
from nodeflow.library import builtin_registry
from nodeflow.model import Workflow

REG = builtin_registry()


def gen_node(wf, name, payload, **settings):
    node = REG.create_node(("shell", "Command"), wf)
    node.uniquename = name
    wf.add_node(node)
    text = payload if isinstance(payload, str) else json.dumps(payload)
    node.terminals["command"].value = sys.executable
    # base64, so that {{NAME}} in the payload is not substituted in the generator's own arguments
    node.terminals["args"].value = ["-c", "import base64, sys; sys.stdout.write(base64.b64decode(sys.argv[1]).decode())",
                                    base64.b64encode(text.encode()).decode()]
    node.set_settings({"generator": True, **settings})
    return node


def report_node(wf, name="report"):
    node = REG.create_node(("shell", "Command"), wf)
    node.uniquename = name
    wf.add_node(node)
    node.terminals["command"].value = "echo"
    node.terminals["args"].value = ["report"]
    return node


def added(names, after="report"):
    out = {}
    for n in names:
        out[n] = {"type": "Node", "path": ["shell", "Command"], "values": {"command": "echo", "args": [n]}}
        out[f"to_{n}"] = {"type": "Connection", "input": ["pull", "exitcode"], "output": [n, "after"]}
        out[f"from_{n}"] = {"type": "Connection", "input": [n, "exitcode"], "output": [after, "after"]}
    return out


def test_generator_adds_nodes_that_run_before_their_children(tmp_path):
    wf = Workflow()
    gen_node(wf, "pull", added(["calc_a", "calc_b"]))
    report_node(wf)
    wf.connect(("pull", "exitcode"), ("report", "after"))
    ev = EventCollector()
    res = run_workflow(wf, registry=REG, runs_dir=tmp_path, observers=[ev])
    assert res.state == RunState.SUCCEEDED, res.to_json()
    assert res.nodes["calc_a"].outputs["stdout"] == "calc_a\n"
    done = [e.node for e in ev.of(EventKind.NODE_SUCCEEDED)]
    assert done.index("pull") < done.index("calc_a") < done.index("report")
    assert done.index("calc_b") < done.index("report")
    add_ev = ev.of(EventKind.NODES_ADDED)[0]
    assert add_ev.data["by"] == "pull" and set(add_ev.data["nodes"]) == {"calc_a", "calc_b"}
    assert add_ev.data["nodes"]["calc_a"]["path"] == ["shell", "Command"]  # full Nodeworks form for the editor
    assert ev.of(EventKind.RUN_FINISHED)[0].data["counts"]["succeeded"] == 4


def test_generated_nodes_go_through_parameter_expansion(tmp_path):
    wf = Workflow()
    frag = {"calc": {"type": "Node", "path": ["shell", "Command"], "values": {"command": "echo",
                                                                              "args": ["{{D}}"]}}}
    gen_node(wf, "pull", frag)
    res = run_workflow(wf, registry=REG, runs_dir=tmp_path, params={"D": ["x", "y"]})
    assert res.state == RunState.SUCCEEDED
    assert res.nodes["calc[D=x]"].outputs["stdout"] == "x\n" and res.nodes["calc[D=y]"].outputs["stdout"] == "y\n"


@pytest.mark.parametrize("payload, message", [
    ("this is not json {", "not valid JSON"),
    ("", "empty"),
    ("[1, 2]", "JSON object"),
    ({"x": {"type": "Node", "path": ["no", "Such"]}}, "unknown node type 'no/Such'"),
    ({"pull": {"type": "Node", "path": ["shell", "Command"]}}, "already exist"),
    ({"x": {"type": "Node", "path": ["shell", "Command"], "values": {"bogus": 1}}}, "no terminal 'bogus'"),
    ({"c": {"type": "Connection", "input": ["nobody", "exitcode"], "output": ["report", "after"]}}, "nobody"),
])
def test_bad_generator_output_fails_it_and_adds_nothing(tmp_path, payload, message):
    wf = Workflow()
    gen_node(wf, "pull", payload)
    report_node(wf)
    wf.connect(("pull", "exitcode"), ("report", "after"))
    ev = EventCollector()
    res = run_workflow(wf, registry=REG, runs_dir=tmp_path, observers=[ev])
    assert res.nodes["pull"].state == NodeState.FAILED
    assert message in res.nodes["pull"].error and "nothing was added" in res.nodes["pull"].error
    assert res.nodes["report"].state == NodeState.SKIPPED
    assert set(res.nodes) == {"pull", "report"}
    assert not ev.of(EventKind.NODES_ADDED)


def test_generator_output_that_would_create_a_cycle(tmp_path):
    wf = Workflow()
    gen_node(wf, "pull", {
        "x": {"type": "Node", "path": ["shell", "Command"], "values": {"command": "true"}},
        "c1": {"type": "Connection", "input": ["report", "exitcode"], "output": ["x", "after"]},
        "c2": {"type": "Connection", "input": ["x", "exitcode"], "output": ["late", "after"]},
        "c3": {"type": "Connection", "input": ["late", "exitcode"], "output": ["report", "after"]}})
    report_node(wf)
    report_node(wf, "late")
    wf.connect(("pull", "exitcode"), ("report", "after"))
    wf.connect(("pull", "exitcode"), ("late", "after"))
    res = run_workflow(wf, registry=REG, runs_dir=tmp_path)
    assert res.nodes["pull"].state == NodeState.FAILED
    assert "cycle" in res.nodes["pull"].error
    assert "x" not in res.nodes


def test_generator_cannot_reach_into_a_node_that_already_ran(tmp_path):
    wf = Workflow()
    first = report_node(wf, "early")
    gen = gen_node(wf, "pull", {
        "x": {"type": "Node", "path": ["shell", "Command"], "values": {"command": "true"}},
        "c": {"type": "Connection", "input": ["x", "exitcode"], "output": ["early", "after"]}})
    wf.connect(("early", "exitcode"), ("pull", "after"))
    res = run_workflow(wf, registry=REG, runs_dir=tmp_path)
    assert res.nodes["pull"].state == NodeState.FAILED
    assert "already started" in res.nodes["pull"].error
