"""The scheduler with the real local executor: values, policies, retries, cancel, rerun."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from nodeflow.engine import (EventKind, ManualClock, NodeState, PlanError, RunPlan, RunState,
                             run_workflow)
from nodeflow.history.store import HistoryStore
from nodeflow.model import Workflow

from .helpers import add, link, pid_alive, registry_with_test_types, run, wait_for


def test_arithmetic_chain_gives_the_right_numbers(reg, tmp_path):
    wf = Workflow()
    a = add(wf, reg, ("types", "Float"), float=5.0)
    b = add(wf, reg, ("types", "Float"), float=5.0)
    p = add(wf, reg, ("math", "Power"))
    link(wf, a, "float", p, "base")
    link(wf, b, "float", p, "exponent")  # 5 ** 5 = 3125
    k = add(wf, reg, ("types", "Float"), float=87.0)
    m = add(wf, reg, ("math", "Multiply"))
    link(wf, p, "result", m, "input")
    link(wf, k, "float", m, "input")  # multiinput: 3125 * 87 = 271875
    r3 = add(wf, reg, ("math", "Root"), degree=3.0)
    link(wf, m, "result", r3, "radicand")
    s = add(wf, reg, ("math", "Subtract"), subtrahend=1.0)
    link(wf, r3, "result", s, "minuend")
    res, ev = run(wf, reg, tmp_path)
    assert res.state == RunState.SUCCEEDED
    assert res.nodes[p.uniquename].outputs["result"] == 3125.0
    assert res.nodes[m.uniquename].outputs["result"] == 271875.0
    assert res.nodes[s.uniquename].outputs["result"] == pytest.approx(271875.0 ** (1 / 3) - 1)
    # every node was queued, started and succeeded once, in dependency order
    order = [e.node for e in ev.of(EventKind.NODE_SUCCEEDED)]
    assert order.index(p.uniquename) < order.index(m.uniquename) < order.index(r3.uniquename) < order.index(s.uniquename)
    assert len(ev.of(EventKind.NODE_STARTED)) == len(wf.nodes)


def test_unconnected_multiinput_uses_its_value(reg, tmp_path):
    wf = Workflow()
    m = add(wf, reg, ("math", "Multiply"), input=[2.0, 3.0, 4.0])
    res, _ = run(wf, reg, tmp_path)
    assert res.nodes[m.uniquename].outputs["result"] == 24.0


def test_range_to_trig_arrays(reg, tmp_path):
    wf = Workflow()
    rng = add(wf, reg, ("numpy", "Range"), start=0.0, stop=6.3, step=0.1, type="float")
    trig = add(wf, reg, ("numpy", "Trig"), operation="sin")
    link(wf, rng, "range", trig, "input")
    res, _ = run(wf, reg, tmp_path)
    assert res.state == RunState.SUCCEEDED
    np.testing.assert_allclose(res.nodes[trig.uniquename].outputs["array"], np.sin(np.arange(0.0, 6.3, 0.1)))


def test_a_node_starts_as_soon_as_its_own_upstream_is_done(reg, tmp_path):
    # slow branch: a sleeping command; fast branch: two chained math nodes. The fast chain must
    # finish while the sleeper still runs (not level by level).
    wf = Workflow()
    slow = add(wf, reg, ("test", "Sleep"), seconds=1.5)
    f1 = add(wf, reg, ("types", "Float"), float=2.0)
    p = add(wf, reg, ("math", "Power"), exponent=2.0)
    link(wf, f1, "float", p, "base")
    n = add(wf, reg, ("math", "Negate"))
    link(wf, p, "result", n, "input")
    res, ev = run(wf, reg, tmp_path, jobs=2)
    assert res.state == RunState.SUCCEEDED
    done = {e.node: e.time for e in ev.of(EventKind.NODE_SUCCEEDED)}
    assert done[n.uniquename] < done[slow.uniquename]
    assert res.nodes[n.uniquename].outputs["result"] == -4.0


def _diamond_with_failure(reg, wf):
    f = add(wf, reg, ("types", "Float"), name="src", float=1.0)
    bad = add(wf, reg, ("test", "Boom"), name="bad")
    after_bad = add(wf, reg, ("math", "Negate"), name="after_bad")
    good = add(wf, reg, ("math", "Negate"), name="good")
    slow = add(wf, reg, ("test", "Sleep"), name="slow", seconds=1.0)
    link(wf, f, "float", bad, "input")
    link(wf, bad, "result", after_bad, "input")
    link(wf, f, "float", good, "input")
    return bad, after_bad, good, slow


def test_failure_policy_continue_skips_only_downstream(reg, tmp_path):
    wf = Workflow()
    _diamond_with_failure(reg, wf)
    res, ev = run(wf, reg, tmp_path, failure_policy="continue")
    assert res.state == RunState.FAILED
    assert res.nodes["bad"].state == NodeState.FAILED and res.nodes["bad"].error == "boom"
    assert res.nodes["after_bad"].state == NodeState.SKIPPED
    assert "bad" in ev.of(EventKind.NODE_SKIPPED, "after_bad")[0].data["reason"]
    assert res.nodes["good"].state == NodeState.SUCCEEDED
    assert res.nodes["slow"].state == NodeState.SUCCEEDED


def test_failure_policy_stop_cancels_everything(reg, tmp_path):
    wf = Workflow()
    _diamond_with_failure(reg, wf)
    slow_pid = tmp_path / "slow.pid"
    wf.nodes["slow"].terminals["seconds"].value = 30.0
    wf.nodes["slow"].terminals["pidfile"].value = str(slow_pid)
    # make the failure come after the sleeper has started (its Python start-up and pid file
    # included, on a slow machine too)
    wf.nodes["bad"].set_settings({"max_retries": 1, "retry_interval_s": 3.0})
    t0 = time.monotonic()
    res, ev = run(wf, reg, tmp_path, failure_policy="stop", jobs=4)
    assert time.monotonic() - t0 < 15
    assert res.nodes["bad"].state == NodeState.FAILED
    assert res.nodes["slow"].state == NodeState.CANCELLED
    assert res.nodes["after_bad"].state == NodeState.SKIPPED
    pids = [int(x) for x in slow_pid.read_text().split()]
    assert wait_for(lambda: not any(pid_alive(p) for p in pids))


def test_retries_wait_their_interval_on_the_injected_clock(tmp_path):
    fails = {"flaky": 2}
    reg = registry_with_test_types(fails)
    wf = Workflow()
    fl = add(wf, reg, ("test", "Flaky"), name="flaky", input=7.0)
    fl.set_settings({"max_retries": 3, "retry_interval_s": 30.0})
    clock = ManualClock()
    t0 = clock.time()
    real0 = time.monotonic()
    res, ev = run(wf, reg, tmp_path, clock=clock)
    assert res.state == RunState.SUCCEEDED and res.nodes["flaky"].outputs == {"result": 7.0}
    retries = ev.of(EventKind.NODE_RETRYING, "flaky")
    assert [e.attempt for e in retries] == [1, 2]
    assert all(e.data["delay_s"] == 30.0 for e in retries)
    starts = [e.time for e in ev.of(EventKind.NODE_QUEUED, "flaky")]
    assert len(starts) == 3
    assert starts[1] - starts[0] >= 30.0 and starts[2] - starts[1] >= 30.0
    assert clock.time() - t0 >= 60.0
    assert time.monotonic() - real0 < 10  # no real waiting
    assert res.nodes["flaky"].attempts == 3


def test_retries_exhausted_fail_the_node(tmp_path):
    reg = registry_with_test_types({"flaky": 5})
    wf = Workflow()
    fl = add(wf, reg, ("test", "Flaky"), name="flaky")
    fl.set_settings({"max_retries": 1, "retry_interval_s": 5})
    res, ev = run(wf, reg, tmp_path, clock=ManualClock())
    assert res.nodes["flaky"].state == NodeState.FAILED
    assert res.nodes["flaky"].attempts == 2
    assert len(ev.of(EventKind.NODE_RETRYING)) == 1


def test_cancel_kills_subprocesses_and_their_children(reg, tmp_path):
    wf = Workflow()
    pidfiles = []
    for i in range(2):
        pf = tmp_path / f"s{i}.pid"
        pidfiles.append(pf)
        add(wf, reg, ("test", "Sleep"), name=f"sleep{i}", seconds=60.0, pidfile=str(pf))
    after = add(wf, reg, ("math", "Negate"), name="after")
    holder = {}
    result = {}

    def go():
        result["r"], result["ev"] = run(wf, reg, tmp_path, jobs=2,
                                        on_scheduler=lambda s: holder.__setitem__("s", s))

    t = threading.Thread(target=go)
    t.start()
    assert wait_for(lambda: all(p.exists() and p.read_text() for p in pidfiles), timeout=15)
    pids = [int(x) for p in pidfiles for x in p.read_text().split()]
    assert all(pid_alive(p) for p in pids)
    holder["s"].cancel()
    t.join(timeout=20)
    assert not t.is_alive()
    res = result["r"]
    assert res.state == RunState.CANCELLED
    assert res.nodes["sleep0"].state == NodeState.CANCELLED
    assert res.nodes["after"].state in (NodeState.SUCCEEDED, NodeState.SKIPPED)
    assert wait_for(lambda: not any(pid_alive(p) for p in pids), timeout=10), "processes survived cancel"


def test_a_running_command_is_reported_started_while_it_runs(reg, tmp_path):
    # subprocesses don't wake the scheduler as they start: the executor reports them running at the
    # scheduler's next poll, which comes within log_poll_s (0.2 s) while anything runs
    wf = Workflow()
    add(wf, reg, ("test", "Sleep"), name="slow", seconds=2.0, pidfile="")
    seen = {}

    class Watch:
        def on_event(self, e):
            if e.kind in (EventKind.NODE_STARTED, EventKind.NODE_SUCCEEDED):
                seen[e.kind] = time.monotonic()

    res, ev = run(wf, reg, tmp_path, observers=[Watch()])
    assert res.state == RunState.SUCCEEDED
    # the command sleeps 2 s: reported started well before it ended, not together with its end
    assert seen[EventKind.NODE_SUCCEEDED] - seen[EventKind.NODE_STARTED] > 1.0
    assert [e.kind for e in ev.events if e.node == "slow"][:2] == [EventKind.NODE_QUEUED, EventKind.NODE_STARTED]


def test_cancel_escalates_to_sigkill_after_grace(reg, tmp_path):
    from nodeflow.executors.local import LocalExecutor, LocalSettings

    wf = Workflow()
    pf = tmp_path / "stubborn.pid"
    code = ("import os, signal, sys, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "open(sys.argv[1], 'w').write(str(os.getpid()))\ntime.sleep(60)")
    add(wf, reg, ("test", "PyCmd"), name="stubborn", code=code, args=[str(pf)])
    ex = LocalExecutor(LocalSettings(jobs=1, cancel_grace_s=0.5), registry=reg)
    holder, result = {}, {}
    t = threading.Thread(target=lambda: result.setdefault("r", run(
        wf, reg, tmp_path, executors={"local": ex}, on_scheduler=lambda s: holder.__setitem__("s", s))))
    t.start()
    assert wait_for(lambda: pf.exists() and pf.read_text(), timeout=15)
    pid = int(pf.read_text())
    holder["s"].cancel()
    t.join(timeout=20)
    ex.close()
    assert wait_for(lambda: not pid_alive(pid), timeout=5), "SIGTERM-ignoring process was not killed"


def test_node_timeout_fails_the_node(reg, tmp_path):
    wf = Workflow()
    pf = tmp_path / "t.pid"
    s = add(wf, reg, ("test", "Sleep"), name="slow", seconds=30.0, pidfile=str(pf))
    s.set_settings({"timeout_s": 3.0})  # long enough for the sleeper to start and write its pid file
    res, ev = run(wf, reg, tmp_path)
    assert res.nodes["slow"].state == NodeState.FAILED
    assert "timed out" in res.nodes["slow"].error
    pids = [int(x) for x in pf.read_text().split()]
    assert wait_for(lambda: not any(pid_alive(p) for p in pids))


def test_rerun_failed_reuses_succeeded_outputs(tmp_path):
    fails = {"flaky": 1}
    reg = registry_with_test_types(fails)
    wf = Workflow()
    src = add(wf, reg, ("types", "Float"), name="src", float=3.0)
    pw = add(wf, reg, ("math", "Power"), name="pw", exponent=2.0)
    fl = add(wf, reg, ("test", "Flaky"), name="flaky")
    neg = add(wf, reg, ("math", "Negate"), name="neg")
    other = add(wf, reg, ("math", "Absolute"), name="other", input=-2.0)
    link(wf, src, "float", pw, "base")
    link(wf, pw, "result", fl, "input")
    link(wf, fl, "result", neg, "input")
    store = HistoryStore(tmp_path / "h.sqlite")
    first, _ = run(wf, reg, tmp_path, history=store)
    assert first.nodes["flaky"].state == NodeState.FAILED
    assert first.nodes["neg"].state == NodeState.SKIPPED
    second, ev = run(wf, reg, tmp_path, history=store, rerun_failed=first.run_id)
    assert second.state == RunState.SUCCEEDED
    assert second.nodes["neg"].outputs["result"] == -9.0
    reused = {e.node for e in ev.of(EventKind.NODE_SUCCEEDED) if e.data["reused"]}
    assert reused == {"src", "pw", "other"}
    assert not ev.of(EventKind.NODE_STARTED, "pw")  # not run again
    assert ev.of(EventKind.NODE_STARTED, "flaky") and ev.of(EventKind.NODE_STARTED, "neg")
    # a changed input is not reused
    wf.nodes["src"].terminals["float"].value = 4.0
    third, ev3 = run(wf, reg, tmp_path, history=store, rerun_failed=second.run_id)
    reused3 = {e.node for e in ev3.of(EventKind.NODE_SUCCEEDED) if e.data["reused"]}
    assert reused3 == {"other"}
    assert third.nodes["neg"].outputs["result"] == -16.0
    assert store.run(second.run_id)["parent_run_id"] == first.run_id
    store.close()


def test_forcerun_node_is_never_reused(tmp_path):
    reg = registry_with_test_types()
    wf = Workflow()
    a = add(wf, reg, ("math", "Absolute"), name="a", input=-1.0)
    a.forcerun = True
    add(wf, reg, ("math", "Absolute"), name="b", input=-1.0)
    store = HistoryStore(tmp_path / "h.sqlite")
    first, _ = run(wf, reg, tmp_path, history=store)
    _, ev = run(wf, reg, tmp_path, history=store, rerun_failed=first.run_id)
    reused = {e.node for e in ev.of(EventKind.NODE_SUCCEEDED) if e.data["reused"]}
    assert reused == {"b"}
    store.close()


def test_history_rows_are_written(reg, tmp_path):
    wf = Workflow()
    f = add(wf, reg, ("types", "Float"), name="f", float=2.0)
    n = add(wf, reg, ("math", "Negate"), name="n")
    link(wf, f, "float", n, "input")
    c = add(wf, reg, ("test", "PyCmd"), name="c", code="import sys; print('hi'); sys.exit(0)")
    wf.source_path = str(tmp_path / "flow.nc")
    store = HistoryStore(tmp_path / "h.sqlite")
    res, _ = run(wf, reg, tmp_path, history=store)
    # rows are written on the recorder's own thread, which may finish after the run returned: this
    # store's reads wait for the run's end it promised, and then the thread stops by itself
    run_row = store.run(res.run_id)
    for t in [t for t in threading.enumerate() if t.name == "nodeflow-history-writer"]:
        t.join(10)
        assert not t.is_alive()
    assert run_row["state"] == "succeeded" and run_row["node_count"] == 3
    assert run_row["workflow_path"] == str(tmp_path / "flow.nc") and run_row["workflow_hash"]
    rows = {a["node"]: a for a in store.attempts(res.run_id)}
    assert set(rows) == {"f", "n", "c"}
    for a in rows.values():
        assert a["state"] == "succeeded" and a["attempt"] == 1 and a["executor"] == "local"
        assert a["queued_at"] <= a["started_at"] <= a["finished_at"]
    assert rows["n"]["node_type"] == "math/Negate"
    assert rows["c"]["exit_code"] == 0
    assert open(rows["c"]["stdout_path"]).read() == "hi\n"
    store.close()


def test_unknown_types_refused_unless_skipped(reg, tmp_path):
    wf = Workflow()
    f = add(wf, reg, ("types", "Float"), name="f", float=2.0)
    from nodeflow.model import Node, Terminal

    wf.add_node(Node("mystery", ("vendor", "Mystery"), terminals={
        "input": Terminal(None, False, {"in": True, "out": False}),
        "out": Terminal(None, False, {"in": False, "out": True})}))
    down = add(wf, reg, ("math", "Negate"), name="down")
    link(wf, f, "float", wf.nodes["mystery"], "input")
    wf.connect(("mystery", "out"), ("down", "input"))
    other = add(wf, reg, ("math", "Negate"), name="other", input=1.0)
    with pytest.raises(PlanError) as e:
        RunPlan.build(wf, reg)
    assert "mystery" in str(e.value) and "vendor/Mystery" in str(e.value)
    res, ev = run(wf, reg, tmp_path, skip_unknown=True)
    assert res.nodes["mystery"].state == NodeState.SKIPPED
    assert res.nodes["down"].state == NodeState.SKIPPED
    assert res.nodes["other"].outputs["result"] == -1.0
    assert res.nodes["f"].state == NodeState.SUCCEEDED


def test_invalid_workflow_is_refused_before_anything_runs(reg, tmp_path):
    wf = Workflow()
    a = add(wf, reg, ("math", "Negate"), name="a")
    b = add(wf, reg, ("math", "Negate"), name="b")
    link(wf, a, "result", b, "input")
    link(wf, b, "result", a, "input")
    with pytest.raises(PlanError) as e:
        run(wf, reg, tmp_path)
    assert "cycle: a -> b -> a" in str(e.value)


def test_command_values_reach_the_program_verbatim(reg, tmp_path):
    wf = Workflow()
    victim = tmp_path / "x"
    victim.mkdir()
    nasty = f"; rm -rf {victim}"
    c = add(wf, reg, ("shell", "Command"), name="c", command="printf",
            args=["%s|", nasty, "it's \"quoted\"", "$HOME", "a b"])
    res, _ = run(wf, reg, tmp_path)
    assert res.state == RunState.SUCCEEDED
    assert res.nodes["c"].outputs["stdout"] == f"{nasty}|it's \"quoted\"|$HOME|a b|"
    assert victim.exists()


def test_command_failure_keeps_its_log_and_streams_it(reg, tmp_path):
    wf = Workflow()
    add(wf, reg, ("test", "PyCmd"), name="c",
        code="import sys; print('out line'); print('bad thing', file=sys.stderr); sys.exit(4)")
    res, ev = run(wf, reg, tmp_path)
    assert res.nodes["c"].state == NodeState.FAILED
    assert "status 4" in res.nodes["c"].error and "bad thing" in res.nodes["c"].error
    failed = ev.of(EventKind.NODE_FAILED, "c")[0]
    assert failed.data["exit_code"] == 4
    assert open(failed.data["stderr_path"]).read() == "bad thing\n"
    logs = [(e.data["stream"], e.data["line"]) for e in ev.of(EventKind.NODE_LOG, "c")]
    assert ("stdout", "out line") in logs and ("stderr", "bad thing") in logs


def test_missing_program_fails_cleanly(reg, tmp_path):
    wf = Workflow()
    add(wf, reg, ("shell", "Command"), name="c", command="/no/such/program-xyz", args=[])
    res, _ = run(wf, reg, tmp_path)
    assert res.nodes["c"].state == NodeState.FAILED
    assert "/no/such/program-xyz" in res.nodes["c"].error


def test_isolated_python_node_runs_in_the_worker(reg, tmp_path):
    wf = Workflow()
    rng = add(wf, reg, ("numpy", "Range"), name="rng", start=0.0, stop=1.0, step=0.25, type="float")
    rng.set_settings({"isolate": True})
    trig = add(wf, reg, ("numpy", "Trig"), name="trig", operation="cos")
    trig.set_settings({"isolate": True})
    link(wf, rng, "range", trig, "input")
    res, ev = run(wf, reg, tmp_path)
    assert res.state == RunState.SUCCEEDED, res.to_json()
    out = res.nodes["trig"].outputs["array"]
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, np.cos(np.arange(0, 1.0, 0.25)))
    # the spec and result with arrays beside them are in the node's folder
    folder = tmp_path / "runs" / res.run_id / "trig"
    assert (folder / "spec.json").exists() and (folder / "result.json").exists()
    assert list(folder.glob("*.npy"))


def test_a_finished_run_is_freed_without_the_cyclic_gc(reg, tmp_path):
    """Executors hold the scheduler's wake-up event, not the scheduler: once a run is over, its
    state goes by reference counting alone (no cycle waits for a full collection)."""
    import gc
    import weakref

    wf = Workflow()
    a = add(wf, reg, ("types", "Float"), "a", float=2.0)
    b = add(wf, reg, ("math", "Negate"), "b")
    link(wf, a, "float", b, "input")
    refs = []
    gc.disable()
    try:
        result = run_workflow(wf, registry=reg, runs_dir=tmp_path, on_scheduler=lambda s: refs.append(weakref.ref(s)))
        assert result.state.value == "succeeded" and result.nodes["b"].outputs["result"] == -2.0
        assert len(refs) == 1 and refs[0]() is None  # gone with run_workflow's frame, the GC off
    finally:
        gc.enable()


def test_objects_built_while_the_gc_is_paused_are_not_walked_afterwards():
    import gc

    from nodeflow.model.gcpause import paused_gc

    with paused_gc():
        built = [{"n": [i]} for i in range(50_000)]
    assert gc.isenabled()
    assert gc.get_count()[0] < 1000  # promoted, not left in the young generation for the next collection
    assert built[-1] == {"n": [49_999]}


def test_a_quiet_run_sets_off_no_young_collection_and_leaves_its_objects_old():
    import gc
    import weakref

    from nodeflow.model.gcpause import quiet_gc

    class Cyclic:
        pass

    before = gc.get_threshold()
    collections = []

    def seen(phase, info):
        if phase == "start":
            collections.append(info["generation"])

    gc.callbacks.append(seen)
    try:
        with quiet_gc(200_000):
            kept = [{"n": [i]} for i in range(50_000)]  # a run's records: no collection for them
            loop = Cyclic()
            loop.me = loop  # garbage in a cycle, made during the run
            gone = weakref.ref(loop)
            del loop
    finally:
        gc.callbacks.remove(seen)
    assert collections == []
    assert gc.get_threshold() == before and gc.get_count()[0] < 1000  # promoted in O(1), not walked
    assert gone() is not None
    gc.collect()
    assert gone() is None  # a full collection still frees it
    assert kept[-1] == {"n": [49_999]}
