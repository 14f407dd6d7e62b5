"""Quick nodes (NodeType.quick) with plain inputs run on the scheduler's own thread, through the
local executor's run_inline: same results, events, retries, logs and history as through the pool;
array inputs, isolated or timed nodes, and ``inline_quick=False`` still go to the worker threads."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from nodeflow.engine import run_workflow
from nodeflow.engine.plan import RunPlan
from nodeflow.engine.events import EventCollector, EventKind
from nodeflow.executors.local import LocalExecutor, LocalSettings
from nodeflow.history import HistoryStore
from nodeflow.library import ANY, FLOAT, NodeError, NodeType, builtin_registry, inp, out
from nodeflow.library.invoke import PLAIN_LIST_MAX, plain_inputs
from nodeflow.model import Workflow

from .helpers import add


def join(wf, a, at, b, bt):
    wf.connect((a, at), (b, bt))


def where_registry(seen: dict, fail_first: set | None = None):
    """Built-ins plus test/Where (quick: records the thread it ran on; fails once for names in
    ``fail_first``; logs a line) and test/Hook (quick: calls ``seen["hook"](node)``)."""
    reg = builtin_registry()
    fail_first = set(fail_first or ())

    def where(i, ctx):
        seen.setdefault(ctx.node, []).append(threading.get_ident())
        if ctx.node in fail_first:
            fail_first.discard(ctx.node)
            raise NodeError("first try fails")
        ctx.log(f"ran {ctx.node}")
        v = i["input"]
        return {"result": float(np.sum(v)) if isinstance(v, np.ndarray) else v}

    def hook(i, ctx):
        seen["hook"](ctx.node)
        return {"result": i["input"]}

    reg.register(NodeType(("test", "Where"), (inp("input", ANY, 1.0), out("result", FLOAT)), function=where,
                          quick=True))
    reg.register(NodeType(("test", "Hook"), (inp("input", FLOAT, 1.0), out("result", FLOAT)), function=hook,
                          quick=True))
    return reg


def test_plain_inputs():
    assert plain_inputs({"a": 1, "b": 2.5, "c": "x", "d": None, "e": True, "f": [1, 2.0, "3"]})
    assert not plain_inputs({"a": np.float64(1.0)})
    assert not plain_inputs({"a": np.arange(3)})
    assert not plain_inputs({"a": [1, np.arange(2)]})
    assert not plain_inputs({"a": list(range(PLAIN_LIST_MAX + 1))})
    assert not plain_inputs({"a": {"k": 1}}) and not plain_inputs({"a": (1, 2)})


def test_quick_nodes_with_plain_inputs_run_on_the_schedulers_thread(tmp_path):
    seen: dict = {}
    reg = where_registry(seen)
    wf = Workflow()
    add(wf, reg, ("types", "Float"), "a", float=2.0)
    add(wf, reg, ("test", "Where"), "plain")
    add(wf, reg, ("numpy", "Linspace"), "arr", start=0.0, stop=1.0, num=5)
    add(wf, reg, ("test", "Where"), "array")  # an array input: the pool
    add(wf, reg, ("test", "Where"), "timed").set_settings({"timeout_s": 30})  # a timeout needs the pool
    join(wf, "a", "float", "plain", "input")
    join(wf, "arr", "array", "array", "input")
    join(wf, "plain", "result", "timed", "input")
    me = threading.get_ident()
    res = run_workflow(wf, registry=reg, jobs=2, runs_dir=tmp_path / "runs")
    assert res.state.value == "succeeded", res.counts()
    assert res.nodes["plain"].outputs == {"result": 2.0} and res.nodes["array"].outputs == {"result": 2.5}
    assert res.nodes["timed"].outputs == {"result": 2.0}
    assert seen["plain"] == [me]  # run_workflow runs the scheduler on the calling thread
    assert len(seen["array"]) == 1 and seen["array"] != [me]
    assert len(seen["timed"]) == 1 and seen["timed"] != [me]

    seen.clear()
    local = LocalExecutor(LocalSettings(jobs=2, inline_quick=False), registry=reg)
    with local:
        res = run_workflow(wf, registry=reg, executors={"local": local}, runs_dir=tmp_path / "runs")
    assert res.state.value == "succeeded" and seen["plain"] != [me]


def test_the_plan_keeps_isolated_timed_generator_and_unknown_nodes_off_the_inline_lane():
    reg = where_registry({})
    wf = Workflow()
    settings = {"plain": {}, "isolated": {"isolate": True}, "timed": {"timeout_s": 5}, "gen": {"generator": True}}
    for name, s in settings.items():
        add(wf, reg, ("test", "Where"), name).set_settings(s)
    add(wf, reg, ("numpy", "Sum"), "not_quick")
    plan = RunPlan.build(wf, reg)
    assert {n: pn.inline for n, pn in plan.nodes.items()} == {
        "plain": True, "isolated": False, "timed": False, "gen": False, "not_quick": False}


def test_an_inline_node_gives_the_same_events_logs_retries_and_history_rows(tmp_path):
    seen: dict = {}
    reg = where_registry(seen, fail_first={"b"})
    wf = Workflow()
    add(wf, reg, ("test", "Where"), "a", input=3.0)
    add(wf, reg, ("test", "Where"), "b").set_settings({"max_retries": 1})
    join(wf, "a", "result", "b", "input")
    events = EventCollector()
    with HistoryStore(tmp_path / "h.sqlite") as store:
        res = run_workflow(wf, registry=reg, jobs=2, runs_dir=tmp_path / "runs", history=store,
                           observers=[events])
        rows = {(r["node"], r["attempt"]): r for r in store.attempts(res.run_id)}
    assert res.state.value == "succeeded" and res.nodes["b"].outputs == {"result": 3.0}
    assert res.nodes["b"].attempts == 2 and seen["b"] == [threading.get_ident()] * 2
    kinds = [(e.kind, e.attempt) for e in events.events if e.node == "b" and e.kind != EventKind.NODE_LOG]
    assert kinds == [(EventKind.NODE_QUEUED, 1), (EventKind.NODE_STARTED, 1), (EventKind.NODE_RETRYING, 1),
                     (EventKind.NODE_QUEUED, 2), (EventKind.NODE_STARTED, 2), (EventKind.NODE_SUCCEEDED, 2)]
    assert [e.data["line"] for e in events.of(EventKind.NODE_LOG)] == ["ran a", "ran b"]
    started = events.of(EventKind.NODE_STARTED, "a")[0].data
    assert started["host"] and started["executor"] == "local"
    assert (rows[("b", 1)]["state"], rows[("b", 1)]["error"]) == ("failed", "first try fails")
    for r in rows.values():
        assert r["executor"] == "local" and r["node_type"] == "test/Where" and r["host"]
        assert r["queued_at"] <= r["started_at"] <= r["finished_at"]
    assert rows[("b", 2)]["outputs"] == {"result": 3.0} and rows[("b", 2)]["input_hash"]
    # the final progress counts everything, though inline nodes never show as queued or running
    assert events.of(EventKind.RUN_PROGRESS)[-1].data["succeeded"] == 2


def test_a_failing_inline_node_fails_the_node_with_its_message(tmp_path):
    reg = builtin_registry()
    wf = Workflow()
    add(wf, reg, ("math", "Divide"), "d", dividend=1.0, divisor=0.0)
    add(wf, reg, ("math", "Negate"), "n")
    join(wf, "d", "result", "n", "input")
    res = run_workflow(wf, registry=reg, jobs=1, runs_dir=tmp_path / "runs")
    assert res.nodes["d"].state.value == "failed" and "division by zero" in res.nodes["d"].error
    assert res.nodes["n"].state.value == "skipped"


@pytest.mark.parametrize("where", [100, 700])
def test_a_long_stretch_of_inline_nodes_still_sees_a_cancel(tmp_path, where):
    """A chain of quick nodes runs in one dispatch; a cancel (here asked for by node ``where``
    itself, as another thread would) stops it within a few hundred nodes."""
    sched = {}
    ran = []

    def hook(node):
        ran.append(node)
        if node == f"n{where}":
            sched["s"].cancel()

    reg = where_registry({"hook": hook})
    wf = Workflow()
    for i in range(2000):
        add(wf, reg, ("test", "Hook"), f"n{i}")
        if i:
            join(wf, f"n{i - 1}", "result", f"n{i}", "input")
    res = run_workflow(wf, registry=reg, jobs=2, runs_dir=tmp_path / "runs",
                       on_scheduler=lambda s: sched.setdefault("s", s))
    assert res.state.value == "cancelled"
    assert where < len(ran) <= where + 257  # looked at least every 256 inline nodes
    assert {res.nodes[f"n{i}"].state.value for i in range(len(ran), 2000)} == {"skipped"}
