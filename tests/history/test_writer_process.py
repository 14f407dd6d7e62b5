"""The history writer process: a real child process writes attempt rows into the same SQLite
file; a batch it cannot write, rows it cannot take, a child that dies or cannot start — and the
recorder, which writes through the store instead whenever the process fails, losing nothing."""
from __future__ import annotations

import logging
import math
import os
import signal
import sqlite3
import sys
import time

import numpy as np
import pytest

from nodeflow.engine import run_workflow
from nodeflow.history import HistoryRecorder, HistoryStore
from nodeflow.history import writer_process as wp
from nodeflow.history.recorder import IDLE_FLUSH_MIN_ROWS
from nodeflow.history.outputs_json import encode_outputs
from nodeflow.history.store import ATTEMPT_COLUMNS, encode_attempt_values
from nodeflow.library import builtin_registry
from nodeflow.model import Workflow


def row(node, run_id="run-1", attempt=1, outputs=None, **values):
    r = dict.fromkeys(ATTEMPT_COLUMNS)
    r.update({"run_id": run_id, "node": node, "attempt": attempt, "state": "succeeded", "reused": 0,
              "outputs": outputs, **values})
    return [r[c] for c in ATTEMPT_COLUMNS]


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:  # a zombie is gone too (reaped by close())
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:  # reaped between the two looks
        return False


def exits_soon(pid, timeout_s=10.0):
    """The child exits (and is reaped) by itself after close(), which does not wait for it."""
    deadline = time.monotonic() + timeout_s
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    return not alive(pid)


def test_a_child_process_writes_batches_into_the_store_file_and_exits_on_close(db_path):
    with HistoryStore(db_path) as store:
        proc = wp.HistoryWriterProcess(store.path)
        assert proc.pid != os.getpid() and alive(proc.pid)
        assert os.getpgid(proc.pid) != os.getpgid(0)  # a terminal's Ctrl-C does not reach it
        # 70 rows: two full multi-row statements and six single ones
        rows = [row(f"n{i:02d}", host="h", started_at=float(i), outputs={"out": i / 3, "arr": np.arange(i % 4)})
                for i in range(70)]
        proc.write(encode_attempt_values(rows))
        # committed before write() returns: this process's own connection sees it at once
        got = {a["node"]: a for a in store.attempts("run-1")}
        assert len(got) == 70 and got["n07"]["outputs"]["out"] == pytest.approx(7 / 3)
        np.testing.assert_array_equal(got["n07"]["outputs"]["arr"], np.arange(3))
        # later batches merge like the store's own upserts: None keeps what is stored
        proc.write(encode_attempt_values([row("n07", state="failed", error="boom", outputs={"out": math.inf})]))
        a = store.attempts("run-1")[7]
        assert (a["state"], a["error"], a["host"], a["started_at"], a["outputs"]) == (
            "failed", "boom", "h", 7.0, {"out": math.inf})
        pid = proc.pid
        proc.close()
        assert exits_soon(pid)
        with pytest.raises(wp.HistoryWriterGone, match="closed"):
            proc.write([row("late")])


def test_a_batch_the_child_cannot_write_raises_and_writes_nothing_of_it(db_path):
    with HistoryStore(db_path) as store:
        proc = wp.HistoryWriterProcess(store.path)
        try:
            bad = [*encode_attempt_values([row("a")]), row("b") + ["extra"]]  # the second row: a column too many
            with pytest.raises(wp.HistoryWriteError, match="bindings"):
                proc.write(bad)
            assert store.attempts("run-1") == []  # the whole batch rolled back
            with pytest.raises(wp.HistoryWriteError, match="cannot take"):
                proc.write([row("c", outputs=None, host=object())])  # not a plain value
            proc.write(encode_attempt_values([row("a"), row("b")]))  # and it goes on
            assert [a["node"] for a in store.attempts("run-1")] == ["a", "b"]
        finally:
            proc.close()


def test_plain_outputs_sent_raw_are_encoded_by_the_child_as_the_store_encodes_them(db_path):
    outs = [{"x": 1.5, "s": "é\n\"q\"", "l": [1, None, True], "nan": math.nan, "big": 2**70}, None,
            {"t": (1, 2), "d": {"k": -0.0}}, {}]
    with HistoryStore(db_path) as store:
        proc = wp.HistoryWriterProcess(store.path)
        try:
            assert proc.write([row(f"n{i}", outputs=o) for i, o in enumerate(outs)]) == []  # not encoded here
            # numpy values reach the child as bytes (marshal takes any buffer): written without
            # outputs and named, for the caller to encode and send again
            arr = [row("np0", outputs={"a": np.arange(3)}), row("ok", outputs={"b": 1}),
                   row("np1", outputs={"f": np.float64(2.5)})]
            assert proc.write(arr) == [0, 2]
            assert dict(sqlite3.connect(db_path).execute("SELECT node, outputs FROM attempts WHERE node LIKE 'np%'")) == {
                "np0": None, "np1": None}
            proc.write(encode_attempt_values([arr[0], arr[2]]))
            with pytest.raises(wp.RowsNotPlain):  # what marshal refuses, nothing is sent
                proc.write([row("obj", outputs={"o": object()})])
        finally:
            proc.close()
        stored = dict(sqlite3.connect(db_path).execute("SELECT node, outputs FROM attempts"))
        assert stored == {**{f"n{i}": encode_outputs(o) for i, o in enumerate(outs)}, "ok": '{"b":1}',
                          "np0": encode_outputs({"a": np.arange(3)}), "np1": encode_outputs({"f": np.float64(2.5)})}
        got = {a["node"]: a["outputs"] for a in store.attempts("run-1")}
        np.testing.assert_array_equal(got["np0"]["a"], np.arange(3))
        assert got["np1"] == {"f": 2.5}


def test_a_dead_or_unstartable_child_is_reported_gone(db_path, tmp_path):
    with HistoryStore(db_path) as store:
        proc = wp.HistoryWriterProcess(store.path)
        os.kill(proc.pid, signal.SIGKILL)
        with pytest.raises(wp.HistoryWriterGone, match=f"pid {proc.pid}"):
            proc.write(encode_attempt_values([row("a")]))
        assert not alive(proc.pid)
        with pytest.raises(wp.HistoryWriterGone, match="cannot start the history writer"):
            wp.HistoryWriterProcess(store.path, python=str(tmp_path / "no-such-python"))


def test_a_bundled_application_does_not_start_itself_as_the_writer(db_path, monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)  # PyInstaller & co: sys.executable is the app
    with HistoryStore(db_path) as store, pytest.raises(wp.HistoryWriterGone, match="no Python interpreter"):
        wp.HistoryWriterProcess(store.path)


def test_the_recorder_sends_outputs_raw_and_encodes_only_those_the_child_cannot(db_path, events):
    ev = events()
    outs = {"p0": {"out": 0.5}, "a1": {"out": np.arange(4.0)}, "p2": {"out": [1, "x"]}, "s3": {"out": np.int64(7)},
            "o4": {"out": {1, 2}}}  # a set: marshal takes it, the child's JSON does not; the store's encoder does
    with HistoryStore(db_path) as store:
        rec = HistoryRecorder(store, flush_every=len(outs), flush_interval_s=1e9, background=True,
                              process_min_rows=1)
        rec.on_event(ev.run_started(len(outs)))
        for n, o in outs.items():
            for e in ev.node_ok(n, outputs=o):
                rec.on_event(e)
        rec.wait_written()
        assert rec.writer_process is not None and rec.last_error is None
        got = {a["node"]: a["outputs"] for a in store.attempts(ev.run_id)}
        rec.close()
    assert got["p0"] == {"out": 0.5} and got["p2"] == {"out": [1, "x"]} and got["s3"] == {"out": 7}
    np.testing.assert_array_equal(got["a1"]["out"], np.arange(4.0))
    assert got["o4"] == {"out": [1, 2]}


def test_a_big_run_starts_the_process_with_the_run_and_batches_follow_its_pace(db_path, events):
    ev = events()
    with HistoryStore(db_path) as store:
        rec = HistoryRecorder(store, flush_every=10_000, flush_interval_s=1e9, background=True,
                              process_min_rows=500)
        rec.on_event(ev.run_started(600))
        rec.wait_written()
        proc = rec.writer_process
        assert proc is not None and alive(proc.pid)  # before any row
        # the process is idle: a few dozen finished rows are a batch, not flush_every's 10,000
        _feed(rec, ev, [f"n{i}" for i in range(IDLE_FLUSH_MIN_ROWS)])
        rec.wait_written()
        assert len(store.attempts(ev.run_id)) == IDLE_FLUSH_MIN_ROWS and rec.pending == 0
        _feed(rec, ev, [f"m{i}" for i in range(IDLE_FLUSH_MIN_ROWS - 1)])  # fewer: kept for now
        rec.wait_written()
        assert len(store.attempts(ev.run_id)) == IDLE_FLUSH_MIN_ROWS and rec.pending == IDLE_FLUSH_MIN_ROWS - 1
        rec.on_event(ev.run_finished())
        assert len(store.attempts(ev.run_id)) == 2 * IDLE_FLUSH_MIN_ROWS - 1 and rec.writer_process is proc
        rec.close()
        assert exits_soon(proc.pid)


def _feed(rec, events, names):
    for n in names:
        for e in events.node_ok(n):
            rec.on_event(e)


def test_the_recorder_hands_big_batches_to_the_process_and_falls_back_to_the_store(db_path, events, caplog):
    ev = events()
    with HistoryStore(db_path) as store:
        rec = HistoryRecorder(store, flush_every=5, flush_interval_s=1e9, background=True, process_min_rows=5)
        rec.on_event(ev.run_started(4))  # announced small (it grows): no process until a big batch comes
        _feed(rec, ev, [f"a{i}" for i in range(4)])  # fewer than 5 finished: nothing handed over
        rec.flush()  # a batch of 4: written by the thread, no process
        rec.wait_written()
        assert rec.writer_process is None and len(store.attempts(ev.run_id)) == 4
        _feed(rec, ev, [f"b{i}" for i in range(5)])  # 5 finished: the writer process starts
        rec.wait_written()
        proc = rec.writer_process
        assert proc is not None and alive(proc.pid) and len(store.attempts(ev.run_id)) == 9
        rec.flush_every = 1
        _feed(rec, ev, ["c0"])  # small batches go to the running process too
        rec.wait_written()
        assert rec.writer_process is proc and len(store.attempts(ev.run_id)) == 10
        # the process dies: the next batch is written from this process, and so is everything after
        os.kill(proc.pid, signal.SIGKILL)
        with caplog.at_level(logging.WARNING, logger="nodeflow.history.background"):
            _feed(rec, ev, ["d0", "d1"])
            rec.wait_written()
        assert rec.writer_process is None and rec.writer.process_min_rows is None and rec.last_error is None
        assert "written from this process from now on" in caplog.text
        rec.flush_every = 5
        _feed(rec, ev, [f"e{i}" for i in range(10)])
        rec.on_event(ev.run_finished())
        rec.close()
        rows = store.attempts(ev.run_id)
        assert len(rows) == 22 and {r["state"] for r in rows} == {"succeeded"}
        assert store.run(ev.run_id)["state"] == "succeeded"


def test_the_recorder_writes_from_here_when_the_process_cannot_start_or_write(db_path, events, monkeypatch,
                                                                              caplog):
    ev = events()
    with HistoryStore(db_path) as store:
        real = wp.HistoryWriterProcess
        monkeypatch.setattr("nodeflow.history.background.HistoryWriterProcess",
                            lambda path: real(path, python="/nonexistent/python3"))
        rec = HistoryRecorder(store, flush_every=3, flush_interval_s=1e9, background=True, process_min_rows=1)
        rec.on_event(ev.run_started(3))
        with caplog.at_level(logging.WARNING, logger="nodeflow.history.background"):
            _feed(rec, ev, ["a", "b", "c"])
            rec.wait_written()
        assert "cannot start the history writer" in caplog.text and rec.writer.process_min_rows is None
        assert len(store.attempts(ev.run_id)) == 3
        rec.close()

        # a batch the process cannot write (nor can the store): kept, and written by a later flush
        monkeypatch.setattr("nodeflow.history.background.HistoryWriterProcess", real)
        ev2 = events("run-2")
        rec = HistoryRecorder(store, flush_every=2, flush_interval_s=1e9, background=True, process_min_rows=1)
        rec.on_event(ev2.run_started(3))
        _feed(rec, ev2, ["a"])
        rec.flush()
        rec.wait_written()
        proc = rec.writer_process
        assert proc is not None and len(store.attempts(ev2.run_id)) == 1
        other = sqlite3.connect(db_path, isolation_level=None)
        other.execute("ALTER TABLE attempts RENAME TO attempts_away")  # the next statements fail
        with caplog.at_level(logging.WARNING, logger="nodeflow.history.background"):
            _feed(rec, ev2, ["b", "c"])
            rec.wait_written()
        assert "could not write 2 rows" in caplog.text and "no such table" in caplog.text
        assert isinstance(rec.last_error, sqlite3.OperationalError)  # the store's try from here failed too
        assert rec.writer_process is proc and alive(proc.pid)  # the process lives on
        other.execute("ALTER TABLE attempts_away RENAME TO attempts")
        other.close()
        rec.on_event(ev2.run_finished())
        rec.close()
        assert [a["node"] for a in store.attempts(ev2.run_id)] == ["a", "b", "c"]


def test_a_big_run_writes_its_history_through_the_process(tmp_path, monkeypatch):
    started = []
    real = wp.HistoryWriterProcess

    def spy(path):  # the real process, counted
        p = real(path)
        started.append(p.pid)
        return p

    monkeypatch.setattr("nodeflow.history.background.HistoryWriterProcess", spy)
    # (a batch of 500 rows starts it; how the rows of a run fall into batches depends on the
    # machine's speed, so the test lowers that to any batch)
    monkeypatch.setitem(HistoryRecorder.__init__.__kwdefaults__, "process_min_rows", 1)
    reg = builtin_registry()
    wf = Workflow()
    prev = None
    for i in range(300):
        n = reg.create_node(("math", "Add"), wf)
        wf.add_node(n)
        if prev is not None:
            wf.connect((prev, "result"), (n.uniquename, "input"))
        n.terminals["input"].value = [1] if prev is None else []
        prev = n.uniquename
    with HistoryStore(tmp_path / "h.sqlite") as store:
        res = run_workflow(wf, registry=reg, jobs=2, history=store, runs_dir=tmp_path / "runs")
        assert res.state.value == "succeeded" and res.nodes[prev].outputs["result"] == 1
        rows = store.attempts(res.run_id)  # (waits for the run's history to be in)
        assert len(started) == 1 and exits_soon(started[0])  # used, and stopped once the history is in
        assert len(rows) == 300 and {(r["state"], r["executor"], r["node_type"]) for r in rows} == {
            ("succeeded", "local", "math/Add")}
        assert all(r["queued_at"] <= r["started_at"] <= r["finished_at"] for r in rows)
        assert rows[0]["outputs"] == {"result": 1}
