"""Sub-workflows: snapshot + inline, exposed terminals, reference cycles, missing files."""
from __future__ import annotations

import pytest

import nodeflow
from nodeflow.engine import EventCollector, EventKind, NodeState, PlanError, RunState, run_workflow
from nodeflow.engine.subworkflows import exposed_terminals
from nodeflow.history.store import HistoryStore
from nodeflow.library import builtin_registry
from nodeflow.library.builtins.workflow_nodes import SUBWORKFLOW_PATH
from nodeflow.model import Terminal, Workflow

REG = builtin_registry()


def add(wf, path, uniquename, **values):
    node = REG.create_node(path, wf)
    node.uniquename = uniquename
    wf.add_node(node)
    for k, v in values.items():
        node.terminals[k].value = v
    return node


def child_square(path):
    """x → x ** 2, exposed as input 'x' and output 'y'."""
    wf = Workflow()
    add(wf, ("nodeflow", "Workflow Input"), "in", name="x", value=3.0)
    add(wf, ("math", "Power"), "sq", exponent=2.0)
    add(wf, ("nodeflow", "Workflow Output"), "out", name="y")
    wf.connect(("in", "output"), ("sq", "base"))
    wf.connect(("sq", "result"), ("out", "value"))
    nodeflow.save(wf, path)
    return wf


def sub_node(wf, name, ref, inputs=("x",), outputs=("y",)):
    node = add(wf, SUBWORKFLOW_PATH, name, workflow=ref)
    for t in inputs:
        node.terminals[t] = Terminal(None, False, {"in": True, "out": False, "dtype": "None"})
    for t in outputs:
        node.terminals[t] = Terminal(None, False, {"in": False, "out": True, "dtype": "None"})
    return node


def test_child_runs_inline_and_is_snapshotted(tmp_path):
    child = child_square(tmp_path / "square.nc")
    assert exposed_terminals(child) == (["x"], ["y"])
    wf = Workflow()
    add(wf, ("types", "Float"), "five", float=5.0)
    sub_node(wf, "s1", "square.nc")
    sub_node(wf, "s2", "square.nc")  # the same child twice
    add(wf, ("math", "Negate"), "neg")
    wf.connect(("five", "float"), ("s1", "x"))
    wf.connect(("s1", "y"), ("neg", "input"))
    wf.source_path = str(tmp_path / "main.nc")
    nodeflow.save(wf, tmp_path / "main.nc")
    res = run_workflow(wf, registry=REG, runs_dir=tmp_path / "runs")
    assert res.state == RunState.SUCCEEDED
    assert res.nodes["neg"].outputs["result"] == -25.0
    assert res.nodes["s1/sq"].outputs["result"] == 25.0
    assert res.nodes["s2/sq"].outputs["result"] == 9.0  # unconnected: the child's own default
    assert "s1" not in res.nodes  # the reference itself was replaced by its nodes


def test_later_edits_to_the_child_do_not_change_a_started_run(tmp_path):
    child_square(tmp_path / "square.nc")
    wf = Workflow()
    sub_node(wf, "s", "square.nc")
    wf.source_path = str(tmp_path / "main.nc")
    edited = {}

    class EditChildOnStart:
        def on_event(self, ev):
            if ev.kind == EventKind.RUN_STARTED:
                c = nodeflow.load(tmp_path / "square.nc")
                c.nodes["sq"].terminals["exponent"].value = 10.0
                nodeflow.save(c, tmp_path / "square.nc")
                edited["yes"] = True

    res = run_workflow(wf, registry=REG, runs_dir=tmp_path / "runs", observers=[EditChildOnStart()])
    assert edited and res.nodes["s/sq"].outputs["result"] == 9.0


def test_missing_referenced_file(tmp_path):
    wf = Workflow()
    sub_node(wf, "s", "nowhere.nc")
    wf.source_path = str(tmp_path / "main.nc")
    with pytest.raises(PlanError) as e:
        run_workflow(wf, registry=REG, runs_dir=tmp_path)
    assert "nowhere.nc" in str(e.value) and "not found" in str(e.value) and "s:" in str(e.value)


def test_reference_cycle_names_the_chain(tmp_path):
    main = Workflow()
    sub_node(main, "p", "prep.nc", inputs=(), outputs=())
    nodeflow.save(main, tmp_path / "main.nc")
    prep = Workflow()
    sub_node(prep, "back", "main.nc", inputs=(), outputs=())
    nodeflow.save(prep, tmp_path / "prep.nc")
    wf = nodeflow.load(tmp_path / "main.nc")
    with pytest.raises(PlanError) as e:
        run_workflow(wf, registry=REG, runs_dir=tmp_path)
    assert "main.nc -> prep.nc -> main.nc" in str(e.value)


def test_child_with_a_plain_cycle_is_reported_with_its_chain(tmp_path):
    child = Workflow()
    add(child, ("math", "Negate"), "a")
    add(child, ("math", "Negate"), "b")
    child.connect(("a", "result"), ("b", "input"))
    child.connect(("b", "result"), ("a", "input"))
    nodeflow.save(child, tmp_path / "loop.nc")
    wf = Workflow()
    sub_node(wf, "s", "loop.nc", inputs=(), outputs=())
    wf.source_path = str(tmp_path / "main.nc")
    with pytest.raises(PlanError) as e:
        run_workflow(wf, registry=REG, runs_dir=tmp_path)
    assert "main.nc -> loop.nc" in str(e.value) and "cycle: a -> b -> a" in str(e.value)


def test_unexposed_terminal_is_an_error(tmp_path):
    child_square(tmp_path / "square.nc")
    wf = Workflow()
    sub_node(wf, "s", "square.nc", inputs=("z",))
    wf.source_path = str(tmp_path / "main.nc")
    with pytest.raises(PlanError) as e:
        run_workflow(wf, registry=REG, runs_dir=tmp_path)
    assert "'z'" in str(e.value) and "x" in str(e.value)


def test_rerun_failed_drills_into_children(tmp_path):
    child = Workflow()
    add(child, ("nodeflow", "Workflow Input"), "in", name="d", value=0.0)
    add(child, ("math", "Divide"), "div", dividend=1.0)
    add(child, ("math", "Absolute"), "other", input=-7.0)
    child.connect(("in", "output"), ("div", "divisor"))
    nodeflow.save(child, tmp_path / "c.nc")
    wf = Workflow()
    sub_node(wf, "s", "c.nc", inputs=("d",), outputs=())
    wf.source_path = str(tmp_path / "main.nc")
    store = HistoryStore(tmp_path / "h.sqlite")
    first = run_workflow(wf, registry=REG, runs_dir=tmp_path / "runs", history=store)
    assert first.nodes["s/div"].state == NodeState.FAILED
    wf.nodes["s"].terminals["d"].value = 4.0
    ev = EventCollector()
    second = run_workflow(wf, registry=REG, runs_dir=tmp_path / "runs", history=store,
                          rerun_failed=first.run_id, observers=[ev])
    assert second.nodes["s/div"].outputs["result"] == 0.25
    reused = {e.node for e in ev.of(EventKind.NODE_SUCCEEDED) if e.data["reused"]}
    assert "s/other" in reused and "s/div" not in reused
    store.close()
