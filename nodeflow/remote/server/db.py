"""The server's database: SQLAlchemy Core tables and the ``Database`` handle.

SQLite (``<data>/server.sqlite``, WAL, ``synchronous=NORMAL``) by default;
any SQLAlchemy URL works (PostgreSQL: ``postgresql+psycopg://…``) — only
portable SQL is used (no SQLite-only statements, no RETURNING). Times are
float epoch seconds; JSON columns are text.

Writes go through ``Database.write()``: one lock per process around each
write transaction, so SQLite never sees two writers (no ``database is
locked`` surprises) and the queue's lease path stays a short critical
section. Reads (``read()``) run concurrently.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import (Boolean, Column, Double, Index, Integer, MetaData, String, Table, Text, UniqueConstraint,
                        create_engine, event, text)
from sqlalchemy.engine import Connection, Engine

metadata = MetaData()

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("admin", Boolean, nullable=False, default=False),
    Column("created_at", Double, nullable=False),
)

tokens = Table(
    "tokens", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, nullable=False, index=True),
    Column("hash", String(64), nullable=False, unique=True),  # sha256 hex of the token
    Column("kind", String(16), nullable=False),  # user | runner
    Column("label", String(100), nullable=False, default=""),
    Column("created_at", Double, nullable=False),
    Column("last_used_at", Double),
)

workflows = Table(
    "workflows", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner_id", Integer, nullable=False),
    Column("name", String(100), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("schedule", String(200)),
    UniqueConstraint("owner_id", "name", name="uq_workflow_owner_name"),
)

workflow_versions = Table(
    "workflow_versions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workflow_id", Integer, nullable=False),
    Column("number", Integer, nullable=False),
    Column("commit", String(40), nullable=False),
    Column("author", String(100), nullable=False),
    Column("time", Double, nullable=False),
    Column("message", Text, nullable=False, default=""),
    UniqueConstraint("workflow_id", "number", name="uq_version_number"),
)

shares = Table(
    "shares", metadata,
    Column("workflow_id", Integer, primary_key=True),
    Column("user_id", Integer, primary_key=True),
)

runners = Table(
    "runners", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("owner_id", Integer, nullable=False),
    Column("token_id", Integer, nullable=False),
    Column("host", String(255), nullable=False, default=""),
    Column("version", String(64), nullable=False, default=""),
    Column("tags", Text, nullable=False, default="[]"),
    Column("slots", Integer, nullable=False, default=1),
    Column("registered_at", Double, nullable=False),
    Column("last_heartbeat", Double),
    Column("draining", Boolean, nullable=False, default=False),
    Column("shutdown", Boolean, nullable=False, default=False),
)

tasks = Table(
    "tasks", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner_id", Integer, nullable=False),
    Column("key", String(64), nullable=False),  # the submitter's idempotency key
    Column("client", String(64), nullable=False, default=""),  # who watches it (wake-ups)
    Column("run_id", String(100), nullable=False, default=""),
    Column("node", Text, nullable=False, default=""),
    Column("attempt", Integer, nullable=False, default=1),
    Column("spec", Text, nullable=False),
    Column("tags", String(1000), nullable=False, default=""),  # sorted, comma-joined
    Column("slots", Integer, nullable=False, default=1),
    Column("priority", Integer, nullable=False, default=0),
    Column("state", String(16), nullable=False),
    Column("reason", String(64)),
    Column("retries", Integer, nullable=False, default=0),
    Column("max_retries", Integer, nullable=False, default=3),
    Column("runner_id", Integer),
    Column("lease", String(32)),
    Column("lease_expires", Double),
    Column("submitted_at", Double, nullable=False),
    Column("started_at", Double),
    Column("finished_at", Double),
    Column("result", Text),
    Column("version", Integer, nullable=False, default=1),
    Column("change_seq", Integer, nullable=False, default=0),  # the queue's change number of the last change
    Column("log_seq", Integer, nullable=False, default=0),
    Column("log_lines", Integer, nullable=False, default=0),
    Column("progress", Double),
    Column("progress_message", String(500)),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("server_run", String(100)),
    UniqueConstraint("owner_id", "key", name="uq_task_owner_key"),
    # the lease query walks this index in order: state, tag set, then priority (high first) and age
    Index("ix_tasks_lease_order", "state", "tags", text("priority DESC"), "id"),
    Index("ix_tasks_runner", "runner_id", "state"),
    Index("ix_tasks_lease", "lease"),
    Index("ix_tasks_client_change", "client", "change_seq"),
)

task_logs = Table(
    "task_logs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task_id", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("lines", Text, nullable=False),
    Column("change_seq", Integer, nullable=False, default=0),
    Index("ix_task_logs_task_seq", "task_id", "seq"),
    Index("ix_task_logs_change", "change_seq"),
)

runs = Table(
    "runs", metadata,
    Column("id", String(100), primary_key=True),
    Column("owner_id", Integer, nullable=False),
    Column("workflow_id", Integer),
    Column("workflow", String(100), nullable=False),
    Column("workflow_owner", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("commit", String(40), nullable=False),
    Column("state", String(16), nullable=False),
    Column("trigger", String(100), nullable=False),
    Column("failure_policy", String(16)),
    Column("created_at", Double, nullable=False),
    Column("finished_at", Double),
    Column("error", Text),
    Column("counts", Text, nullable=False, default="{}"),
    Column("nodes", Text, nullable=False, default="{}"),
    Column("event_count", Integer, nullable=False, default=0),
)

run_events = Table(
    "run_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(100), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("data", Text, nullable=False),
    Index("ix_run_events_run_seq", "run_id", "seq"),
)

timers = Table(
    "timers", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner_id", Integer, nullable=False),  # who the runs belong to
    Column("workflow_id", Integer, nullable=False, index=True),
    Column("cron", String(200), nullable=False),
    Column("version", String(64)),
    Column("paused", Boolean, nullable=False, default=False),
    Column("source", String(16), nullable=False, default="api"),
    Column("next_fire", Double),
    Column("last_fire", Double),
    Column("last_run_id", String(100)),
    Column("created_at", Double, nullable=False),
)


def sqlite_url(data_dir: str | Path) -> str:
    return f"sqlite:///{Path(data_dir).resolve() / 'server.sqlite'}"


class Database:
    """One engine for the whole server; ``write()`` serializes writers in this process."""

    def __init__(self, url: str):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kw: dict = {"future": True}
        if self.is_sqlite:
            kw["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kw["pool_pre_ping"] = True
        self.engine: Engine = create_engine(url, **kw)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._lock = threading.RLock()

    def create_all(self) -> None:
        with self._lock:
            metadata.create_all(self.engine)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self._lock, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
