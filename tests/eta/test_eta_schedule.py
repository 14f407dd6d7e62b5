"""The remaining-schedule simulation: dependencies, slots per executor, queue waits, running nodes —
small cases whose answer can be worked out by hand."""
from __future__ import annotations

import pytest

from nodeflow.engine.events import EventKind as K
from nodeflow.engine.events import RunEvent
from nodeflow.history.eta import Estimate, EtaConfig, EtaTracker, NodeEstimate, NodeSpec, ScheduleModel

EXACT = EtaConfig(systematic_log_sigma=0.0)


def tracker(names, edges, durs, slots, executors=None, waits=None, sigma=0.0, config=EXACT):
    executors = executors or ["local"] * len(names)
    model = ScheduleModel(names, edges, executors, slots)
    specs = [NodeSpec(n, "t/T", e) for n, e in zip(names, executors)]
    ests = [NodeEstimate(Estimate(d, sigma * d, "history:node", 5),
                         Estimate((waits or {}).get(n, 0.0), 0.0, "history:queue" if waits else "none"))
            for n, d in zip(names, durs)]
    return EtaTracker(model, specs, ests, config=config, auto=False)


def ev(kind, node=None, t=0.0, **data):
    return RunEvent(kind, "r", t, node, 1, data)


def times(fc):
    return {n: (fc.expected_start(n), fc.expected_finish(n)) for n in fc.names}


def test_a_chain_runs_one_after_another():
    fc = tracker(["a", "b", "c"], [("a", "b"), ("b", "c")], [10, 20, 5], {"local": 4}).recompute(100.0)
    assert times(fc) == {"a": (100, 110), "b": (110, 130), "c": (130, 135)}
    assert fc.eta == 135 and fc.chain == ("a", "b", "c") and fc.remaining_s == 35


def test_slots_limit_what_runs_at_once():
    # four independent 10 s nodes, two slots: two rounds
    fc = tracker(list("abcd"), [], [10, 10, 10, 10], {"local": 2}).recompute(0.0)
    assert times(fc) == {"a": (0, 10), "b": (0, 10), "c": (10, 20), "d": (10, 20)}
    assert fc.eta == 20


def test_diamond_with_two_slots_is_fifo_by_readiness():
    #   a(5) -> b(10), c(3) -> d(1);  e(20) independent, ready at the start behind a
    names = ["a", "e", "b", "c", "d"]
    edges = [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]
    fc = tracker(names, edges, [5, 20, 10, 3, 1], {"local": 2}).recompute(0.0)
    # a and e start at 0; at 5 a frees a slot: b (first ready) starts; c waits for a slot:
    # b ends at 15 -> c runs 15-18 -> d 18-19; e ends at 20
    assert times(fc) == {"a": (0, 5), "e": (0, 20), "b": (5, 15), "c": (15, 18), "d": (18, 19)}
    assert fc.eta == 20 and fc.chain[-1] == "e"


def test_each_executor_has_its_own_slots():
    names = ["l1", "l2", "s1", "s2", "s3"]
    execs = ["local", "local", "slurm:hpc", "slurm:hpc", "slurm:hpc"]
    fc = tracker(names, [], [10, 10, 30, 30, 30], {"local": 1, "slurm:hpc": 2}, execs).recompute(0.0)
    assert times(fc) == {"l1": (0, 10), "l2": (10, 20), "s1": (0, 30), "s2": (0, 30), "s3": (30, 60)}
    assert fc.eta == 60


def test_remote_nodes_wait_in_the_queue_first():
    names = ["a", "b"]
    fc = tracker(names, [("a", "b")], [10, 10], {}, ["slurm:hpc"] * 2, waits={"a": 5.0, "b": 7.0}).recompute(0.0)
    assert times(fc) == {"a": (5, 15), "b": (22, 32)}  # no slot limit for Slurm unless given


def test_a_node_queued_on_slurm_starts_after_its_wait_from_when_it_was_queued():
    t = tracker(["a"], [], [10], {}, ["slurm:hpc"], waits={"a": 60.0})
    t.on_event(ev(K.NODE_QUEUED, "a", 100.0))
    assert times(t.recompute(130.0)) == {"a": (160, 170)}
    assert times(t.recompute(200.0)) == {"a": (200, 210)}  # overdue: it may start any moment


def test_running_nodes_need_the_rest_of_their_estimate_or_a_floor():
    t = tracker(["a", "b"], [("a", "b")], [100, 10], {"local": 2})
    t.on_event(ev(K.NODE_QUEUED, "a", 0.0))
    t.on_event(ev(K.NODE_STARTED, "a", 0.0))
    fc = t.recompute(30.0)
    assert times(fc) == {"a": (0, 100), "b": (100, 110)}  # started at 0: 70 s to go
    fc = t.recompute(150.0)  # overrunning: at least the floor (10 % of its estimate) more
    assert fc.expected_finish("a") == pytest.approx(160.0) and fc.eta == pytest.approx(170.0)


def test_done_nodes_keep_their_real_times_and_release_their_downstream():
    t = tracker(["a", "b", "c"], [("a", "c"), ("b", "c")], [10, 50, 5], {"local": 2})
    for e in (ev(K.NODE_QUEUED, "a", 0), ev(K.NODE_QUEUED, "b", 0), ev(K.NODE_STARTED, "a", 0),
              ev(K.NODE_STARTED, "b", 0), ev(K.NODE_SUCCEEDED, "a", 10.0)):  # a took its estimate
        t.on_event(e)
    fc = t.recompute(20.0)
    assert times(fc) == {"a": (0, 10), "b": (0, 50), "c": (50, 55)}
    assert [fc.node(n).state for n in "abc"] == ["succeeded", "running", "pending"]
    assert fc.done == 1 and fc.chain == ("b", "c")


def test_failed_and_skipped_nodes_are_not_waited_for():
    t = tracker(["a", "b", "c"], [("a", "b")], [10, 100, 5], {"local": 1})
    t.on_event(ev(K.NODE_QUEUED, "a", 0))
    t.on_event(ev(K.NODE_STARTED, "a", 0))
    t.on_event(ev(K.NODE_FAILED, "a", 3.0, reason="exit"))
    t.on_event(ev(K.NODE_SKIPPED, "b", 3.0, reason="upstream failed"))
    fc = t.recompute(3.0)
    assert fc.eta == 8.0 and fc.expected_start("b") is None
    assert fc.node("a").state == "failed" and fc.node("b").state == "skipped" and fc.done == 2


def test_a_retry_is_ready_again_after_its_delay():
    t = tracker(["a"], [], [10], {"local": 1})
    t.on_event(ev(K.NODE_QUEUED, "a", 0))
    t.on_event(ev(K.NODE_STARTED, "a", 0))
    t.on_event(ev(K.NODE_RETRYING, "a", 4.0, delay_s=30.0, next_attempt=2))
    assert times(t.recompute(4.0)) == {"a": (34, 44)}


def test_the_band_grows_with_the_spread_along_the_chain():
    narrow = tracker(["a", "b"], [("a", "b")], [10, 10], {"local": 1}, sigma=0.1).recompute(0.0)
    wide = tracker(["a", "b"], [("a", "b")], [10, 10], {"local": 1}, sigma=0.5).recompute(0.0)
    assert narrow.eta == wide.eta == 20
    # sd of the sum of two independent nodes: sqrt(2) * sigma * 10
    assert narrow.band_s == pytest.approx(1.2816 * 2 ** 0.5 * 1.0, rel=1e-3)
    assert wide.band_s == pytest.approx(5 * narrow.band_s, rel=1e-3)
    assert narrow.eta_low < narrow.eta < narrow.eta_high


def test_critical_path_ignores_slots():
    t = tracker(["a", "b", "c", "d"], [("a", "c"), ("b", "c"), ("c", "d")], [10, 20, 5, 1], {"local": 1})
    assert t.critical_path() == (["b", "c", "d"], 26.0)
    assert t.recompute(0.0).eta == 36.0  # with one slot a and b take turns


def test_names_must_come_in_a_topological_order():
    with pytest.raises(ValueError, match="topological"):
        ScheduleModel(["b", "a"], [("a", "b")], ["local", "local"])
