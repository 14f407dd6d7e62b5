"""EtaTracker during a run: the ETA converges, priors are shown as such, the run teaches, throttling,
polling from another thread, generator additions, a real run through run_workflow and the CLI display."""
from __future__ import annotations

import io
import math
import random
import re
import threading

import pytest

from nodeflow.engine import ManualClock, RunPlan, run_workflow
from nodeflow.engine.plan import workflow_hash
from nodeflow.engine.events import EventKind as K
from nodeflow.engine.events import RunEvent
from nodeflow.history.eta import (EtaConfig, EtaTracker, Estimate, Estimator, NodeEstimate, NodeSpec,
                                  ScheduleModel, format_eta)
from nodeflow.library import builtin_registry
from nodeflow.model import Workflow

from .conftest import WF, list_schedule, replay_events


def layered(n_layers=6, width=5, seed=3):
    rnd = random.Random(seed)
    names, edges, prev = [], [], []
    for layer in range(n_layers):
        cur = [f"L{layer}n{k}" for k in range(width)]
        for v in cur:
            for u in rnd.sample(prev, min(2, len(prev))):
                edges.append((u, v))
        names += cur
        prev = cur
    return names, edges


def errors_at_checkpoints(tracker, events, end, marks=(0.0, 0.25, 0.5, 0.75, 0.9)):
    total = len(tracker.model)
    out, done, todo = [], 0, list(marks)
    for e in events:
        tracker.on_event(e)
        if e.kind is K.RUN_STARTED and todo and todo[0] == 0.0:
            todo.pop(0)
            out.append(abs(tracker.recompute(e.time).eta - end))
        if e.kind is K.NODE_SUCCEEDED:
            done += 1
            while todo and done >= todo[0] * total:
                todo.pop(0)
                out.append(abs(tracker.recompute(e.time).eta - end))
    return out


def _replayed_errors(seed: int):
    """A 30-node workflow with 5 runs of history; a sixth run replayed: the ETA's errors (fraction of the run)."""
    from nodeflow.history import HistoryStore

    from .conftest import HistoryWriter

    rnd = random.Random(seed)
    names, edges = layered(seed=seed)
    true = {n: math.exp(rnd.gauss(math.log(30), 0.7)) for n in names}
    with HistoryStore(":memory:") as store:
        history = HistoryWriter(store)
        for _ in range(5):
            history.run({n: m * math.exp(rnd.gauss(0, 0.2)) for n, m in true.items()})
        specs = [NodeSpec(n, "math/Add") for n in names]
        ests = Estimator(store).estimate(specs, workflow_path=WF)
    actual = {n: m * math.exp(rnd.gauss(0, 0.2)) for n, m in true.items()}
    times = list_schedule(names, edges, actual, slots=3, t0=5_000.0)
    end = max(f for _, _, f in times.values())
    tracker = EtaTracker(ScheduleModel(names, edges, ["local"] * len(names), {"local": 3}), specs, ests, auto=False)
    assert all(s == "history:node" for s in tracker.recompute(0.0).sources)
    errs = errors_at_checkpoints(tracker, replay_events(times, t0=5_000.0), end)
    fc = tracker.forecast
    assert fc.eta_low <= fc.eta <= fc.eta_high
    return [e / (end - 5_000.0) for e in errs]


def test_eta_converges_as_nodes_finish():
    # one run is noisy (a single long node can be 20 % off); over a dozen workflows the error shrinks
    runs = [_replayed_errors(seed) for seed in range(12)]
    mean = [sum(col) / len(col) for col in zip(*runs)]  # at 0, 25, 50, 75, 90 % of the nodes done
    assert mean[4] < mean[3] < min(mean[:3])
    assert mean[4] < 0.6 * mean[0]
    assert mean[2] < 0.10  # within 10 % of the run's length at half way


def test_without_history_the_prior_is_used_and_shown_then_same_type_nodes_teach(store):
    names = [f"n{i}" for i in range(8)]
    specs = [NodeSpec(n, "math/Add") for n in names]
    ests = Estimator(store).estimate(specs, workflow_path=WF)  # an empty history
    tracker = EtaTracker(ScheduleModel(names, [], ["local"] * 8, {"local": 2}), specs, ests, auto=False)
    fc = tracker.recompute(0.0)
    assert set(fc.sources) == {"prior:default"} and fc.mostly_priors()
    assert fc.node("n0").source == "prior:default" and fc.node("n0").estimate.samples == 0
    assert "from priors" in format_eta(fc, now=0.0)
    prior_eta = fc.eta
    # the first two nodes take 2 s each: the others are expected to take about that too
    for n in ("n0", "n1"):
        tracker.on_event(RunEvent(K.NODE_QUEUED, "r", 0.0, n, 1, {}))
        tracker.on_event(RunEvent(K.NODE_STARTED, "r", 0.0, n, 1, {}))
    for n in ("n0", "n1"):
        tracker.on_event(RunEvent(K.NODE_SUCCEEDED, "r", 2.0, n, 1, {}))
    fc = tracker.recompute(2.0)
    assert fc.node("n5").source == "run:type" and fc.node("n5").estimate.samples == 2
    assert fc.node("n5").estimate.seconds == pytest.approx(2.0, rel=0.15)
    assert fc.eta == pytest.approx(2.0 + 3 * 2.0, rel=0.15)  # 6 left, 2 at a time
    assert fc.eta < prior_eta and not fc.mostly_priors()


def test_a_slow_run_moves_the_eta_through_the_speed_factor():
    names = [f"n{i}" for i in range(20)]
    specs = [NodeSpec(n, "t/T") for n in names]
    ests = [NodeEstimate(Estimate(10.0, 1.0, "history:node", 5)) for _ in names]
    tracker = EtaTracker(ScheduleModel(names, [], ["local"] * 20, {"local": 1}), specs, ests, auto=False)
    assert tracker.recompute(0.0).eta == pytest.approx(200.0)
    t = 0.0
    for n in names[:10]:  # everything takes 15 s today
        tracker.on_event(RunEvent(K.NODE_STARTED, "r", t, n, 1, {}))
        t += 15.0
        tracker.on_event(RunEvent(K.NODE_SUCCEEDED, "r", t, n, 1, {}))
    fc = tracker.recompute(t)
    assert 1.2 < tracker.speed_factor() < 1.5 and fc.speed_factor == tracker.speed_factor()
    naive_left = 10 * 10.0
    assert fc.eta - t > 1.2 * naive_left  # the rest is expected slower too
    assert fc.node("n15").estimate.seconds == pytest.approx(10.0 * tracker.speed_factor())


def test_on_event_recomputes_at_most_every_min_interval_of_event_time():
    names = [f"n{i}" for i in range(50)]
    specs = [NodeSpec(n, "t/T") for n in names]
    ests = [NodeEstimate(Estimate(1.0, 0.1, "history:node", 5)) for _ in names]
    tracker = EtaTracker(ScheduleModel(names, [], ["local"] * 50, {"local": 50}), specs, ests,
                         config=EtaConfig(min_interval_s=0.25))
    seen = []
    tracker.listeners.append(seen.append)
    t = 0.0
    for n in names:  # 150 events over 1.5 s of event time
        for kind in (K.NODE_QUEUED, K.NODE_STARTED, K.NODE_SUCCEEDED):
            t += 0.01
            tracker.on_event(RunEvent(kind, "r", t, n, 1, {}))
    assert 5 <= len(seen) <= 7
    assert all(b.computed_at - a.computed_at >= 0.25 - 1e-9 for a, b in zip(seen, seen[1:]))
    tracker.on_event(RunEvent(K.RUN_FINISHED, "r", t + 0.001, data={"state": "succeeded"}))
    assert tracker.forecast.finished and tracker.forecast.eta == t + 0.001 and tracker.forecast.band_s == 0
    assert tracker.update(t + 10) is tracker.forecast  # a finished run is not recomputed


def test_update_polls_from_another_thread_while_events_arrive():
    names, edges = layered(10, 20, seed=5)
    specs = [NodeSpec(n, "t/T") for n in names]
    ests = [NodeEstimate(Estimate(5.0, 1.0, "history:node", 5)) for _ in names]
    tracker = EtaTracker(ScheduleModel(names, edges, ["local"] * len(names), {"local": 4}), specs, ests,
                         config=EtaConfig(min_interval_s=0.0))
    times = list_schedule(names, edges, {n: 5.0 for n in names}, 4)
    clock = ManualClock(start=0.0)
    tracker.clock = clock
    stop = threading.Event()
    errors, polled = [], []

    def poll():
        while not stop.is_set():
            try:
                polled.append(tracker.update())
            except Exception as e:  # pragma: no cover - the failure being tested for
                errors.append(e)
                return

    th = threading.Thread(target=poll)
    th.start()
    try:
        for e in replay_events(times):
            clock.now = e.time
            tracker.on_event(e)
    finally:
        stop.set()
        th.join(10)
    assert not errors and polled
    assert tracker.forecast.finished and tracker.forecast.done == len(names)


def test_nodes_added_by_a_generator_join_the_schedule():
    specs = [NodeSpec("gen", "t/Gen"), NodeSpec("after", "t/T")]
    ests = [NodeEstimate(Estimate(10.0, 0.0, "history:node", 3)), NodeEstimate(Estimate(5.0, 0.0, "history:node", 3))]
    tracker = EtaTracker(ScheduleModel(["gen", "after"], [("gen", "after")], ["local"] * 2, {"local": 1}),
                         specs, ests, config=EtaConfig(systematic_log_sigma=0.0), auto=False,
                         default_executor="local")
    tracker.on_event(RunEvent(K.NODE_QUEUED, "r", 0.0, "gen", 1, {}))
    tracker.on_event(RunEvent(K.NODE_STARTED, "r", 0.0, "gen", 1, {}))
    assert tracker.recompute(1.0).eta == 15.0
    # the generator adds two nodes: gen -> calc_a -> after, gen -> calc_b -> after
    nodes = {n: {"type": "Node", "path": ["shell", "Command"], "customState": None} for n in ("calc_a", "calc_b")}
    conns = {f"c{k}": {"type": "Connection", "input": list(i), "output": list(o)} for k, (i, o) in enumerate(
        [(("gen", "stdout"), ("calc_a", "args")), (("gen", "stdout"), ("calc_b", "args")),
         (("calc_a", "exitcode"), ("after", "in")), (("calc_b", "exitcode"), ("after", "in"))])}
    tracker.on_event(RunEvent(K.NODES_ADDED, "r", 9.0, "gen", 1, {"by": "gen", "nodes": nodes, "connections": conns}))
    tracker.on_event(RunEvent(K.NODE_SUCCEEDED, "r", 10.0, "gen", 1, {}))
    fc = tracker.recompute(10.0)
    assert fc.total == 4 and fc.names.index("after") > fc.names.index("calc_b")
    assert fc.node("calc_a").source == "prior:default" and fc.node("calc_a").state == "pending"
    d = fc.node("calc_a").estimate.seconds
    # one slot: calc_a, calc_b, then after
    assert fc.expected_start("after") == pytest.approx(10.0 + 2 * d)
    assert fc.eta == pytest.approx(10.0 + 2 * d + 5.0)
    tracker.on_event(RunEvent(K.NODE_STARTED, "r", 10.0, "calc_a", 1, {}))
    tracker.on_event(RunEvent(K.NODE_SUCCEEDED, "r", 11.0, "calc_a", 1, {}))
    fc = tracker.recompute(11.0)
    assert fc.node("calc_a").state == "succeeded" and fc.node("calc_b").source == "run:type"
    assert fc.eta == pytest.approx(11.0 + 1.0 + 5.0, rel=0.05)


def _workflow(n=6):
    reg = builtin_registry()
    wf = Workflow()
    first = reg.create_node(("types", "Float"), wf)
    wf.add_node(first)
    prev = first.uniquename, "float"
    for _ in range(n - 1):
        node = reg.create_node(("math", "Negate"), wf)
        wf.add_node(node)
        wf.connect(prev, (node.uniquename, "input"))
        prev = node.uniquename, "result"
    return reg, wf


def test_a_real_run_with_history_and_the_tracker(tmp_path, store):
    reg, wf = _workflow()
    plan = RunPlan.build(wf, reg)
    for k in range(2):
        # an unsaved workflow: its runs are found by content hash
        tracker = EtaTracker.for_plan(plan, store, slots={"local": 2}, workflow_hash=workflow_hash(wf),
                                      clock=ManualClock())
        res = run_workflow(wf, registry=reg, plan=RunPlan.build(wf, reg), jobs=2, history=store,
                           observers=[tracker], runs_dir=tmp_path / "runs", clock=ManualClock())
        assert res.state.value == "succeeded"
        fc = tracker.forecast
        assert fc.finished and fc.done == fc.total == 6 and fc.eta == pytest.approx(res.finished_at)
        wanted = "prior:default" if k == 0 else "history:node"
        assert set(tracker.base[i].duration.source for i in range(6)) == {wanted}


def test_console_progress_shows_the_eta():
    from nodeflow.commands.progress import ConsoleProgress

    names = ["a", "b", "c"]
    specs = [NodeSpec(n, "t/T") for n in names]
    ests = [NodeEstimate(Estimate(600.0, 60.0, "history:node", 5)) for _ in names]
    tracker = EtaTracker(ScheduleModel(names, [], ["local"] * 3, {"local": 1}), specs, ests)
    out = io.StringIO()
    progress = ConsoleProgress(stream=out, force_plain=True, plain_interval_s=0.0, eta=tracker)
    t0 = 1_700_000_000.0
    for e in (RunEvent(K.RUN_STARTED, "r", t0, data={"total": 3}),
              RunEvent(K.NODE_STARTED, "r", t0, "a", 1, {}),
              RunEvent(K.RUN_PROGRESS, "r", t0 + 1, data={"done": 0, "total": 3, "running": 1})):
        tracker.on_event(e)
        progress.on_event(e)
    line = [x for x in out.getvalue().splitlines() if x.startswith("progress:")][-1]
    m = re.search(r"ETA (?:\w{3} \d\d \w{3} )?(\d\d):(\d\d) \(± (\d+|<1) min\)", line)
    assert m, line
    assert int(m.group(3)) >= 1  # three nodes of 10 min ± 1 min, one after another
    import time as _time

    expected = _time.localtime(tracker.forecast.eta)
    assert (int(m.group(1)), int(m.group(2))) == (expected.tm_hour, expected.tm_min)


def test_a_real_run_whose_generator_adds_nodes(tmp_path):
    """The scheduler's NODES_ADDED reaches the tracker, which schedules and finishes the new nodes too."""
    import base64
    import json
    import sys

    reg = builtin_registry()
    wf = Workflow()
    gen = reg.create_node(("shell", "Command"), wf)
    gen.uniquename = "pull"
    wf.add_node(gen)
    frag = {}
    for n in ("calc_a", "calc_b"):
        frag[n] = {"type": "Node", "path": ["shell", "Command"], "values": {"command": "echo", "args": [n]}}
        frag[f"to_{n}"] = {"type": "Connection", "input": ["pull", "exitcode"], "output": [n, "after"]}
        frag[f"from_{n}"] = {"type": "Connection", "input": [n, "exitcode"], "output": ["report", "after"]}
    gen.terminals["command"].value = sys.executable
    gen.terminals["args"].value = ["-c", "import base64, sys; sys.stdout.write(base64.b64decode(sys.argv[1]).decode())",
                                   base64.b64encode(json.dumps(frag).encode()).decode()]
    gen.set_settings({"generator": True})
    report = reg.create_node(("shell", "Command"), wf)
    report.uniquename = "report"
    wf.add_node(report)
    report.terminals["command"].value = "echo"
    wf.connect(("pull", "exitcode"), ("report", "after"))
    plan = RunPlan.build(wf, reg)
    tracker = EtaTracker.for_plan(plan, None, slots={"local": 2})
    seen = []
    tracker.listeners.append(seen.append)
    res = run_workflow(wf, registry=reg, plan=plan, jobs=2, observers=[tracker], runs_dir=tmp_path)
    assert res.state.value == "succeeded"
    fc = tracker.forecast
    assert fc.finished and fc.total == fc.done == 4 and set(fc.names) == {"pull", "calc_a", "calc_b", "report"}
    assert fc.names.index("report") > max(fc.names.index("calc_a"), fc.names.index("calc_b"))
    assert all(fc.node(n).state == "succeeded" for n in fc.names)
