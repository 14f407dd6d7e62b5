"""The workflow hash: what a workflow computes, and nothing else (history and ETA find runs by it)."""
from __future__ import annotations

import copy

from nodeflow.engine import RunPlan
from nodeflow.engine.plan import workflow_hash
from nodeflow.engine.settings import WorkflowSettings
from nodeflow.model import Workflow

from .helpers import add, link


def _flow(reg, order=("a", "b")) -> Workflow:
    wf = Workflow()
    a = add(wf, reg, ("types", "Float"), name="a", float=2.0)
    b = add(wf, reg, ("types", "Float"), name="b", float=3.0)
    sub = add(wf, reg, ("math", "Subtract"), name="sub")
    mul = add(wf, reg, ("math", "Multiply"), name="mul")
    ends = {"a": a, "b": b}
    for n in order:  # a multiinput's values come in connection order
        link(wf, ends[n], "float", mul, "input")
    link(wf, a, "float", sub, "minuend")
    link(wf, b, "float", sub, "subtrahend")
    return wf


def test_the_plan_and_the_workflow_give_the_same_hash(reg):
    wf = _flow(reg)
    WorkflowSettings(jobs=2).store(wf)  # the hidden settings node: not planned, still part of the hash
    assert RunPlan.build(wf, reg).workflow_hash == workflow_hash(wf)
    partial = RunPlan.build(wf, reg, only=["mul"])
    assert partial.workflow_hash == workflow_hash(wf)


def test_what_a_workflow_computes_changes_its_hash_and_nothing_else_does(reg):
    wf = _flow(reg)
    h = workflow_hash(wf)
    moved = copy.deepcopy(wf)
    moved.nodes["mul"].pos = [500.0, -20.0]
    moved.nodes["mul"].terminals["result"].value = 6.0  # a computed output saved in the file
    assert workflow_hash(moved) == h
    assert workflow_hash(_flow(reg, order=("b", "a"))) != h  # the multiinput's order
    value = copy.deepcopy(wf)
    value.nodes["b"].terminals["float"].value = 4.0
    assert workflow_hash(value) != h
    rewired = copy.deepcopy(wf)
    for c in rewired.connections.values():
        if c.output == ("sub", "minuend"):
            c.input = ("b", "float")  # sub now takes b twice
    assert workflow_hash(rewired) != h
    setting = copy.deepcopy(wf)
    setting.nodes["sub"].set_settings({"max_retries": 2})
    assert workflow_hash(setting) != h
    redrawn = copy.deepcopy(wf)  # a connection deleted and drawn again: last in the file, same meaning
    gone = next(c for c in redrawn.connections.values() if c.output == ("sub", "minuend"))
    redrawn.disconnect(gone.uniquename)
    redrawn.connect(gone.input, gone.output)
    assert list(redrawn.connections.values())[-1].output == ("sub", "minuend")
    assert workflow_hash(redrawn) == h
    assert RunPlan.build(redrawn, reg).workflow_hash == h
