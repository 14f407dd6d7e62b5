"""What a finished run hands back: each node's state, outputs and error."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from .states import NodeRun, NodeState, RunState


class NodeResult(NamedTuple):
    """How a node ended (immutable; a named tuple: a run makes one per node)."""

    state: NodeState
    outputs: dict[str, Any]
    error: str | None = None
    attempts: int = 0
    reused: bool = False
    started_at: float | None = None
    finished_at: float | None = None


_new_result = tuple.__new__  # NodeResult(...) goes through a Python-level __new__


class NodeResults(Mapping[str, NodeResult]):
    """``RunResult.nodes``: each node's result, made from the scheduler's final record of it when
    first asked for (a 10,000-node run need not make 10,000 results that nobody reads)."""

    __slots__ = ("_runs", "_made")

    def __init__(self, runs: Mapping[str, NodeRun]):
        self._runs = runs  # the run is over: these records no longer change
        self._made: dict[str, NodeResult] = {}

    def __getitem__(self, name: str) -> NodeResult:
        made = self._made.get(name)
        if made is None:
            r = self._runs[name]
            made = self._made[name] = _new_result(NodeResult, (r.state, r.outputs or {}, r.error, r.attempt,
                                                               r.reused, r.started_at, r.finished_at))
        return made

    def __iter__(self) -> Iterator[str]:
        return iter(self._runs)

    def __len__(self) -> int:
        return len(self._runs)

    def __contains__(self, name: object) -> bool:
        return name in self._runs

    def __repr__(self) -> str:
        return f"NodeResults({dict(self.items())!r})"


@dataclass(slots=True)
class RunResult:
    run_id: str
    state: RunState
    nodes: Mapping[str, NodeResult]
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
