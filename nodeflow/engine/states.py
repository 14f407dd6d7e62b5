"""Node and run states, which of them are final, the scheduler's per-node record (``NodeRun``) and a
run's count of nodes per state."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class NodeState(str, enum.Enum):
    PENDING = "pending"      # waiting for upstream nodes
    QUEUED = "queued"        # handed to an executor, not running yet (or waiting for a retry)
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"      # not run: upstream failed, unknown type, or the run stopped
    CANCELLED = "cancelled"  # was running or queued when the run was cancelled

    @property
    def final(self) -> bool:
        return self in FINAL_NODE_STATES


FINAL_NODE_STATES = frozenset({NodeState.SUCCEEDED, NodeState.FAILED, NodeState.SKIPPED, NodeState.CANCELLED})


class RunState(str, enum.Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # every node succeeded
    FAILED = "failed"        # at least one node failed (or was skipped because of one)
    CANCELLED = "cancelled"


class StateCounts(dict):
    """How many nodes of a run are in each ``NodeState`` (a dict: the scheduler updates it on every
    state change), and the summaries the run reports from it."""

    def __init__(self):
        super().__init__({s: 0 for s in NodeState})

    def as_dict(self) -> dict[str, int]:
        """``{state value: count}`` of the states some node is in (RUN_FINISHED's ``counts``)."""
        return {s.value: c for s, c in self.items() if c}

    def progress(self, total: int) -> dict[str, int]:
        """RUN_PROGRESS's data."""
        done = self[NodeState.SUCCEEDED] + self[NodeState.FAILED] + self[NodeState.SKIPPED] + self[NodeState.CANCELLED]
        return {"done": done, "total": total, "running": self[NodeState.RUNNING], "queued": self[NodeState.QUEUED],
                "succeeded": self[NodeState.SUCCEEDED], "failed": self[NodeState.FAILED],
                "skipped": self[NodeState.SKIPPED], "cancelled": self[NodeState.CANCELLED]}

    def any_bad(self) -> bool:
        """A node failed or was cancelled."""
        return bool(self[NodeState.FAILED] + self[NodeState.CANCELLED])


@dataclass(slots=True)
class NodeRun:
    """Per-node state, touched only by the scheduler thread (read by ``RunResult.nodes`` once the
    run is over)."""

    state: NodeState = NodeState.PENDING
    attempt: int = 0
    waiting: int = 0  # upstream nodes (in this run) not yet succeeded
    executor: str = ""
    handle: Any = None
    outputs: dict[str, Any] | None = None
    error: str | None = None
    reason: str | None = None
    exit_code: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    input_hash: str | None = None
    #: plain inputs of an inline node whose fingerprint the history makes (NODE_SUCCEEDED's hash_inputs)
    hash_inputs: dict[str, Any] | None = None
    inputs: dict[str, Any] | None = None  # kept for command nodes' collect()
    reused: bool = False
    started_emitted: bool = False
    queued_at: float | None = None  # of the current attempt (wall clock)
    host: str | None = None  # where the current attempt runs, once started
    job_id: str | None = None
