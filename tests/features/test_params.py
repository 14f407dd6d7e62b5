"""Workflow parameters: substitution, expansion into instances, dependencies, errors."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import nodeflow
from nodeflow.engine import EventCollector, PlanError, RunState, run_workflow
from nodeflow.engine.params import ParameterError, expand, instance_count, parse_cli_params
from nodeflow.engine.settings import WorkflowSettings
from nodeflow.library import builtin_registry
from nodeflow.model import Workflow


def command(wf, reg, name, cmd, args):
    node = reg.create_node(("shell", "Command"), wf)
    node.uniquename = name
    wf.add_node(node)
    node.terminals["command"].value = cmd
    node.terminals["args"].value = args
    return node


def test_parse_cli_params():
    assert parse_cli_params(["A=x", "B=a,b,c", "C="]) == {"A": "x", "B": ["a", "b", "c"], "C": ""}
    with pytest.raises(ParameterError):
        parse_cli_params(["novalue"])


def test_scalar_substitution_and_cartesian_expansion(tmp_path):
    reg = builtin_registry()
    wf = Workflow()
    command(wf, reg, "prep", "echo", ["{{DIR}}/in"])
    calc = command(wf, reg, "calc", "echo", ["{{DIR}}", "{{DATE}}", "{{KIND}}"])
    report = command(wf, reg, "report", "echo", ["done"])
    wf.connect(("prep", "exitcode"), ("calc", "after"))
    wf.connect(("calc", "exitcode"), ("report", "after"))
    params = {"DIR": "/data", "DATE": ["d1", "d2", "d3"], "KIND": ["x", "y"]}
    assert instance_count(calc, params) == 6 and instance_count(report, params) == 1
    out = expand(wf, params)
    calcs = sorted(n for n in out.nodes if n.startswith("calc["))
    assert len(calcs) == 6
    assert "calc[DATE=d2,KIND=y]" in out.nodes
    assert out.nodes["calc[DATE=d2,KIND=y]"].terminals["args"].value == ["/data", "d2", "y"]
    assert out.nodes["prep"].terminals["args"].value == ["/data/in"]
    # dependencies follow the template name: prep → every calc → report
    ins = {c.output[0] for c in out.connections.values() if c.input[0] == "prep"}
    assert ins == set(calcs)
    into_report = {c.input[0] for c in out.connections.values() if c.output[0] == "report"}
    assert into_report == set(calcs)
    # the original is untouched
    assert wf.nodes["calc"].terminals["args"].value == ["{{DIR}}", "{{DATE}}", "{{KIND}}"]


def test_instances_sharing_a_parameter_pair_up_value_by_value():
    reg = builtin_registry()
    wf = Workflow()
    command(wf, reg, "a", "echo", ["{{D}}"])
    command(wf, reg, "b", "echo", ["{{D}}"])
    wf.connect(("a", "exitcode"), ("b", "after"))
    out = expand(wf, {"D": ["1", "2"]})
    pairs = sorted((c.input[0], c.output[0]) for c in out.connections.values())
    assert pairs == [("a[D=1]", "b[D=1]"), ("a[D=2]", "b[D=2]")]


def test_expanded_run_gives_every_instance(tmp_path):
    reg = builtin_registry()
    wf = Workflow()
    command(wf, reg, "say", "echo", ["{{GREETING}}", "{{WHO}}"])
    WorkflowSettings(parameters={"GREETING": "hello", "WHO": ["ann", "bob"]}).store(wf)
    path = tmp_path / "p.nc"
    nodeflow.save(wf, path)
    out = tmp_path / "r.json"
    p = subprocess.run([sys.executable, "-m", "nodeflow.cli", "run", str(path), "--results", str(out), "-q",
                        "--no-history", "-p", "WHO=cy,di,ed"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    nodes = json.loads(out.read_text())["nodes"]
    assert {n: v["outputs"]["stdout"] for n, v in nodes.items()} == {
        "say[WHO=cy]": "hello cy\n", "say[WHO=di]": "hello di\n", "say[WHO=ed]": "hello ed\n"}


def test_unknown_parameter_is_a_validation_error_naming_it(tmp_path):
    reg = builtin_registry()
    wf = Workflow()
    command(wf, reg, "c", "echo", ["{{NOPE}}"])
    problems = nodeflow.validate(wf, registry=reg)
    assert any(p.is_error and "{{NOPE}}" in p.message and p.uniquename == "c" for p in problems)
    with pytest.raises(PlanError) as e:
        run_workflow(wf, registry=reg, runs_dir=tmp_path)
    assert "NOPE" in str(e.value)
    path = tmp_path / "u.nc"
    nodeflow.save(wf, path)
    p = subprocess.run([sys.executable, "-m", "nodeflow.cli", "validate", str(path)], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 2 and "NOPE" in p.stdout


def test_fan_in_into_a_single_input_is_refused_clearly(tmp_path):
    reg = builtin_registry()
    wf = Workflow()
    f = reg.create_node(("types", "String"), wf)
    wf.add_node(f)
    f.terminals["string"].value = "{{X}}"
    n = reg.create_node(("files", "Read Text"), wf)
    wf.add_node(n)
    wf.connect((f.uniquename, "string"), (n.uniquename, "path"))
    with pytest.raises(PlanError) as e:
        run_workflow(wf, registry=reg, runs_dir=tmp_path, params={"X": ["a", "b"]})
    assert "takes one connection" in str(e.value)


def test_has_placeholder_agrees_with_names_used():
    from nodeflow.engine.params import has_placeholder, names_used

    values = ["plain", "{{N}}", "a {{ N }} b", "{{", "{{}}", "{x}", 1.5, 3, True, None, [], ["a", ["{{N}}"]],
              {"k": "{{N}}"}, {"k": 1}, ("{{N}}",)]
    for v in values:
        assert has_placeholder(v) == bool(names_used(v)), v
