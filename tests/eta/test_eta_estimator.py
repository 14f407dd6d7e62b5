"""The estimator: statistics, source precedence, queue waits — on synthetic histories in tmp_path."""
from __future__ import annotations

import math

import pytest

from nodeflow.history.eta import EtaConfig, Estimator, NodeSpec, parse_time_limit, queue_key

from .conftest import WF


def est(store, specs, **kw):
    kw.setdefault("workflow_path", WF)
    return Estimator(store).estimate(specs, **kw)


def test_node_history_typical_value_spread_and_count(store, history):
    for d in (10.0, 11.0, 9.0, 10.5, 9.5):
        history.run({"a": d})
    [e] = est(store, [NodeSpec("a", "math/Add")])
    assert e.duration.source == "history:node" and e.duration.samples == 5
    assert e.duration.seconds == pytest.approx(10.0, rel=0.05)
    assert 0 < e.duration.sigma_s < 0.35 * e.duration.seconds
    assert e.duration.low_s < e.duration.seconds < e.duration.high_s
    assert e.queue.source == "none" and e.queue.seconds == 0.0  # local: no queue wait


def test_an_outlier_does_not_drag_the_estimate(store, history):
    for d in (10.0, 10.0, 10.0, 10.0, 1000.0):  # the newest attempt hung on something
        history.run({"a": d})
    [e] = est(store, [NodeSpec("a", "math/Add")])
    assert e.duration.seconds == pytest.approx(10.0, rel=0.1)


def test_recent_attempts_weigh_more(store, history):
    for d in [10.0] * 6 + [20.0] * 4:  # the node became slower lately
        history.run({"a": d})
    [e] = est(store, [NodeSpec("a", "math/Add")])
    assert e.duration.seconds > 14.0  # an unweighted median or mean would say 10 or 14


def test_only_recent_attempts_count(store, history):
    for d in [100.0] * 5 + [10.0] * 10:  # per_node = 10: the old slow ones are out of the window
        history.run({"a": d})
    [e] = est(store, [NodeSpec("a", "math/Add")])
    assert e.duration.seconds == pytest.approx(10.0, rel=0.1) and e.duration.samples == 10


def test_failed_and_reused_attempts_are_ignored(store, history):
    history.run({"a": 10.0})
    history.run({"a": 500.0}, state="failed")
    history.run({"a": 0.001}, reused=True)
    [e] = est(store, [NodeSpec("a", "math/Add")])
    assert e.duration.samples == 1 and e.duration.seconds == pytest.approx(10.0, rel=0.1)


def test_source_precedence(store, history):
    history.run({"a": 10.0, "b": 20.0}, node_type={"a": "math/Add", "b": "math/Power"})  # this workflow
    history.run({"x": 30.0}, workflow_path="/elsewhere.nc", workflow_hash="other", node_type="shell/Command")
    specs = [
        NodeSpec("a", "math/Add"),                                       # history of this very node
        NodeSpec("new", "shell/Command"),                                # only its type has history
        NodeSpec("decl", "my/Sim", declared_s=120.0),                    # the type declares a duration
        NodeSpec("lim", "my/Sim", "slurm:hpc", {"time_limit": "01:00:00"}),  # Slurm time limit
        NodeSpec("none", "my/Sim"),                                      # nothing at all
        NodeSpec("both", "my/Sim", "slurm:hpc", {"time_limit": 60}, declared_s=5.0),  # declared beats limit
    ]
    got = {s.name: e.duration for s, e in zip(specs, est(store, specs))}
    assert {n: e.source for n, e in got.items()} == {
        "a": "history:node", "new": "history:type", "decl": "prior:declared", "lim": "prior:time-limit",
        "none": "prior:default", "both": "prior:declared"}
    assert got["new"].seconds == pytest.approx(30.0, rel=0.1)
    cfg = EtaConfig()
    # priors are typical values: the expected value of a log-normal lies a bit above
    assert got["decl"].seconds == pytest.approx(120.0 * math.exp(cfg.declared_log_sigma ** 2 / 2))
    assert got["lim"].seconds == pytest.approx(1800.0 * math.exp(cfg.time_limit_log_sigma ** 2 / 2))
    assert got["none"].seconds == pytest.approx(cfg.default_duration_s * math.exp(cfg.default_log_sigma ** 2 / 2))
    # the less is known, the wider the spread
    rel = {n: e.sigma_s / e.seconds for n, e in got.items()}
    assert rel["a"] < rel["decl"] < rel["lim"] < rel["none"]


def test_node_history_needs_the_same_executor(store, history):
    history.run({"a": 10.0}, executor="local")
    history.run({"z": 50.0}, executor="slurm:hpc", workflow_path="/other.nc", workflow_hash="x")
    [local, slurm] = est(store, [NodeSpec("a", "math/Add", "local"), NodeSpec("a", "math/Add", "slurm:hpc")])
    assert local.duration.source == "history:node"
    assert slurm.duration.source == "history:type" and slurm.duration.seconds == pytest.approx(50.0, rel=0.1)


def test_workflow_found_by_hash_when_the_file_moved(store, history):
    history.run({"a": 10.0}, workflow_path="/old/place.nc", workflow_hash="same")
    [by_path] = est(store, [NodeSpec("a", "math/Add")], workflow_path="/new/place.nc")
    [by_hash] = est(store, [NodeSpec("a", "math/Add")], workflow_path="/new/place.nc", workflow_hash="same")
    assert by_path.duration.source == "history:type"  # same type, any workflow
    assert by_hash.duration.source == "history:node"


def test_type_history_prefers_attempts_with_the_same_resources(store, history):
    for _ in range(3):
        history.run({"s": 100.0}, node_type="my/Sim", executor="slurm:hpc", workflow_path="/a.nc",
                    jobs_extra={"resources": {"cpus": 4}})
        history.run({"s": 400.0}, node_type="my/Sim", executor="slurm:hpc", workflow_path="/b.nc",
                    jobs_extra={"resources": {"cpus": 1}})
    four, one, other = est(store, [NodeSpec("n", "my/Sim", "slurm:hpc", {"cpus": 4, "time_limit": "1:00:00"}),
                                   NodeSpec("n", "my/Sim", "slurm:hpc", {"cpus": 1}),
                                   NodeSpec("n", "my/Sim", "slurm:hpc", {"cpus": 16})])
    assert four.duration.seconds == pytest.approx(100.0, rel=0.1)  # time_limit does not count
    assert one.duration.seconds == pytest.approx(400.0, rel=0.1)
    assert other.duration.source == "history:type" and 100.0 < other.duration.seconds < 400.0  # no match: all


def test_queue_waits_per_partition_then_node_then_executor(store, history):
    for w in (60.0, 70.0, 65.0):
        history.run({"a": 5.0}, executor="slurm:hpc", waits=w, jobs_extra={"partition": "debug"},
                    workflow_path="/x.nc", workflow_hash="x")
        history.run({"b": 5.0}, executor="slurm:hpc", waits=w * 10, jobs_extra={"partition": "long"},
                    workflow_path="/y.nc", workflow_hash="y")
    history.run({"c": 5.0}, executor="slurm:hpc", waits=7.0)  # this workflow, no journalled partition
    specs = [NodeSpec("a", "t/T", "slurm:hpc", {"partition": "debug"}),
             NodeSpec("b", "t/T", "slurm:hpc", {"partition": "long"}),
             NodeSpec("c", "t/T", "slurm:hpc"),
             NodeSpec("d", "t/T", "slurm:hpc", {"partition": "gpu"}),
             NodeSpec("e", "t/T", "slurm:other")]
    q = [e.queue for e in est(store, specs)]
    assert q[0].source == "history:queue" and q[0].seconds == pytest.approx(65.0, rel=0.1)
    assert q[1].source == "history:queue" and q[1].seconds == pytest.approx(650.0, rel=0.1)
    assert q[2].source == "history:node" and q[2].seconds == pytest.approx(7.0, rel=0.1)
    assert q[3].source == "history:executor" and 7.0 < q[3].seconds < 700.0
    assert q[4].source == "prior:default"


def test_queue_key():
    assert queue_key("slurm:hpc", {"partition": "debug"}) == "slurm:hpc/debug"
    assert queue_key("slurm:hpc", {}) == "slurm:hpc"
    assert queue_key("runner:lab", None, ["gpu", "big"]) == "runner:lab[big,gpu]"
    assert queue_key("local", {"partition": "x"}) == "local"


@pytest.mark.parametrize("value, seconds", [
    (30, 1800.0), (1.5, 90.0), ("45", 2700.0), ("10:30", 630.0), ("02:00:00", 7200.0), ("1-0", 86400.0),
    ("1-02:30", 95400.0), ("2-00:00:10", 172810.0), ("UNLIMITED", None), ("soon", None), (None, None),
    (0, None), (True, None)])
def test_parse_time_limit(value, seconds):
    assert parse_time_limit(value) == seconds


def test_history_is_read_in_a_few_queries_not_one_per_node(store, history):
    names = [f"n{i}" for i in range(300)]
    history.run({n: 1.0 for n in names[:200]})
    queries = []
    store._db.set_trace_callback(lambda sql: queries.append(sql) if sql.lstrip().upper().startswith("SELECT") else None)
    try:
        ests = est(store, [NodeSpec(n, "math/Add") for n in names] + [NodeSpec("s", "my/Sim", "slurm:hpc")])
    finally:
        store._db.set_trace_callback(None)
    assert len(queries) <= 4
    assert sum(e.duration.source == "history:node" for e in ests) == 200
    assert sum(e.duration.source == "history:type" for e in ests) == 100


def test_no_history_store_gives_priors():
    [e] = Estimator(None).estimate([NodeSpec("a", "math/Add")], workflow_path=WF)
    assert e.duration.source == "prior:default"
