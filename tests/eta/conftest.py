"""Helpers for the ETA tests: a history in tmp_path filled with synthetic attempts, and replayed runs."""
from __future__ import annotations

import heapq
from collections import deque

import pytest

from nodeflow.engine.events import EventKind as K
from nodeflow.engine.events import RunEvent
from nodeflow.history import HistoryStore

WF = "/work/flows/flow.nc"


@pytest.fixture
def store(tmp_path):
    with HistoryStore(tmp_path / "history.sqlite") as s:
        yield s


class HistoryWriter:
    """Writes runs of synthetic attempts: ``run({node: duration}, ...)``, newest last."""

    def __init__(self, store: HistoryStore, t0: float = 1_700_000_000.0):
        self.store = store
        self.t = t0
        self.n = 0

    def run(self, durations: dict[str, float], *, workflow_path: str | None = WF, workflow_hash: str | None = "h1",
            node_type: str | dict = "math/Add", executor: str = "local", waits: dict | float = 0.0,
            state: str = "succeeded", reused: bool = False, jobs_extra: dict | None = None) -> str:
        self.n += 1
        run_id = f"run-{self.n:03d}"
        t = self.t
        self.store.begin_run(run_id, workflow_path=workflow_path, workflow_hash=workflow_hash, workflow_name="flow",
                             executor=executor, host="here", started_at=t, node_count=len(durations))
        rows = []
        for node, d in durations.items():
            w = waits.get(node, 0.0) if isinstance(waits, dict) else waits
            nt = node_type.get(node, "math/Add") if isinstance(node_type, dict) else node_type
            rows.append({"run_id": run_id, "node": node, "attempt": 1, "node_type": nt, "executor": executor,
                         "queued_at": t, "started_at": t + w, "finished_at": t + w + d, "state": state,
                         "reused": reused})
            if jobs_extra is not None:
                self.store.journal_job(run_id, node, 1, executor, f"job-{self.n}-{node}", None, t,
                                       extra=jobs_extra)
            t += w + d
        self.store.upsert_attempts(rows)
        self.store.finish_run(run_id, "succeeded", t)
        self.t = t + 3600.0
        return run_id


@pytest.fixture
def history(store):
    return HistoryWriter(store)


def list_schedule(names, edges, durations, slots, t0=0.0):
    """A reference list scheduler (FIFO by readiness, ``slots`` at once): {node: (queued, start, finish)}."""
    idx = {n: i for i, n in enumerate(names)}
    succ = [[] for _ in names]
    waiting = [0] * len(names)
    for u, v in edges:
        succ[idx[u]].append(idx[v])
        waiting[idx[v]] += 1
    ready = deque((i, t0) for i in range(len(names)) if waiting[i] == 0)
    free, heap, times, t = slots, [], {}, t0
    while ready or heap:
        while ready and free:
            i, q = ready.popleft()
            free -= 1
            times[names[i]] = (q, t, t + durations[names[i]])
            heapq.heappush(heap, (t + durations[names[i]], i))
        t, i = heapq.heappop(heap)
        free += 1
        for s in succ[i]:
            waiting[s] -= 1
            if waiting[s] == 0:
                ready.append((s, t))
    return times


def replay_events(times: dict, run_id: str = "live", t0: float = 0.0, node_type: str = "math/Add"):
    """The events a scheduler would send for ``times`` ({node: (queued, start, finish)}), in time order."""
    raw = []
    for node, (q, s, f) in times.items():
        raw += [(q, 1, node, K.NODE_QUEUED), (s, 2, node, K.NODE_STARTED), (f, 0, node, K.NODE_SUCCEEDED)]
    raw.sort(key=lambda r: (r[0], r[1], r[2]))
    evs = [RunEvent(K.RUN_STARTED, run_id, t0, data={"total": len(times)})]
    for t, _o, node, kind in raw:
        data = {"executor": "local", "node_type": node_type} if kind is K.NODE_QUEUED else {}
        evs.append(RunEvent(kind, run_id, t, node, 1, data))
    end = max(f for _, _, f in times.values())
    evs.append(RunEvent(K.RUN_FINISHED, run_id, end, data={"state": "succeeded"}))
    return evs
