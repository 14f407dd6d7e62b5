"""Helpers for the history tests: a store in a temp folder and a builder of synthetic run events."""
from __future__ import annotations

import pytest

from nodeflow.engine.events import EventKind as K
from nodeflow.engine.events import RunEvent
from nodeflow.history import HistoryStore


class Events:
    """Builds the events a scheduler would send for one run, times advancing by hand."""

    def __init__(self, run_id: str = "run-1", t0: float = 1_700_000_000.0):
        self.run_id = run_id
        self.t = t0

    def at(self, dt: float = 1.0) -> float:
        self.t += dt
        return self.t

    def run_started(self, total: int, **data) -> RunEvent:
        d = {"total": total, "workflow_path": "/work/flow.nc", "workflow_hash": "wh1", "workflow_name": "flow",
             "executor": "local", "host": "here"}
        d.update(data)
        return RunEvent(K.RUN_STARTED, self.run_id, self.at(0), data=d)

    def queued(self, node, attempt=1, dt=0.5, **data) -> RunEvent:
        d = {"executor": "local", "node_type": "math/Power"}
        d.update(data)
        return RunEvent(K.NODE_QUEUED, self.run_id, self.at(dt), node, attempt, d)

    def started(self, node, attempt=1, dt=0.5, **data) -> RunEvent:
        d = {"executor": "local", "host": "here", "job_id": None}
        d.update(data)
        return RunEvent(K.NODE_STARTED, self.run_id, self.at(dt), node, attempt, d)

    def succeeded(self, node, attempt=1, dt=2.0, **data) -> RunEvent:
        d = {"outputs": {"out": 1.0}, "reused": False, "exit_code": 0}
        d.update(data)
        return RunEvent(K.NODE_SUCCEEDED, self.run_id, self.at(dt), node, attempt, d)

    def failed(self, node, attempt=1, dt=1.0, **data) -> RunEvent:
        return RunEvent(K.NODE_FAILED, self.run_id, self.at(dt), node, attempt, data)

    def retrying(self, node, attempt=1, dt=0.1, **data) -> RunEvent:
        return RunEvent(K.NODE_RETRYING, self.run_id, self.at(dt), node, attempt, data)

    def skipped(self, node, attempt=0, dt=0.1, **data) -> RunEvent:
        return RunEvent(K.NODE_SKIPPED, self.run_id, self.at(dt), node, attempt, data)

    def progress(self, done, total) -> RunEvent:
        return RunEvent(K.RUN_PROGRESS, self.run_id, self.at(0), None, 0, {"done": done, "total": total})

    def log(self, node, line) -> RunEvent:
        return RunEvent(K.NODE_LOG, self.run_id, self.at(0), node, 1, {"stream": "stdout", "line": line})

    def run_finished(self, state="succeeded", dt=0.5) -> RunEvent:
        return RunEvent(K.RUN_FINISHED, self.run_id, self.at(dt), data={"state": state})

    def node_ok(self, node, **succeeded) -> list[RunEvent]:
        return [self.queued(node), self.started(node), self.succeeded(node, **succeeded)]


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "sub" / "dir" / "history.sqlite"


@pytest.fixture
def store(db_path):
    with HistoryStore(db_path) as s:
        yield s


@pytest.fixture
def events():
    return Events
