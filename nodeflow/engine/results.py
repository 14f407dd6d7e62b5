"""What a finished run hands back: each node's state, outputs and error."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .states import NodeState, RunState


@dataclass(slots=True)
class NodeResult:
    state: NodeState
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    attempts: int = 0
    reused: bool = False
    started_at: float | None = None
    finished_at: float | None = None


@dataclass(slots=True)
class RunResult:
    run_id: str
    state: RunState
    nodes: dict[str, NodeResult]
    run_dir: str | None
    started_at: float
    finished_at: float

    def counts(self) -> dict[str, int]:
        c: dict[str, int] = {}
        for r in self.nodes.values():
            c[r.state.value] = c.get(r.state.value, 0) + 1
        return c

    def to_json(self) -> dict[str, Any]:
        from ..model.values import to_plain

        return {"run_id": self.run_id, "state": self.state.value,
                "nodes": {n: {"state": r.state.value, "outputs": to_plain(r.outputs), "error": r.error,
                              "attempts": r.attempts, "reused": r.reused}
                          for n, r in self.nodes.items()}}

    def apply_outputs(self, workflow) -> None:
        """Store computed values in the output terminals, as Nodeworks does when it saves."""
        for name, r in self.nodes.items():
            node = workflow.nodes.get(name)
            if node is None or r.state != NodeState.SUCCEEDED:
                continue
            for t, v in r.outputs.items():
                term = node.terminals.get(t)
                if term is not None and term.is_output:
                    term.value = v
