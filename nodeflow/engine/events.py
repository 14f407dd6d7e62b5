"""Run events and the observer interface through which everyone watches a run.

The scheduler loop is the only producer. The CLI's progress display, the
history recorder, the GUI's RunController and the server's event stream are
all ``RunObserver``s: they get every event, in order, on the scheduler's
thread, and must return quickly (queue work elsewhere if it is slow).

An observer may also say which events of a run it does not look at:
``ignored_kinds(run_id) -> Collection[EventKind]``, asked right after the
run's RUN_STARTED. When no observer of a run looks at NODE_QUEUED or
NODE_STARTED, the scheduler does not make them (two of the three events of
every node; the history recorder needs neither when it gets attempt
records). Other kinds are always sent; an observer that ignores a kind must
still accept it, since another observer may want it.

An event is one small frozen record; ``data`` holds what is specific to its
kind (documented on ``EventKind``). ``to_json`` gives a plain dict for the wire.
"""
from __future__ import annotations

import enum
from types import MappingProxyType
from typing import Any, Mapping, NamedTuple, Protocol


class EventKind(str, enum.Enum):
    RUN_STARTED = "run_started"      # data: total, workflow_path (absolute), workflow_hash (or None and
    #                                  hash_entries: the entries to make it of, fingerprint.workflow_fingerprint),
    #                                  workflow_name,
    #                                  executor, host, nodes (names), parent_run_id, params, run_dir,
    #                                  attempt_records (True: every final node event — succeeded, failed,
    #                                  retrying, skipped — also carries the attempt it closes: node_type,
    #                                  executor, queued_at, started_at, host, job_id)
    NODE_QUEUED = "node_queued"      # data: executor, node_type
    NODE_SUBMITTED = "node_submitted"  # data: executor, job_id, workdir, profile, extra (remote executors)
    NODE_STARTED = "node_started"    # data: executor, host, job_id (if any)
    NODE_LOG = "node_log"            # data: stream ("stdout"/"stderr"), line
    NODE_PROGRESS = "node_progress"  # data: fraction (0..1), message
    NODE_SUCCEEDED = "node_succeeded"  # data: outputs, reused (bool), exit_code, input_hash, stdout_path,
    #                                    stderr_path; hash_inputs: when input_hash is None, the plain inputs
    #                                    to fingerprint (fingerprint.input_fingerprint(node_type, hash_inputs))
    NODE_FAILED = "node_failed"      # data: error, exit_code, reason ("cancelled" for a cancelled node), log paths
    NODE_RETRYING = "node_retrying"  # data: error, reason, exit_code, delay_s, next_attempt, log paths
    NODE_SKIPPED = "node_skipped"    # data: reason
    NODES_ADDED = "nodes_added"      # data: by (generator node), nodes {name: Nodeworks dict}, connections {…}
    RUN_PROGRESS = "run_progress"    # data: done, total, running, failed, skipped
    RUN_FINISHED = "run_finished"    # data: state, counts


_NO_DATA: Mapping[str, Any] = MappingProxyType({})
#: data keys that hand work to the history in this process (values to fingerprint, a workflow hash
#: to make): not part of what an event means, left out of ``to_json``
HANDOFF_KEYS = frozenset({"hash_inputs", "hash_entries"})


class RunEvent(NamedTuple):
    """One event (immutable; a named tuple because a run makes several per node and it is cheap)."""

    kind: EventKind
    run_id: str
    time: float  # wall-clock seconds (time.time() of the run's clock)
    node: str | None = None
    attempt: int = 0
    data: Mapping[str, Any] = _NO_DATA

    def to_json(self) -> dict[str, Any]:
        from ..model.values import to_plain

        data = dict(self.data)
        for key in HANDOFF_KEYS.intersection(data):  # (hand-offs to the history in this process)
            del data[key]
        return {"kind": self.kind.value, "run_id": self.run_id, "time": self.time, "node": self.node,
                "attempt": self.attempt, "data": to_plain(data)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "RunEvent":
        return cls(EventKind(d["kind"]), d["run_id"], d["time"], d.get("node"), d.get("attempt", 0),
                   d.get("data") or {})


class RunObserver(Protocol):
    def on_event(self, event: RunEvent) -> None: ...

    # optional: def ignored_kinds(self, run_id: str) -> Collection[EventKind]: ...


#: the events the scheduler leaves out of a run when none of its observers looks at them
OPTIONAL_KINDS = (EventKind.NODE_QUEUED, EventKind.NODE_STARTED)


def wanted_kinds(observers, run_id: str) -> frozenset[EventKind]:
    """Which of ``OPTIONAL_KINDS`` some observer of the run ``run_id`` looks at."""
    wanted = set()
    for o in observers:
        ignores = getattr(o, "ignored_kinds", None)
        ignored = ignores(run_id) if ignores is not None else ()
        wanted.update(k for k in OPTIONAL_KINDS if k not in ignored)
    return frozenset(wanted)


class CallbackObserver:
    """Adapts a plain function to ``RunObserver``."""

    def __init__(self, fn):
        self._fn = fn

    def on_event(self, event: RunEvent) -> None:
        self._fn(event)


class EventCollector:
    """Keeps every event; handy for tests and for the results file."""

    def __init__(self):
        self.events: list[RunEvent] = []

    def on_event(self, event: RunEvent) -> None:
        self.events.append(event)

    def of(self, kind: EventKind, node: str | None = None) -> list[RunEvent]:
        return [e for e in self.events if e.kind == kind and (node is None or e.node == node)]
