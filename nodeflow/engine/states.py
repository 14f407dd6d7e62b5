"""Node and run states, and which of them are final."""
from __future__ import annotations

import enum


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
