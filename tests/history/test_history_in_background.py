"""A run's history is committed after the run returns: by the recorder's writer thread and the
writer process, the run's row finished last; this process's store waits for it, another reader
sees the run still running until every row is in, and the interpreter's exit waits for it too."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import numpy as np

from nodeflow.engine import EventCollector, EventKind, RunPlan, run_workflow
from nodeflow.engine.plan import input_hash, workflow_hash
from nodeflow.history import HistoryStore
from nodeflow.history.writer_process import HistoryWriterProcess
from nodeflow.library import builtin_registry
from nodeflow.model import Workflow

N = 600  # >= WRITER_PROCESS_MIN_ROWS: the writer process takes the rows


def chain(n: int) -> Workflow:
    """A Float and n - 1 Adds in a chain: node k gives 0.5 * (k + 1)... of plain floats."""
    reg = builtin_registry()
    wf = Workflow()
    prev = reg.create_node(("types", "Float"), wf)
    prev.terminals["float"].value = 0.5
    wf.add_node(prev)
    out = "float"
    for _ in range(n - 1):
        add = reg.create_node(("math", "Add"), wf)
        add.terminals["input"].value = [0.5]  # its own value, plus the upstream one
        wf.add_node(add)
        wf.connect((prev.uniquename, out), (add.uniquename, "input"))
        prev, out = add, "result"
    return wf


def test_the_run_returns_first_its_row_is_finished_last_and_this_stores_reads_wait(tmp_path, monkeypatch):
    real_write = HistoryWriterProcess.write

    def slow_write(self, *args, **kwargs):  # a slow disk: each batch takes a while
        time.sleep(0.4)
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(HistoryWriterProcess, "write", slow_write)
    path = tmp_path / "h.sqlite"
    store = HistoryStore(path)
    res = run_workflow(chain(N), registry=builtin_registry(), jobs=2, history=store, runs_dir=tmp_path / "runs")
    assert res.state.value == "succeeded"
    with HistoryStore(path) as other:  # a reader that was not promised anything, like another process
        assert other.run(res.run_id)["state"] == "running"
        counts = []  # rows seen while the run still reads running (all of them may be in already:
        deadline = time.monotonic() + 60  # the row is finished after the last batch, not with it)
        while other.run(res.run_id)["state"] == "running":
            counts.append(len(other.attempts(res.run_id)))
            assert time.monotonic() < deadline, "the run's end never came"
            time.sleep(0.02)
        assert counts and counts[0] < N and counts == sorted(counts)  # returned first; rows only come
        # the first moment it reads finished, every attempt is in
        assert other.run(res.run_id)["state"] == "succeeded" and len(other.attempts(res.run_id)) == N
    # this store's reads wait for what the run promised
    assert store.run(res.run_id)["state"] == "succeeded" and len(store.attempts(res.run_id)) == N
    store.close()


def test_the_writer_process_fingerprints_plain_inputs_as_the_engine_does(tmp_path):
    reg = builtin_registry()
    wf = chain(N)
    seen = EventCollector()
    with HistoryStore(tmp_path / "h.sqlite") as store:
        first = run_workflow(wf, registry=reg, jobs=2, history=store, runs_dir=tmp_path / "runs", observers=[seen])
        ok = seen.of(EventKind.NODE_SUCCEEDED)
        assert len(ok) == N and all(e.data["input_hash"] is None and e.data["hash_inputs"] is not None for e in ok)
        rows = {a["node"]: a for a in store.attempts(first.run_id)}
        for e in ok[:5] + ok[-5:]:
            assert rows[e.node]["input_hash"] == input_hash(e.data["node_type"], e.data["hash_inputs"])
        # and rerun-failed, comparing them with fingerprints made in this process, reuses every node
        again = run_workflow(wf, registry=reg, jobs=2, history=store, runs_dir=tmp_path / "runs",
                             rerun_failed=first.run_id)
    assert all(r.reused for r in again.nodes.values())
    assert again.nodes[ok[-1].node].outputs == first.nodes[ok[-1].node].outputs


def test_a_big_runs_workflow_hash_is_made_by_the_writer_process_or_else_here(tmp_path):
    reg = builtin_registry()
    for value in (0.5, np.arange(3.0)):  # an array: marshal sends its bytes, which the child's JSON refuses
        wf = chain(N)
        wf.nodes["float"].terminals["float"].value = value
        seen = EventCollector()
        with HistoryStore(tmp_path / "h.sqlite") as store:
            res = run_workflow(wf, registry=reg, history=store, runs_dir=tmp_path / "runs", observers=[seen])
            started = seen.of(EventKind.RUN_STARTED)[0]
            assert started.data["workflow_hash"] is None and len(started.data["hash_entries"]) == N
            assert store.run(res.run_id)["workflow_hash"] == workflow_hash(wf) == RunPlan.build(wf, reg).workflow_hash
        # hand-offs to the history stay in this process: not in the events' JSON
        assert "hash_entries" not in started.to_json()["data"]
        assert "hash_inputs" not in seen.of(EventKind.NODE_SUCCEEDED)[-1].to_json()["data"]


def test_a_process_that_exits_right_after_the_run_leaves_its_whole_history(tmp_path):
    path = tmp_path / "h.sqlite"
    script = textwrap.dedent(f"""
        import sys, time
        sys.path[:0] = {sys.path!r}
        from nodeflow.history import HistoryStore
        from nodeflow.history.writer_process import HistoryWriterProcess
        from nodeflow.engine import run_workflow
        from nodeflow.library import builtin_registry
        from test_history_in_background import chain
        real = HistoryWriterProcess.write
        def slow(self, *a, **k):
            time.sleep(0.3)
            return real(self, *a, **k)
        HistoryWriterProcess.write = slow
        res = run_workflow(chain({N}), registry=builtin_registry(), history=HistoryStore({str(path)!r}),
                           runs_dir={str(tmp_path / "runs")!r})
        print(res.run_id)
        # no close(): the interpreter's exit must still let the history be written
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=str(tmp_path), capture_output=True, text=True,
                         timeout=120, env=_env_with_tests_dir())
    assert out.returncode == 0, out.stderr
    run_id = out.stdout.strip()
    with HistoryStore(path) as store:
        assert store.run(run_id)["state"] == "succeeded"
        assert len(store.attempts(run_id)) == N


def _env_with_tests_dir() -> dict[str, str]:
    import os
    from pathlib import Path

    env = dict(os.environ)
    here = str(Path(__file__).parent)
    env["PYTHONPATH"] = os.pathsep.join([here, env.get("PYTHONPATH", "")])
    return env


def test_reads_wait_only_for_promises_made_before_them_by_threads_that_live(tmp_path):
    import threading

    store = HistoryStore(tmp_path / "h.sqlite")
    held = threading.Event()
    release = threading.Event()
    tickets = {}

    def writer(name, keep):
        tickets[name] = store.promise_write(threading.current_thread())
        held.set()
        release.wait(30)
        if keep:
            store.promise_kept(tickets[name])

    first = threading.Thread(target=writer, args=("first", True))
    first.start()
    held.wait(10)
    assert store.settle(timeout=0.2) is False  # owed, and its thread is busy
    settled = []
    reader = threading.Thread(target=lambda: settled.append(store.settle(timeout=30)))
    reader.start()
    time.sleep(0.1)
    held.clear()
    later = threading.Thread(target=writer, args=("later", False))  # promised after the read began
    later.start()
    held.wait(10)
    release.set()  # the first keeps its promise; the later one's thread ends without keeping it
    reader.join(30)
    assert settled == [True]
    later.join(10)
    assert store.settle(timeout=5) is True  # a thread that died owes nothing any more
    store.close()


def test_a_writer_thread_that_is_gone_leaves_its_batches_and_the_runs_end_to_whoever_ends_the_run(tmp_path):
    from nodeflow.history.background import BackgroundWriter, RunEnd
    from nodeflow.history.sqlwrite import ATTEMPT_COLUMNS

    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.begin_run("r1", workflow_path=None, workflow_hash=None, workflow_name=None, executor="local",
                        host="here", started_at=1.0, node_count=1)
        writer = BackgroundWriter(store, process_min_rows=None)
        writer.stop(wait=True)  # (it should not happen: a thread that stopped)
        row = dict.fromkeys(ATTEMPT_COLUMNS)
        row.update(run_id="r1", node="n", attempt=1, state="succeeded", reused=0, outputs={"x": 1})
        writer.put(([[row[c] for c in ATTEMPT_COLUMNS]], [], {}))
        writer.end_run(RunEnd("r1", "succeeded", 2.0))  # does not hang, writes what was left
        assert store.run("r1")["state"] == "succeeded"
        assert [a["node"] for a in store.attempts("r1")] == ["n"]
