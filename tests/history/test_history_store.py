"""HistoryStore: schema, migrations, WAL, runs/attempts/jobs round trips and queries."""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

from nodeflow.history import SCHEMA_VERSION, HistoryError, HistoryStore, default_history_path
from nodeflow.history import store as store_mod


def _user_version(path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA user_version").fetchone()[0]


def _tables(path) -> set[str]:
    db = sqlite3.connect(path)
    try:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')")}
    finally:
        db.close()


def test_creates_parent_folders_schema_version_and_wal(db_path):
    assert not db_path.parent.exists()
    with HistoryStore(db_path) as s:
        assert s.schema_version == SCHEMA_VERSION == 1
        assert s.journal_mode == "wal"
        assert s._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert db_path.is_file()
    assert _user_version(db_path) == SCHEMA_VERSION
    with sqlite3.connect(db_path) as db:  # WAL is a property of the file
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    names = _tables(db_path)
    assert {"runs", "attempts", "jobs", "runs_by_hash", "runs_by_path", "attempts_by_type"} <= names


def test_reopen_keeps_data(db_path):
    with HistoryStore(db_path) as s:
        s.begin_run("r1", workflow_path="/w/a.nc", workflow_hash="h", workflow_name="a", executor="local",
                    host="me", started_at=10.0, node_count=2, params={"x": [1, 2]})
        s.finish_run("r1", "succeeded", 15.0)
    with HistoryStore(db_path) as s:
        assert s.schema_version == SCHEMA_VERSION
        r = s.run("r1")
    assert r["state"] == "succeeded" and r["finished_at"] == 15.0 and r["params"] == {"x": [1, 2]}
    assert r["workflow_path"] == "/w/a.nc" and r["node_count"] == 2 and r["parent_run_id"] is None


def test_migrates_from_user_version_0(db_path):
    db_path.parent.mkdir(parents=True)
    db = sqlite3.connect(db_path)
    db.execute("CREATE TABLE unrelated (x)")  # an existing file at version 0
    db.commit()
    db.close()
    assert _user_version(db_path) == 0
    with HistoryStore(db_path) as s:
        assert s.schema_version == 1
        assert s.runs() == []
    assert {"runs", "attempts", "jobs", "unrelated"} <= _tables(db_path)


def test_each_migration_runs_once_in_order(db_path, monkeypatch):
    calls = []
    migrations = dict(store_mod.MIGRATIONS)
    migrations[2] = lambda db: (calls.append(2), db.execute("ALTER TABLE runs ADD COLUMN note TEXT"))
    monkeypatch.setattr(store_mod, "MIGRATIONS", migrations)
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", 2)
    with HistoryStore(db_path) as s:
        assert s.schema_version == 2
    with HistoryStore(db_path) as s:
        assert s.schema_version == 2
    assert calls == [2]


def test_failed_migration_rolls_back(db_path, monkeypatch):
    def broken(db):
        db.execute("CREATE TABLE half (x)")
        raise RuntimeError("boom")

    monkeypatch.setattr(store_mod, "MIGRATIONS", {**store_mod.MIGRATIONS, 2: broken})
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", 2)
    with pytest.raises(RuntimeError):
        HistoryStore(db_path)
    assert _user_version(db_path) == 1
    assert "half" not in _tables(db_path)


def test_newer_file_is_refused(db_path):
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(HistoryError, match="newer"):
        HistoryStore(db_path)


def test_close_and_context_manager(db_path):
    s = HistoryStore(db_path)
    s.close()
    s.close()  # twice is fine
    assert s.closed
    with pytest.raises(HistoryError):
        s.runs()


def test_no_threads_started_and_usable_from_another_thread(db_path):
    before = threading.active_count()
    s = HistoryStore(db_path)
    assert threading.active_count() == before
    result = []
    t = threading.Thread(target=lambda: (s.begin_run("r", workflow_path=None, workflow_hash=None,
                                                     workflow_name=None, executor=None, host=None,
                                                     started_at=1.0, node_count=0),
                                         result.append(s.latest_run_id())))
    t.start()
    t.join()
    assert result == ["r"]
    s.close()


def test_default_history_path(monkeypatch):
    import platformdirs

    monkeypatch.delenv("NODEFLOW_HOME", raising=False)
    p = default_history_path()
    assert p == Path(platformdirs.user_data_dir("nodeflow")) / "history.sqlite"


def _begin(s, run_id, t, path="/w/a.nc", h="h1", **kw):
    s.begin_run(run_id, workflow_path=path, workflow_hash=h, workflow_name="a", executor="local", host="me",
                started_at=t, node_count=3, **kw)


def test_runs_newest_first_and_filters(store):
    _begin(store, "old", 10.0)
    _begin(store, "mid", 20.0, path="/w/b.nc", h="h2")
    _begin(store, "new", 30.0, parent_run_id="old")
    assert [r["run_id"] for r in store.runs()] == ["new", "mid", "old"]
    assert [r["run_id"] for r in store.runs(workflow_path="/w/a.nc")] == ["new", "old"]
    assert [r["run_id"] for r in store.runs(workflow_hash="h2")] == ["mid"]
    assert [r["run_id"] for r in store.runs(limit=1)] == ["new"]
    assert store.latest_run_id() == "new"
    assert store.latest_run_id("/w/b.nc") == "mid"
    assert store.latest_run_id("/nowhere") is None
    assert store.run("new")["parent_run_id"] == "old"
    assert store.run("nope") is None


def test_upsert_merges_and_last_attempts(store):
    store.upsert_attempts([
        {"run_id": "r", "node": "a", "attempt": 1, "node_type": "math/Power", "queued_at": 1.0, "state": "queued"},
        {"run_id": "r", "node": "b", "attempt": 1, "state": "succeeded", "started_at": 1.0, "finished_at": 2.0},
    ])
    store.upsert_attempts([
        {"run_id": "r", "node": "a", "attempt": 1, "started_at": 2.0, "finished_at": 3.0, "state": "failed",
         "error": "bad"},
        {"run_id": "r", "node": "a", "attempt": 2, "started_at": 4.0, "finished_at": 5.0, "state": "succeeded"},
    ])
    rows = store.attempts("r")
    assert [(a["node"], a["attempt"], a["state"]) for a in rows] == [("a", 1, "failed"), ("a", 2, "succeeded"),
                                                                    ("b", 1, "succeeded")]
    a1 = rows[0]
    assert a1["queued_at"] == 1.0 and a1["node_type"] == "math/Power" and a1["error"] == "bad"  # merged
    assert a1["reused"] is False
    last = store.last_attempts("r")
    assert {n: a["attempt"] for n, a in last.items()} == {"a": 2, "b": 1}


def test_outputs_with_arrays_round_trip_through_reusable_outputs(store):
    arr = np.arange(12, dtype=np.float64).reshape(3, 4)
    store.upsert_attempts([
        {"run_id": "r", "node": "a", "attempt": 1, "state": "succeeded", "input_hash": "ih-a",
         "outputs": {"array": arr, "n": np.int64(3), "label": "x", "nested": [np.float32(1.5), {"k": arr[0]}]}},
        {"run_id": "r", "node": "b", "attempt": 1, "state": "succeeded", "input_hash": None, "outputs": {"x": 1}},
        {"run_id": "r", "node": "c", "attempt": 1, "state": "succeeded", "input_hash": "ih-c", "outputs": {"x": 1}},
        {"run_id": "r", "node": "c", "attempt": 2, "state": "failed", "input_hash": "ih-c"},
        {"run_id": "r", "node": "d", "attempt": 1, "state": "failed", "input_hash": "ih-d", "outputs": {}},
        {"run_id": "r", "node": "e", "attempt": 1, "state": "succeeded", "input_hash": "ih-e", "outputs": {}},
    ])
    reusable = store.reusable_outputs("r")
    assert set(reusable) == {"a", "e"}  # b: no hash, c: last attempt failed, d: failed
    h, out = reusable["a"]
    assert h == "ih-a"
    assert isinstance(out["array"], np.ndarray) and out["array"].dtype == np.float64
    np.testing.assert_array_equal(out["array"], arr)
    assert out["n"] == 3 and out["label"] == "x" and out["nested"][0] == 1.5
    np.testing.assert_array_equal(out["nested"][1]["k"], arr[0])
    assert reusable["e"] == ("ih-e", {})


def test_unstorable_outputs_keep_the_row_but_are_not_reusable(store):
    store.upsert_attempts([{"run_id": "r", "node": "a", "attempt": 1, "state": "succeeded", "input_hash": "h",
                            "outputs": {"obj": object()}}])
    assert store.attempts("r")[0]["state"] == "succeeded"
    assert store.reusable_outputs("r") == {}


def test_durations_filters(store):
    _begin(store, "r1", 100.0)
    _begin(store, "r2", 200.0, path="/w/b.nc")
    rows = [
        # run, node, attempt, type, executor, queued, started, finished, state, reused
        ("r1", "a", 1, "math/Power", "local", 100.0, 101.0, 104.0, "succeeded", False),   # 3 s, wait 1
        ("r1", "b", 1, "math/Add", "local", None, 110.0, 112.0, "succeeded", False),      # 2 s, no wait
        ("r1", "c", 1, "math/Power", "slurm", 100.0, 130.0, 140.0, "succeeded", False),   # 10 s, wait 30
        ("r1", "d", 1, "math/Power", "local", 100.0, 101.0, 150.0, "failed", False),      # not succeeded
        ("r2", "a", 1, "math/Power", "local", 200.0, 200.5, 205.5, "succeeded", False),   # 5 s, wait 0.5
        ("r2", "b", 1, "math/Add", "local", None, None, 201.0, "succeeded", True),        # reused
    ]
    keys = ("run_id", "node", "attempt", "node_type", "executor", "queued_at", "started_at", "finished_at",
            "state", "reused")
    store.upsert_attempts([dict(zip(keys, r)) for r in rows])
    assert store.durations() == [(5.0, 0.5), (10.0, 30.0), (2.0, None), (3.0, 1.0)]  # newest first
    assert store.durations(workflow_path="/w/a.nc") == [(10.0, 30.0), (2.0, None), (3.0, 1.0)]
    assert store.durations(node="a") == [(5.0, 0.5), (3.0, 1.0)]
    assert store.durations(node="a", workflow_path="/w/b.nc") == [(5.0, 0.5)]
    assert store.durations(node_type="math/Power") == [(5.0, 0.5), (10.0, 30.0), (3.0, 1.0)]
    assert store.durations(node_type="math/Power", executor="slurm") == [(10.0, 30.0)]
    assert store.durations(node_type="math/Add") == [(2.0, None)]
    assert store.durations(limit=2) == [(5.0, 0.5), (10.0, 30.0)]


def test_journal_job_survives_close_and_reopen(db_path):
    s = HistoryStore(db_path)
    s.journal_job("r", "a", 1, "slurm", "12345", "/scratch/run/a", 50.0, profile="cluster",
                  extra={"partition": "debug"})
    s.journal_job("r", "b", 1, "slurm", 12346, "/scratch/run/b", 51.0)
    # the journal is committed at once: another connection sees it before close
    with sqlite3.connect(db_path) as other:
        assert other.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 2
    s._db.close()  # no orderly close: as if the process died
    s._db = None
    with HistoryStore(db_path) as s2:
        jobs = s2.jobs("r")
    assert [(j["node"], j["job_id"], j["profile"], j["extra"]) for j in jobs] == [
        ("a", "12345", "cluster", {"partition": "debug"}), ("b", "12346", None, None)]
    assert jobs[0]["workdir"] == "/scratch/run/a" and jobs[0]["submitted_at"] == 50.0
    assert jobs[0]["executor"] == "slurm" and jobs[0]["attempt"] == 1


def test_finish_run_without_begin_creates_a_row(store):
    store.finish_run("ghost", "failed", 9.0)
    r = store.run("ghost")
    assert r["state"] == "failed" and r["finished_at"] == 9.0


def test_two_stores_opening_a_new_file_at_once(db_path):
    errors, stores = [], []
    barrier = threading.Barrier(4)

    def open_it():
        barrier.wait()
        try:
            stores.append(HistoryStore(db_path))
        except Exception as e:  # pragma: no cover - the failure this test is about
            errors.append(e)

    db_path.parent.mkdir(parents=True)
    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(s.schema_version == SCHEMA_VERSION for s in stores)
    for s in stores:
        s.close()


def test_many_rows_are_written_in_multi_row_statements_and_merge(db_path):
    """More rows than one statement takes (two whole statements + a remainder): every row lands,
    and a second, partial write merges — NULL keeps what is stored, ``reused`` never goes back to 0."""
    from nodeflow.history.store import ATTEMPT_COLUMNS, ROWS_PER_STATEMENT

    n = 2 * ROWS_PER_STATEMENT + 5
    col = {c: i for i, c in enumerate(ATTEMPT_COLUMNS)}

    def row(i, **values):
        r = [None] * len(ATTEMPT_COLUMNS)
        r[0], r[1], r[2] = "r", f"n{i:03d}", 1
        for k, v in values.items():
            r[col[k]] = v
        return r

    with HistoryStore(db_path) as s:
        first = [row(i, node_type="math/Add", queued_at=1000.0 + i / 7, state="succeeded", outputs={"result": i},
                     reused=1 if i % 3 == 0 else 0) for i in range(n)]
        assert s.upsert_attempt_values(first) == n
        s.upsert_attempt_values([row(i, error=f"e{i}", reused=0) for i in range(n)])  # a partial row per attempt
        got = s.attempts("r")
    assert [a["node"] for a in got] == [f"n{i:03d}" for i in range(n)]
    for i, a in enumerate(got):
        assert (a["node_type"], a["queued_at"], a["state"], a["outputs"], a["error"]) == (
            "math/Add", 1000.0 + i / 7, "succeeded", {"result": i}, f"e{i}")
        assert a["reused"] is (i % 3 == 0)
