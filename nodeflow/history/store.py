"""The run history: one SQLite file holding runs, node attempts and remote jobs.

``HistoryStore`` owns the file. Three tables:

* ``runs`` – one row per run (workflow, executor, host, times, final state,
  the run it re-runs, its parameters as JSON).
* ``attempts`` – one row per node attempt (times queued/started/finished,
  state, exit code, error, logs, job id, input hash and outputs — outputs are
  JSON from ``model.values.encode`` with arrays inline, so rerun-failed can
  reuse them).
* ``jobs`` – a journal of jobs handed to remote executors, written and
  committed at once, so a crashed editor can find its Slurm jobs again.

The schema is versioned with ``PRAGMA user_version``: ``MIGRATIONS[n]`` takes
a file from version ``n - 1`` to ``n``, each in its own transaction. The file
uses WAL (readers never block the writer) with ``synchronous=NORMAL``.

One connection, used by one thread at a time under a lock; it may be created
on another thread than the one that uses it. Nothing runs in the background:
``close()`` it, or use it as a context manager.
"""
from __future__ import annotations

import functools
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..model.values import decode, json_default
from .outputs_json import encode_outputs
from .promises import WritePromises
from .sqlwrite import ATTEMPT_COLUMNS, SET_WORKFLOW_HASH_SQL, upsert_rows

__all__ = ["HistoryError", "HistoryStore", "MIGRATIONS", "SCHEMA_VERSION", "default_history_path"]


class HistoryError(Exception):
    """The history file can't be used (e.g. written by a newer nodeflow)."""


def default_history_path() -> Path:
    """``platformdirs.user_data_dir("nodeflow") / "history.sqlite"`` (not created here).

    Goes through ``nodeflow.appdirs`` when it is there, so a ``NODEFLOW_HOME``
    override moves the history together with the other files ``nodeflow run`` writes.
    """
    try:
        from ..appdirs import history_path
    except ImportError:  # pragma: no cover
        import platformdirs

        return Path(platformdirs.user_data_dir("nodeflow")) / "history.sqlite"
    return Path(history_path())


# --------------------------------------------------------------------------- schema

def _migrate_1(db: sqlite3.Connection) -> None:
    for sql in (
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            workflow_path TEXT, workflow_hash TEXT, workflow_name TEXT,
            executor TEXT, host TEXT,
            started_at REAL, finished_at REAL, state TEXT,
            node_count INTEGER, parent_run_id TEXT, params TEXT)""",
        "CREATE INDEX runs_by_hash ON runs (workflow_hash, started_at)",
        "CREATE INDEX runs_by_path ON runs (workflow_path, started_at)",
        "CREATE INDEX runs_by_start ON runs (started_at)",
        # (run_id, ...) primary keys serve the lookups by run id of attempts and jobs.
        """CREATE TABLE attempts (
            run_id TEXT NOT NULL, node TEXT NOT NULL, attempt INTEGER NOT NULL,
            node_type TEXT, executor TEXT, host TEXT,
            queued_at REAL, started_at REAL, finished_at REAL, state TEXT,
            exit_code INTEGER, error TEXT, reason TEXT,
            stdout_path TEXT, stderr_path TEXT, job_id TEXT,
            input_hash TEXT, outputs TEXT, reused INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (run_id, node, attempt))""",
        "CREATE INDEX attempts_by_type ON attempts (node_type, executor)",
        """CREATE TABLE jobs (
            run_id TEXT NOT NULL, node TEXT NOT NULL, attempt INTEGER NOT NULL,
            executor TEXT, job_id TEXT, workdir TEXT, submitted_at REAL,
            profile TEXT, extra TEXT,
            PRIMARY KEY (run_id, node, attempt))""",
    ):
        db.execute(sql)


#: target version -> function taking the file from the version before to it
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _migrate_1}
SCHEMA_VERSION = max(MIGRATIONS)

RUN_COLUMNS = ("run_id", "workflow_path", "workflow_hash", "workflow_name", "executor", "host", "started_at",
               "finished_at", "state", "node_count", "parent_run_id", "params")
JOB_COLUMNS = ("run_id", "node", "attempt", "executor", "job_id", "workdir", "submitted_at", "profile", "extra")

_OUTPUTS = ATTEMPT_COLUMNS.index("outputs")
_KEY = ("run_id", "node", "attempt")
_MERGED = [c for c in ATTEMPT_COLUMNS if c not in _KEY and c != "reused"]
_N = len(ATTEMPT_COLUMNS)
# Upsert of ``n`` rows per statement that merges: a column given as NULL keeps
# what is stored; ``reused`` only ever goes from 0 to 1 for an attempt (it is
# how that attempt ended), so it merges with MAX. Many rows per statement
# (multi-row VALUES) let SQLite insert them in one step with the GIL released
# once, instead of once per row as ``executemany`` does — next to a busy
# scheduler thread, handing the GIL back and forth per row cost more than the
# writing itself. Measured with callgrind: ~51k instructions a row against ~58k
# for executemany (and ~144k for a JSON array walked with json_each).
ROWS_PER_STATEMENT = 32


@functools.lru_cache(maxsize=None)
def _upsert_rows_sql(n: int) -> str:
    values = ", ".join("(" + ", ".join(f"?{r * _N + c + 1}" for c in range(_N - 1)) + f", COALESCE(?{r * _N + _N}, 0))"
                       for r in range(n))
    return (f"INSERT INTO attempts ({', '.join(ATTEMPT_COLUMNS)}) VALUES {values} "
            "ON CONFLICT (run_id, node, attempt) DO UPDATE SET "
            + ", ".join(f"{c} = COALESCE(excluded.{c}, {c})" for c in _MERGED)
            + ", reused = MAX(excluded.reused, reused)")


#: the upsert of ROWS_PER_STATEMENT rows and of one row (see sqlwrite.upsert_rows)
UPSERT_ROWS_SQL, UPSERT_ROW_SQL = _upsert_rows_sql(ROWS_PER_STATEMENT), _upsert_rows_sql(1)


def encode_attempt_values(rows: Iterable[Sequence[Any]]) -> list[list[Any]]:
    """Rows in ``ATTEMPT_COLUMNS`` order with plain values except the raw ``outputs``, made
    ready for SQLite: outputs encoded as JSON text (None when not storable)."""
    params = []
    for r in rows:
        p = list(r)
        p[_OUTPUTS] = encode_outputs(p[_OUTPUTS])
        params.append(p)
    return params


def _text(value: Any) -> Any:
    """Enum members (``NodeState``, ``RunState``) as their plain value."""
    return getattr(value, "value", value)


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=json_default, separators=(",", ":"))


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


# --------------------------------------------------------------------------- store

class HistoryStore:
    """The history SQLite file at ``path`` (``":memory:"`` for a throw-away store)."""

    def __init__(self, path: str | os.PathLike):
        self.path = path if path == ":memory:" else Path(path)
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        #: writes promised by other threads that the caller did not wait for (see promise_write)
        self._promises = WritePromises()
        # autocommit mode: every transaction below is an explicit BEGIN ... COMMIT
        self._db: sqlite3.Connection | None = sqlite3.connect(
            os.fspath(self.path), check_same_thread=False, isolation_level=None, timeout=10.0)
        try:
            self._db.row_factory = sqlite3.Row
            self.journal_mode = self._enable_wal()
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except BaseException:
            self._db.close()
            self._db = None
            raise

    # -- writes finished in the background (see promises.py) ------------------------------
    def promise_write(self, thread: threading.Thread) -> int:
        """Note that ``thread`` will write something the caller did not wait for (the end of a run
        the recorder's writer thread commits after the run returned); returns the ticket it hands
        to ``promise_kept``. Until then this store's reads and ``close()`` wait for it, so whoever
        reads here sees the run whole. (Another process sees the run still "running" until then.)"""
        return self._promises.make(thread)

    def promise_kept(self, ticket: int) -> None:
        """Called by the promising thread once its write is done (or failed)."""
        self._promises.keep(ticket)

    def settle(self, timeout: float | None = None) -> bool:
        """Wait for the writes promised before this call by other threads that still live; False
        if ``timeout`` passed first."""
        return self._promises.settle(timeout)

    # -- lifetime --------------------------------------------------------------------
    def close(self) -> None:
        self.settle()
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @property
    def closed(self) -> bool:
        return self._db is None

    def __enter__(self) -> "HistoryStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HistoryStore({os.fspath(self.path)!r})"

    @property
    def schema_version(self) -> int:
        with self._lock:
            return self._conn().execute("PRAGMA user_version").fetchone()[0]

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise HistoryError("the history store is closed")
        return self._db

    def _transaction(self):
        return _Transaction(self)

    def _enable_wal(self, patience_s: float = 10.0) -> str:
        """Switch the file to WAL; returns the journal mode now in use.

        Switching needs the file to itself, and SQLite answers "locked" at
        once (no busy wait) when another connection is opening it at the same
        moment: try again for a while."""
        db = self._conn()
        deadline = time.monotonic() + patience_s
        delay = 0.002
        while True:
            try:
                return db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e) or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def _migrate(self) -> None:
        """Bring the file to ``SCHEMA_VERSION``, one migration per transaction.

        The version is read again inside each write transaction, so two
        processes opening a new file at once don't both migrate it."""
        if self._conn().execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return  # the usual case: no write lock needed
        while True:
            with self._transaction() as tx:
                version = tx.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise HistoryError(f"{self.path}: history schema version {version} is newer than this "
                                       f"nodeflow understands ({SCHEMA_VERSION})")
                if version == SCHEMA_VERSION:
                    return
                MIGRATIONS[version + 1](tx)
                tx.execute(f"PRAGMA user_version = {int(version + 1)}")

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        self.settle()
        with self._lock:
            return self._conn().execute(sql, tuple(params)).fetchall()

    # -- runs ------------------------------------------------------------------------
    def begin_run(self, run_id: str, *, workflow_path: str | os.PathLike | None, workflow_hash: str | None,
                  workflow_name: str | None, executor: str | None, host: str | None, started_at: float | None,
                  node_count: int | None, parent_run_id: str | None = None,
                  params: Mapping[str, Any] | None = None) -> None:
        """Record a run as started (committed at once). Starting the same id again replaces it."""
        wp = os.fspath(workflow_path) if workflow_path is not None else None
        with self._transaction() as tx:
            tx.execute(
                "INSERT INTO runs (run_id, workflow_path, workflow_hash, workflow_name, executor, host, started_at,"
                " finished_at, state, node_count, parent_run_id, params)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 'running', ?, ?, ?)"
                " ON CONFLICT (run_id) DO UPDATE SET workflow_path = excluded.workflow_path,"
                " workflow_hash = excluded.workflow_hash, workflow_name = excluded.workflow_name,"
                " executor = excluded.executor, host = excluded.host, started_at = excluded.started_at,"
                " finished_at = NULL, state = 'running', node_count = excluded.node_count,"
                " parent_run_id = excluded.parent_run_id, params = excluded.params",
                (run_id, wp, workflow_hash, workflow_name, _text(executor), host, started_at, node_count,
                 parent_run_id, _dump(params)))

    def finish_run(self, run_id: str, state: str, finished_at: float | None) -> None:
        """Set a run's final state (a run never begun gets a row of its own)."""
        with self._transaction() as tx:
            cur = tx.execute("UPDATE runs SET state = ?, finished_at = ? WHERE run_id = ?",
                             (_text(state), finished_at, run_id))
            if cur.rowcount == 0:
                tx.execute("INSERT INTO runs (run_id, state, finished_at) VALUES (?, ?, ?)",
                           (run_id, _text(state), finished_at))

    def set_workflow_hash(self, run_id: str, workflow_hash: str) -> None:
        """Fill in the hash of a run's workflow, made after the run began."""
        with self._transaction() as tx:
            tx.execute(SET_WORKFLOW_HASH_SQL, (workflow_hash, run_id))

    def runs(self, workflow_path: str | os.PathLike | None = None, workflow_hash: str | None = None,
             limit: int = 50) -> list[dict[str, Any]]:
        """Runs, newest first, optionally of one workflow file and/or content hash."""
        where, params = [], []
        if workflow_path is not None:
            where.append("workflow_path = ?")
            params.append(os.fspath(workflow_path))
        if workflow_hash is not None:
            where.append("workflow_hash = ?")
            params.append(workflow_hash)
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY started_at DESC, rowid DESC LIMIT ?"
        return [self._run_dict(r) for r in self._query(sql, [*params, int(limit)])]

    def run(self, run_id: str) -> dict[str, Any] | None:
        rows = self._query("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        return self._run_dict(rows[0]) if rows else None

    def latest_run_id(self, workflow_path: str | os.PathLike | None = None) -> str | None:
        if workflow_path is None:
            rows = self._query("SELECT run_id FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1")
        else:
            rows = self._query("SELECT run_id FROM runs WHERE workflow_path = ? "
                               "ORDER BY started_at DESC, rowid DESC LIMIT 1", (os.fspath(workflow_path),))
        return rows[0][0] if rows else None

    @staticmethod
    def _run_dict(row: sqlite3.Row) -> dict[str, Any]:
        d = dict(row)
        d["params"] = _load(d["params"])
        return d

    # -- attempts --------------------------------------------------------------------
    def upsert_attempts(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Write attempt rows in one transaction; returns how many.

        Each row needs ``run_id``, ``node`` and ``attempt``; other columns
        (``ATTEMPT_COLUMNS``) may be left out. A missing or ``None`` column
        keeps what an earlier write stored, so partial rows merge. ``outputs``
        is the node's output values (numpy arrays allowed); they are encoded here.
        """
        return self.upsert_attempt_values([_attempt_params(r) for r in rows])

    def upsert_attempt_values(self, rows: Iterable[Sequence[Any]]) -> int:
        """``upsert_attempts`` for rows given as sequences in ``ATTEMPT_COLUMNS`` order
        whose values are plain already (str, numbers, None) except the raw
        ``outputs``: the recorder's fast path."""
        return self.write_encoded_attempts(encode_attempt_values(rows))

    def write_encoded_attempts(self, params: Sequence[Sequence[Any]]) -> int:
        """Upsert rows from ``encode_attempt_values`` in one transaction; returns how many."""
        if not params:
            return 0
        with self._transaction() as tx:
            upsert_rows(tx, params, UPSERT_ROWS_SQL, UPSERT_ROW_SQL, ROWS_PER_STATEMENT)
        return len(params)

    def attempts(self, run_id: str) -> list[dict[str, Any]]:
        """Every attempt of a run, ordered by node then attempt, outputs decoded."""
        rows = self._query("SELECT * FROM attempts WHERE run_id = ? ORDER BY node, attempt", (run_id,))
        return [self._attempt_dict(r) for r in rows]

    def last_attempts(self, run_id: str) -> dict[str, dict[str, Any]]:
        """Each node's highest-numbered attempt in a run."""
        rows = self._query(
            "SELECT a.* FROM attempts a JOIN (SELECT node, MAX(attempt) AS attempt FROM attempts"
            " WHERE run_id = ? GROUP BY node) m ON a.node = m.node AND a.attempt = m.attempt"
            " WHERE a.run_id = ? ORDER BY a.node", (run_id, run_id))
        return {r["node"]: self._attempt_dict(r) for r in rows}

    def reusable_outputs(self, run_id: str) -> dict[str, tuple[str, Any]]:
        """``{node: (input_hash, outputs)}`` of the nodes whose last attempt succeeded
        with a known input hash and stored outputs — what rerun-failed may skip."""
        out = {}
        for node, a in self.last_attempts(run_id).items():
            if a["state"] == "succeeded" and a["input_hash"] is not None and a["outputs"] is not None:
                out[node] = (a["input_hash"], a["outputs"])
        return out

    def durations(self, *, workflow_path: str | os.PathLike | None = None, node: str | None = None,
                  node_type: str | None = None, executor: str | None = None,
                  limit: int = 20) -> list[tuple[float, float | None]]:
        """``(duration_s, queue_wait_s or None)`` of succeeded, not reused attempts, newest first.

        duration = finished_at - started_at; queue wait = started_at - queued_at.
        """
        sql = ["SELECT a.finished_at - a.started_at, a.started_at - a.queued_at FROM attempts a"]
        where = ["a.state = 'succeeded'", "a.reused = 0", "a.started_at IS NOT NULL", "a.finished_at IS NOT NULL"]
        params: list[Any] = []
        if workflow_path is not None:
            sql.append("JOIN runs r ON r.run_id = a.run_id")
            where.append("r.workflow_path = ?")
            params.append(os.fspath(workflow_path))
        for col, value in (("node", node), ("node_type", node_type), ("executor", executor)):
            if value is not None:
                where.append(f"a.{col} = ?")
                params.append(_text(value))
        sql.append("WHERE " + " AND ".join(where) + " ORDER BY a.finished_at DESC LIMIT ?")
        params.append(int(limit))
        return [(float(d), None if w is None else float(w)) for d, w in self._query(" ".join(sql), params)]

    @staticmethod
    def _attempt_dict(row: sqlite3.Row) -> dict[str, Any]:
        d = dict(row)
        if d["outputs"] is not None:
            d["outputs"] = decode(json.loads(d["outputs"]))
        d["reused"] = bool(d["reused"])
        return d

    # -- bulk timings for the ETA estimator (history/eta.py) ----------------------------
    def timing_samples(self, *, workflow_path: str | os.PathLike | None = None, workflow_hash: str | None = None,
                       node_types: Iterable[str] = (), executors: Iterable[str] = (), per_node: int = 10,
                       per_type: int = 30, per_executor: int = 200, workflow_runs: int = 50,
                       recent_runs: int = 500) -> dict[str, list[tuple]]:
        """Everything the ETA estimator needs for one run, in three queries (not one per node).

        Rows are newest first within each group; ``extra`` is the decoded
        ``jobs.extra`` of the attempt's remote job (``partition``, ``tags``,
        ``resources`` when the executor journalled them) or None.

        * ``"node"``: ``(node, node_type, executor, duration_s, queue_wait_s, finished_at, extra)`` — succeeded,
          not reused attempts of the last ``workflow_runs`` runs whose workflow path OR hash matches; at most
          ``per_node`` per (node, executor).
        * ``"type"``: ``(node_type, executor, duration_s, queue_wait_s, finished_at, extra)`` — the same kind of
          attempts of ``node_types`` in the last ``recent_runs`` runs; at most ``per_type`` per (type, executor).
        * ``"queue"``: ``(executor, queue_wait_s, started_at, extra)`` — any attempt that started on one of
          ``executors`` in the last ``recent_runs`` runs; at most ``per_executor`` per executor.
        """
        ok = ("a.state = 'succeeded' AND a.reused = 0 AND a.started_at IS NOT NULL AND a.finished_at IS NOT NULL")
        job = "LEFT JOIN jobs j ON j.run_id = a.run_id AND j.node = a.node AND j.attempt = a.attempt"
        recent = "a.run_id IN (SELECT run_id FROM runs ORDER BY started_at DESC LIMIT ?)"
        out: dict[str, list[tuple]] = {"node": [], "type": [], "queue": []}
        self.settle()
        with self._lock:
            db = self._conn()
            if workflow_path is not None or workflow_hash is not None:
                wp = os.fspath(workflow_path) if workflow_path is not None else None
                rows = db.execute(
                    "SELECT node, node_type, executor, d, w, finished_at, extra FROM ("
                    " SELECT a.node, a.node_type, a.executor, a.finished_at - a.started_at AS d,"
                    " a.started_at - a.queued_at AS w, a.finished_at, j.extra,"
                    " ROW_NUMBER() OVER (PARTITION BY a.node, a.executor ORDER BY a.finished_at DESC) AS k"
                    f" FROM attempts a {job}"
                    " WHERE a.run_id IN (SELECT run_id FROM runs WHERE workflow_path = ? OR workflow_hash = ?"
                    f"  ORDER BY started_at DESC LIMIT ?) AND {ok}"
                    ") WHERE k <= ? ORDER BY node, executor, finished_at DESC",
                    (wp, workflow_hash, int(workflow_runs), int(per_node))).fetchall()
                out["node"] = [(r[0], r[1], r[2], float(r[3]), _float(r[4]), r[5], _load_extra(r[6])) for r in rows]
            types = sorted({_text(t) for t in node_types if t is not None})
            if types:
                marks = ", ".join("?" * len(types))
                rows = db.execute(
                    "SELECT node_type, executor, d, w, finished_at, extra FROM ("
                    " SELECT a.node_type, a.executor, a.finished_at - a.started_at AS d,"
                    " a.started_at - a.queued_at AS w, a.finished_at, j.extra,"
                    " ROW_NUMBER() OVER (PARTITION BY a.node_type, a.executor ORDER BY a.finished_at DESC) AS k"
                    f" FROM attempts a {job}"
                    f" WHERE a.node_type IN ({marks}) AND {recent} AND {ok}"
                    ") WHERE k <= ? ORDER BY node_type, executor, finished_at DESC",
                    (*types, int(recent_runs), int(per_type))).fetchall()
                out["type"] = [(r[0], r[1], float(r[2]), _float(r[3]), r[4], _load_extra(r[5])) for r in rows]
            names = sorted({_text(e) for e in executors if e is not None})
            if names:
                marks = ", ".join("?" * len(names))
                rows = db.execute(
                    "SELECT executor, w, started_at, extra FROM ("
                    " SELECT a.executor, a.started_at - a.queued_at AS w, a.started_at, j.extra,"
                    " ROW_NUMBER() OVER (PARTITION BY a.executor ORDER BY a.started_at DESC) AS k"
                    f" FROM attempts a {job}"
                    f" WHERE a.executor IN ({marks}) AND {recent}"
                    " AND a.started_at IS NOT NULL AND a.queued_at IS NOT NULL"
                    ") WHERE k <= ? ORDER BY executor, started_at DESC",
                    (*names, int(recent_runs), int(per_executor))).fetchall()
                out["queue"] = [(r[0], float(r[1]), r[2], _load_extra(r[3])) for r in rows]
        return out

    # -- remote jobs journal ------------------------------------------------------------
    def journal_job(self, run_id: str, node: str, attempt: int, executor: str, job_id: str,
                    workdir: str | os.PathLike | None, submitted_at: float | None,
                    profile: str | None = None, extra: Mapping[str, Any] | None = None) -> None:
        """Note a job handed to a remote executor; committed and synced before returning."""
        with self._lock:
            db = self._conn()
            db.execute("PRAGMA synchronous=FULL")  # this one must survive a power cut too
            try:
                with self._transaction() as tx:
                    tx.execute(f"INSERT OR REPLACE INTO jobs ({', '.join(JOB_COLUMNS)}) "
                               f"VALUES ({', '.join('?' * len(JOB_COLUMNS))})",
                               (run_id, node, int(attempt), _text(executor), str(job_id), _path(workdir),
                                submitted_at, profile, _dump(extra)))
            finally:
                db.execute("PRAGMA synchronous=NORMAL")

    def jobs(self, run_id: str) -> list[dict[str, Any]]:
        rows = self._query("SELECT * FROM jobs WHERE run_id = ? ORDER BY submitted_at, node, attempt", (run_id,))
        out = []
        for r in rows:
            d = dict(r)
            d["extra"] = _load(d["extra"])
            out.append(d)
        return out


class _Transaction:
    """``with store._transaction() as db:`` – lock held, BEGIN IMMEDIATE … COMMIT (ROLLBACK on error)."""

    __slots__ = ("_store",)

    def __init__(self, store: HistoryStore):
        self._store = store

    def __enter__(self) -> sqlite3.Connection:
        self._store._lock.acquire()
        try:
            db = self._store._conn()
            db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._store._lock.release()
            raise
        return db

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            db = self._store._conn()
            if exc_type is None:
                try:
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            elif db.in_transaction:
                db.execute("ROLLBACK")
        finally:
            self._store._lock.release()


def _attempt_params(r: Mapping[str, Any]) -> tuple:
    g = r.get
    executor, state, reason, error, job_id, stdout, stderr, reused = (
        g("executor"), g("state"), g("reason"), g("error"), g("job_id"), g("stdout_path"), g("stderr_path"),
        g("reused"))
    # the usual values are str or None already; convert only what isn't
    if executor is not None and type(executor) is not str:
        executor = _text(executor)
    if state is not None and type(state) is not str:
        state = _text(state)
    if reason is not None and type(reason) is not str:
        reason = _text(reason)
    if error is not None and type(error) is not str:
        error = str(error)
    if job_id is not None and type(job_id) is not str:
        job_id = str(job_id)
    if stdout is not None and type(stdout) is not str:
        stdout = os.fspath(stdout)
    if stderr is not None and type(stderr) is not str:
        stderr = os.fspath(stderr)
    if reused is not None:
        reused = 1 if reused else 0
    return (r["run_id"], r["node"], int(r["attempt"]), g("node_type"), executor, g("host"), g("queued_at"),
            g("started_at"), g("finished_at"), state, g("exit_code"), error, reason, stdout, stderr, job_id,
            g("input_hash"), g("outputs"), reused)


def _path(value: Any) -> str | None:
    return None if value is None else os.fspath(value)



def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _load_extra(text: str | None) -> Any:
    """``jobs.extra`` decoded; None when absent or not JSON (never raises: it only refines estimates)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
