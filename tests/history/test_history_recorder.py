"""HistoryRecorder: synthetic event sequences become the right rows, written in batches."""
from __future__ import annotations

import sqlite3

import numpy as np

from nodeflow.engine.events import EventKind as K
from nodeflow.engine.events import RunEvent
from nodeflow.engine.states import NodeState, RunState
from nodeflow.history import HistoryRecorder, HistoryStore


def feed(rec, events):
    for e in events:
        rec.on_event(e)


def test_run_row_and_node_rows(store, events):
    ev = events("run-1")
    rec = HistoryRecorder(store)
    start = ev.run_started(3, parent_run_id="run-0", params={"n": 3})
    rec.on_event(start)
    r = store.run("run-1")  # the run row is written at once
    assert r["state"] == "running" and r["started_at"] == start.time and r["node_count"] == 3
    assert (r["workflow_path"], r["workflow_hash"], r["workflow_name"]) == ("/work/flow.nc", "wh1", "flow")
    assert (r["executor"], r["host"], r["parent_run_id"], r["params"]) == ("local", "here", "run-0", {"n": 3})

    q, s, ok = ev.node_ok("a", input_hash="ih-a", stdout_path="/o/a.out", stderr_path="/o/a.err",
                          outputs={"out": np.arange(3)})
    feed(rec, [q, ev.log("a", "hello"), s, ev.progress(1, 3), ok])
    feed(rec, [ev.queued("b", node_type="math/Add", executor="slurm"),
               ev.started("b", executor="slurm", host="node07", job_id="4711"),
               ev.failed("b", error="division by zero", exit_code=1, reason="error", stdout_path="/o/b.out")])
    feed(rec, [ev.skipped("c", reason="upstream failed")])
    assert store.attempts("run-1") == []  # still in memory
    fin = ev.run_finished("failed")
    rec.on_event(fin)

    r = store.run("run-1")
    assert r["state"] == "failed" and r["finished_at"] == fin.time
    rows = {a["node"]: a for a in store.attempts("run-1")}
    a, b, c = rows["a"], rows["b"], rows["c"]
    assert (a["attempt"], a["state"], a["node_type"], a["executor"], a["host"]) == (
        1, "succeeded", "math/Power", "local", "here")
    assert (a["queued_at"], a["started_at"], a["finished_at"]) == (q.time, s.time, ok.time)
    assert (a["exit_code"], a["input_hash"], a["stdout_path"], a["stderr_path"], a["reused"]) == (
        0, "ih-a", "/o/a.out", "/o/a.err", False)
    np.testing.assert_array_equal(a["outputs"]["out"], np.arange(3))
    assert (b["state"], b["node_type"], b["executor"], b["host"], b["job_id"]) == (
        "failed", "math/Add", "slurm", "node07", "4711")
    assert (b["error"], b["exit_code"], b["reason"], b["stdout_path"], b["stderr_path"]) == (
        "division by zero", 1, "error", "/o/b.out", None)
    assert (c["state"], c["attempt"], c["reason"], c["queued_at"], c["started_at"]) == (
        "skipped", 1, "upstream failed", None, None)
    assert c["executor"] == "local"  # the run's executor when the node never reached one
    assert rec.pending == 0


def test_retry_then_success(store, events):
    ev = events()
    rec = HistoryRecorder(store)
    q1, s1 = ev.queued("a", 1), ev.started("a", 1)
    retry = ev.retrying("a", 1, error="exit 1", delay_s=2.0, next_attempt=2, reason="error", exit_code=1,
                        stdout_path="/o/a.out")
    q2, s2, ok = ev.queued("a", 2, dt=2.0), ev.started("a", 2), ev.succeeded("a", 2, input_hash="ih")
    feed(rec, [ev.run_started(1), q1, s1, retry, q2, s2, ok, ev.run_finished()])
    a1, a2 = store.attempts(ev.run_id)
    assert (a1["attempt"], a1["state"], a1["error"], a1["reason"], a1["exit_code"], a1["stdout_path"]) == (
        1, "failed", "exit 1", "error", 1, "/o/a.out")
    assert (a1["queued_at"], a1["started_at"], a1["finished_at"]) == (q1.time, s1.time, retry.time)
    assert (a2["attempt"], a2["state"], a2["queued_at"], a2["started_at"], a2["finished_at"]) == (
        2, "succeeded", q2.time, s2.time, ok.time)
    assert a2["node_type"] == "math/Power"
    assert store.last_attempts(ev.run_id)["a"]["attempt"] == 2
    assert store.reusable_outputs(ev.run_id) == {"a": ("ih", {"out": 1.0})}
    assert store.durations(node="a") == [(ok.time - s2.time, s2.time - q2.time)]


def test_failed_event_then_retrying_keeps_one_failed_attempt(store, events):
    ev = events()
    rec = HistoryRecorder(store)
    feed(rec, [ev.run_started(1), ev.queued("a"), ev.started("a")])
    fail = ev.failed("a", 1, error="boom", exit_code=3, reason="error")
    feed(rec, [fail, ev.retrying("a", 1, error="boom", next_attempt=2),
               ev.queued("a", 2), ev.started("a", 2), ev.succeeded("a", 2), ev.run_finished()])
    rows = store.attempts(ev.run_id)
    assert len(rows) == 2
    first = rows[0]
    assert (first["attempt"], first["state"], first["exit_code"], first["reason"], first["finished_at"]) == (
        1, "failed", 3, "error", fail.time)
    assert rows[1]["attempt"] == 2 and rows[1]["state"] == "succeeded"


def test_retrying_event_naming_the_next_attempt_closes_the_previous(store, events):
    ev = events()
    rec = HistoryRecorder(store)
    feed(rec, [ev.run_started(1), ev.queued("a", 1), ev.started("a", 1),
               ev.retrying("a", 2, error="x", next_attempt=2), ev.queued("a", 2), ev.started("a", 2),
               ev.succeeded("a", 2), ev.run_finished()])
    assert [(a["attempt"], a["state"]) for a in store.attempts(ev.run_id)] == [(1, "failed"), (2, "succeeded")]


def test_cancelled_and_enum_values(store, events):
    ev = events()
    rec = HistoryRecorder(store)
    feed(rec, [ev.run_started(2, executor="local"),
               ev.queued("a"), ev.started("a"), ev.failed("a", reason="cancelled", error="cancelled by user"),
               ev.queued("b"), ev.failed("b", reason="cancelled"),
               RunEvent(K.RUN_FINISHED, ev.run_id, ev.at(), data={"state": RunState.CANCELLED})])
    rows = {a["node"]: a for a in store.attempts(ev.run_id)}
    assert rows["a"]["state"] == rows["b"]["state"] == NodeState.CANCELLED.value
    assert rows["a"]["reason"] == "cancelled" and rows["b"]["started_at"] is None
    assert store.run(ev.run_id)["state"] == "cancelled"
    assert store.durations() == []


def test_missing_data_keys_are_tolerated(store):
    rec = HistoryRecorder(store)
    t = 100.0
    for kind, node, attempt in [(K.RUN_STARTED, None, 0), (K.NODE_QUEUED, "a", 0), (K.NODE_STARTED, "a", 0),
                                (K.NODE_SUCCEEDED, "a", 0), (K.NODE_QUEUED, "b", 1), (K.NODE_FAILED, "b", 1),
                                (K.NODE_RETRYING, "b", 0), (K.NODE_STARTED, "b", 2), (K.NODE_SKIPPED, "c", 0),
                                (K.NODE_LOG, "b", 2), (K.NODE_PROGRESS, "b", 2), (K.RUN_PROGRESS, None, 0),
                                (K.RUN_FINISHED, None, 0)]:
        t += 1
        rec.on_event(RunEvent(kind, "bare", t, node, attempt))
    assert rec.last_error is None
    r = store.run("bare")
    assert r["state"] == "finished" and r["node_count"] is None
    rows = [(a["node"], a["attempt"], a["state"]) for a in store.attempts("bare")]
    assert rows == [("a", 1, "succeeded"), ("b", 1, "failed"), ("b", 2, "running"), ("c", 1, "skipped")]
    assert store.attempts("bare")[0]["outputs"] is None


def test_node_events_before_run_started_and_run_started_without_total(store, events):
    ev = events()
    rec = HistoryRecorder(store)
    rec.on_event(RunEvent(K.RUN_STARTED, ev.run_id, ev.at(), data={
        "executor": "local", "nodes": [{"uniquename": "a", "node_type": ["math", "Power"]}, "b"]}))
    feed(rec, [ev.succeeded("a", reused=True, input_hash="ih"), ev.run_finished()])
    assert store.run(ev.run_id)["node_count"] == 2
    a = store.attempts(ev.run_id)[0]
    assert a["node_type"] == "math/Power" and a["reused"] is True and a["started_at"] is None
    assert store.durations() == []  # reused attempts say nothing about how long a node takes


def test_batches_by_count(db_path, events):
    ev = events()
    with HistoryStore(db_path) as store:
        rec = HistoryRecorder(store, flush_every=10, flush_interval_s=1e9)
        other = sqlite3.connect(db_path)

        def in_db():
            return other.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]

        rec.on_event(ev.run_started(100))
        seen = []
        for i in range(100):
            feed(rec, ev.node_ok(f"n{i:03d}"))
            seen.append(in_db())
        assert seen[8] == 0  # 9 finished: nothing written yet
        assert seen[9] == 10 and seen[18] == 10 and seen[19] == 20
        assert set(seen) == set(range(10, 101, 10)) | {0}
        assert seen == [10 * ((i + 1) // 10) for i in range(100)]
        # a node still running is not written until the run finishes
        feed(rec, [ev.queued("late"), ev.started("late")])
        assert in_db() == 100
        rec.on_event(ev.run_finished())
        assert in_db() == 101
        assert other.execute("SELECT state FROM runs").fetchone()[0] == "succeeded"
        other.close()
        assert len(store.attempts(ev.run_id)) == 101


def test_batches_by_time(store, events):
    now = [0.0]
    ev = events()
    rec = HistoryRecorder(store, flush_every=1000, flush_interval_s=0.5, clock=lambda: now[0])
    feed(rec, [ev.run_started(3), *ev.node_ok("a")])
    assert store.attempts(ev.run_id) == []
    now[0] = 0.6
    rec.on_event(ev.progress(1, 3))  # events that change nothing don't flush
    assert store.attempts(ev.run_id) == []
    rec.on_event(ev.queued("b"))
    assert [a["node"] for a in store.attempts(ev.run_id)] == ["a"]
    feed(rec, [ev.started("b"), ev.succeeded("b")])
    assert len(store.attempts(ev.run_id)) == 1
    now[0] = 1.2
    rec.on_event(ev.queued("c"))
    assert len(store.attempts(ev.run_id)) == 2


def test_write_failure_does_not_raise_and_rows_are_kept(store, events, caplog):
    ev = events()
    rec = HistoryRecorder(store, flush_every=1)
    feed(rec, [ev.run_started(2)])
    real = store.upsert_attempt_values
    calls = []

    def broken(rows):
        calls.append(len(rows))
        raise sqlite3.OperationalError("disk I/O error")

    store.upsert_attempt_values = broken
    feed(rec, ev.node_ok("a"))
    assert isinstance(rec.last_error, sqlite3.OperationalError) and rec.pending == 1
    store.upsert_attempt_values = real
    feed(rec, [*ev.node_ok("b"), ev.run_finished()])
    assert [a["node"] for a in store.attempts(ev.run_id)] == ["a", "b"]


def test_two_runs_through_one_recorder(store, events):
    rec = HistoryRecorder(store, flush_every=5)
    e1, e2 = events("r1", t0=1000.0), events("r2", t0=2000.0)
    feed(rec, [e1.run_started(2), e2.run_started(2, workflow_path="/work/other.nc")])
    feed(rec, [*e1.node_ok("a"), *e2.node_ok("a"), *e2.node_ok("b"), e2.run_finished(), *e1.node_ok("b"),
               e1.run_finished()])
    assert [a["node"] for a in store.attempts("r1")] == ["a", "b"]
    assert [a["node"] for a in store.attempts("r2")] == ["a", "b"]
    assert [r["run_id"] for r in store.runs()] == ["r2", "r1"]
    assert store.latest_run_id("/work/other.nc") == "r2"


def test_flush_everything_writes_open_attempts(store, events):
    ev = events()
    rec = HistoryRecorder(store)
    feed(rec, [ev.run_started(2), *ev.node_ok("a"), ev.queued("b"), ev.started("b")])
    rec.flush()
    assert [a["node"] for a in store.attempts(ev.run_id)] == ["a"]
    rec.flush(everything=True)
    assert [(a["node"], a["state"]) for a in store.attempts(ev.run_id)] == [("a", "succeeded"), ("b", "running")]
    assert rec.pending == 0


def test_event_kinds_given_as_plain_strings(store, events):
    ev = events()
    rec = HistoryRecorder(store)
    plain = [RunEvent(e.kind.value, e.run_id, e.time, e.node, e.attempt, e.data)
             for e in [ev.run_started(1), *ev.node_ok("a"), ev.run_finished()]]
    plain.insert(1, RunEvent("no_such_kind", ev.run_id, ev.at(), "a", 1))
    feed(rec, plain)
    assert [(a["node"], a["state"]) for a in store.attempts(ev.run_id)] == [("a", "succeeded")]
    assert store.run(ev.run_id)["state"] == "succeeded"


def test_relative_workflow_path_is_recorded_absolute(store, events, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ev = events()
    rec = HistoryRecorder(store)
    feed(rec, [ev.run_started(0, workflow_path="flow.nc"), ev.run_finished()])
    assert store.run(ev.run_id)["workflow_path"] == str(tmp_path / "flow.nc")


def test_node_submitted_is_journaled_at_once(db_path, events):
    ev = events()
    with HistoryStore(db_path) as store:
        rec = HistoryRecorder(store)
        feed(rec, [ev.run_started(2, executor="slurm"), ev.queued("a", executor="slurm"),
                   RunEvent(K.NODE_SUBMITTED, ev.run_id, ev.at(), "a", 1,
                            {"executor": "slurm", "job_id": "777", "workdir": "/scratch/a", "profile": "hpc",
                             "extra": {"partition": "debug"}}),
                   RunEvent(K.NODE_SUBMITTED, ev.run_id, ev.at(), "b", 1, {"executor": "slurm"})])  # no job id
        with sqlite3.connect(db_path) as other:  # committed before the run ends
            assert other.execute("SELECT node, job_id FROM jobs").fetchall() == [("a", "777")]
        feed(rec, [ev.started("a", executor="slurm", job_id="777"), ev.succeeded("a"), ev.run_finished()])
        (job,) = store.jobs(ev.run_id)
        assert (job["attempt"], job["executor"], job["workdir"], job["profile"], job["extra"]) == (
            1, "slurm", "/scratch/a", "hpc", {"partition": "debug"})
        assert [(a["node"], a["job_id"]) for a in store.attempts(ev.run_id)] == [("a", "777")]


def test_attempt_records_rows_come_from_final_events(db_path, events):
    """A run announced with ``attempt_records`` (the scheduler's): queued/started events make no row,
    each final event's record fills it; a job id journaled before stays when the record has none."""
    ev = events("run-r")
    store = HistoryStore(db_path)
    rec = HistoryRecorder(store)
    rec.on_event(ev.run_started(3, attempt_records=True))
    q, s = ev.queued("a", node_type="types/Float"), ev.started("a", host="elsewhere")
    feed(rec, [q, s])
    assert rec.pending == 0  # nothing kept for them: the final event brings it all
    record = {"node_type": "math/Add", "executor": "local", "queued_at": 10.0, "started_at": 11.0, "host": "h1",
              "job_id": None}
    ok = ev.succeeded("a", input_hash="ih", **record)
    sub = RunEvent(K.NODE_SUBMITTED, "run-r", ev.at(), "b", 1, {"executor": "slurm", "job_id": "4711"})
    bad = ev.failed("b", error="boom", reason="exit", exit_code=3,
                    **{**record, "executor": "slurm", "host": "n07", "node_type": "shell/Command"})
    skip = ev.skipped("c", reason="upstream failed", node_type="math/Negate", executor="local", queued_at=None,
                      started_at=None, host=None, job_id=None)
    feed(rec, [ok, sub, bad, skip, ev.run_finished("failed")])
    rows = {a["node"]: a for a in store.attempts("run-r")}
    a, b, c = rows["a"], rows["b"], rows["c"]
    assert (a["state"], a["node_type"], a["host"], a["queued_at"], a["started_at"], a["finished_at"],
            a["input_hash"]) == ("succeeded", "math/Add", "h1", 10.0, 11.0, ok.time, "ih")
    assert (b["state"], b["node_type"], b["executor"], b["host"], b["job_id"], b["exit_code"], b["error"]) == (
        "failed", "shell/Command", "slurm", "n07", "4711", 3, "boom")
    assert (c["state"], c["attempt"], c["node_type"], c["queued_at"], c["reason"]) == (
        "skipped", 1, "math/Negate", None, "upstream failed")
    store.close()


def test_scheduler_runs_are_recorded_from_attempt_records(tmp_path):
    """The real scheduler announces attempt_records: rows of a run with a retry, a failure and a skip
    carry their queue/start times, host and type though queued/started events were not looked at."""
    from nodeflow.engine import run_workflow
    from nodeflow.library import builtin_registry
    from nodeflow.model import Workflow

    reg = builtin_registry()
    wf = Workflow()
    one = reg.create_node(("types", "Float"), wf)
    wf.add_node(one)
    div = reg.create_node(("math", "Divide"), wf)
    div.set_settings({"max_retries": 1})
    wf.add_node(div)
    div.terminals["divisor"].value = 0.0
    wf.connect((one.uniquename, "float"), (div.uniquename, "dividend"))  # x / 0: fails, retried once
    neg = reg.create_node(("math", "Negate"), wf)
    wf.add_node(neg)
    wf.connect((div.uniquename, "result"), (neg.uniquename, "input"))
    with HistoryStore(tmp_path / "h.sqlite") as store:
        res = run_workflow(wf, registry=reg, jobs=1, history=store, runs_dir=tmp_path / "runs")
        rows = {(a["node"], a["attempt"]): a for a in store.attempts(res.run_id)}
    assert set(rows) == {(one.uniquename, 1), (div.uniquename, 1), (div.uniquename, 2), (neg.uniquename, 1)}
    for key in [(one.uniquename, 1), (div.uniquename, 1), (div.uniquename, 2)]:
        r = rows[key]
        assert r["queued_at"] <= r["started_at"] <= r["finished_at"], key
        assert r["host"] and r["executor"] == "local", key
    assert rows[(one.uniquename, 1)]["node_type"] == "types/Float"
    assert [rows[(div.uniquename, i)]["state"] for i in (1, 2)] == ["failed", "failed"]
    assert rows[(div.uniquename, 2)]["node_type"] == "math/Divide"
    n = rows[(neg.uniquename, 1)]
    assert (n["state"], n["node_type"], n["queued_at"]) == ("skipped", "math/Negate", None)


def test_queued_and_started_events_are_made_only_when_an_observer_looks_at_them(tmp_path):
    """The recorder ignores NODE_QUEUED/NODE_STARTED of attempt-record runs and says so: with no
    other observer wanting them the scheduler makes none; with one, everybody gets them."""
    from nodeflow.engine import run_workflow
    from nodeflow.engine.events import EventCollector
    from nodeflow.library import builtin_registry
    from nodeflow.model import Workflow

    class Quiet(EventCollector):
        def ignored_kinds(self, run_id):
            return {K.NODE_QUEUED, K.NODE_STARTED}

    reg = builtin_registry()
    wf = Workflow()
    a = reg.create_node(("types", "Float"), wf)
    wf.add_node(a)
    b = reg.create_node(("math", "Negate"), wf)
    wf.add_node(b)
    wf.connect((a.uniquename, "float"), (b.uniquename, "input"))
    with HistoryStore(tmp_path / "h.sqlite") as store:
        quiet = Quiet()
        res = run_workflow(wf, registry=reg, jobs=1, history=store, runs_dir=tmp_path / "runs", observers=[quiet])
        kinds = [e.kind for e in quiet.events]
        assert K.NODE_SUCCEEDED in kinds and K.NODE_QUEUED not in kinds and K.NODE_STARTED not in kinds
        rows = store.attempts(res.run_id)
        assert len(rows) == 2 and all(r["queued_at"] <= r["started_at"] <= r["finished_at"] for r in rows)

        quiet, loud = Quiet(), EventCollector()
        res = run_workflow(wf, registry=reg, jobs=1, history=store, runs_dir=tmp_path / "runs",
                           observers=[quiet, loud])
        for c in (quiet, loud):
            assert [e.kind for e in c.events if e.node == b.uniquename] == [
                K.NODE_QUEUED, K.NODE_STARTED, K.NODE_SUCCEEDED]
        assert len(store.attempts(res.run_id)) == 2
    # without history, an observer that says nothing gets every event
    loud = EventCollector()
    run_workflow(wf, registry=reg, jobs=1, runs_dir=tmp_path / "runs", observers=[loud])
    assert len(loud.of(K.NODE_QUEUED)) == len(loud.of(K.NODE_STARTED)) == 2


def test_a_succeeded_attempt_record_makes_the_same_row_in_one_step_as_the_general_path(tmp_path, events):
    """Three ways to the row of a succeeded first attempt: the event kept whole and made a row where
    it is written (sqlwrite.success_rows), the one-step row (_record_succeeded: the run names its
    node types) and the general path (a row of the attempt exists already). With the input hash
    given, or left to the history as the inputs to fingerprint (hash_inputs)."""
    from nodeflow.engine.plan import input_hash

    ev = events()
    record = dict(outputs={"x": 1.5}, reused=False, exit_code=None, node_type=("math", "Add"), executor="local",
                  queued_at=5.0, started_at=6.0, host="here", job_id=None)
    inputs = {"input": [1.0, 0.5], "label": "é"}
    for hashed in ({"input_hash": "ih"}, {"input_hash": None, "hash_inputs": inputs}):
        done = ev.succeeded("n", **record, **hashed)
        rows = []
        for way in ("event", "one step", "general"):
            nodes = [{"uniquename": "other", "node_type": "x/Y"}] if way == "one step" else None
            with HistoryStore(tmp_path / f"{way}{len(hashed)}.sqlite") as store:
                rec = HistoryRecorder(store)
                rec.on_event(ev.run_started(1, attempt_records=True, nodes=nodes))
                if way == "general":
                    rec._row(done)  # a row of the attempt exists already: the general path fills it in
                rec.on_event(done)
                assert len(rec._successes) == (way == "event")
                rec.flush()
                rows.append(store.attempts(ev.run_id))
        assert rows[0] == rows[1] == rows[2]
        r = rows[0][0]
        assert (r["node_type"], r["executor"], r["host"], r["queued_at"], r["started_at"], r["finished_at"],
                r["state"], r["outputs"], r["reused"]) == (
            "math/Add", "local", "here", 5.0, 6.0, done.time, "succeeded", {"x": 1.5}, 0)
        assert r["input_hash"] == ("ih" if "hash_inputs" not in hashed else input_hash("math/Add", inputs))
