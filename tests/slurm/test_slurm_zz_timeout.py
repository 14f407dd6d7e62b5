"""An exceeded Slurm time limit is reported as TIMEOUT (the file name makes it run last).

Slurm's smallest time limit is one minute and slurmctld looks at limits every
30 s, so the job is killed 60–90 s after it started (measured: 82 s). The job
was started by the ``timeout_run`` fixture with the session's first Slurm
test, so here we mostly wait for what is left of that minute.
"""
from __future__ import annotations

import pytest

from nodeflow.engine import EventKind, NodeState, RunState

from .conftest import squeue_states

pytestmark = pytest.mark.slurm


def test_an_exceeded_time_limit_is_reported_as_timeout(timeout_run, slurm_env):
    timeout_run.thread.join(timeout=240)
    assert not timeout_run.thread.is_alive(), "the time-limited job was never stopped"
    assert timeout_run.error is None, timeout_run.error
    res = timeout_run.result
    assert res.state == RunState.FAILED and res.nodes["sleeper"].state == NodeState.FAILED
    failed = timeout_run.events.of(EventKind.NODE_FAILED, "sleeper")[0].data
    assert failed["reason"] == "TIMEOUT"
    err = res.nodes["sleeper"].error
    assert "reached its time limit (TIMEOUT)" in err and "DUE TO TIME LIMIT" in err
    job = timeout_run.events.of(EventKind.NODE_SUBMITTED, "sleeper")[0].data["job_id"]
    assert squeue_states(slurm_env, res.run_id) == {job: "TIMEOUT"}
    assert 55 < timeout_run.elapsed < 200
