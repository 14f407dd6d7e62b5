"""ETA, part 2: simulating the rest of a run, and the ``Forecast`` it gives.

``ScheduleModel`` holds a run's static structure as index arrays — names in
topological order, successor tuples, predecessor counts, each node's
executor and each executor's slots — built once per run. ``simulate`` is the
tight loop run at every update: list scheduling of what is left from "now",
FIFO by readiness like nodeflow's scheduler, at most ``slots`` nodes per
executor at once. Running nodes need ``max(estimate − elapsed, floor)`` more;
nodes queued on a remote executor start after their expected queue wait;
variances add up along the chain of nodes whose finish let each node start
(a hop that waited for one of k busy slots adds 1/k of the node's variance:
k lanes average out), which gives the band of the last finish.

``Forecast`` is the immutable result (see its fields); ``NodeForecast`` one
node of it.
"""
from __future__ import annotations

import heapq
import math
import os
from collections import deque
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from .eta_estimate import NO_WAIT, PRIOR_SOURCES, Estimate, is_remote

__all__ = ["Forecast", "NodeForecast", "ScheduleModel", "STATE_NAMES"]

# node states as the tracker keeps them (the values of engine.states.NodeState)
PENDING, QUEUED, RUNNING, SUCCEEDED, FAILED, SKIPPED, CANCELLED = range(7)
STATE_NAMES = ("pending", "queued", "running", "succeeded", "failed", "skipped", "cancelled")
UNLIMITED = 1 << 30


class ScheduleModel:
    """A run's static structure as index arrays: built once, simulated many times."""

    def __init__(self, names: Sequence[str], edges: Iterable[tuple[str, str]], executors: Sequence[str],
                 slots: Mapping[str, int | None] | None = None, *, default_slots: int | None = None):
        """``names`` in a topological order; ``edges`` as (upstream, downstream) names (others ignored);
        ``executors[i]`` runs ``names[i]``; ``slots``: nodes at once per executor name — missing or None
        means ``default_slots`` (else the CPU count) for ``local``, no limit for remote executors."""
        self.names = tuple(names)
        self.index = {n: i for i, n in enumerate(self.names)}
        n = len(self.names)
        if len(executors) != n:
            raise ValueError("one executor per node is needed")
        succ: list[list[int]] = [[] for _ in range(n)]
        npred = [0] * n
        idx = self.index
        for u, v in edges:
            iu, iv = idx.get(u), idx.get(v)
            if iu is None or iv is None:
                continue
            if iu >= iv:
                raise ValueError(f"names are not in a topological order: {u!r} feeds {v!r}")
            succ[iu].append(iv)
            npred[iv] += 1
        self.succ = [tuple(s) for s in succ]
        self.npred = npred
        self.executor_names = tuple(sorted(set(executors)))
        eidx = {e: k for k, e in enumerate(self.executor_names)}
        self.exec_of = [eidx[e] for e in executors]
        slots = dict(slots or {})
        self.slots: list[int] = []
        for e in self.executor_names:
            k = slots.get(e)
            if k is None and not is_remote(e):
                k = default_slots or os.cpu_count() or 1
            self.slots.append(int(k) if k else UNLIMITED)
        self.remote = [is_remote(e) for e in self.executor_names]
        # a chain hop through a pool of k busy slots carries about 1/k of the node's variance
        # (k lanes finish work at once: the pool's end varies like the sum / k, not like one lane)
        self._slot_share = [1.0 / k if k < UNLIMITED else 1.0 for k in self.slots]

    @classmethod
    def from_plan(cls, plan, *, default_executor: str | None = None,
                  slots: Mapping[str, int | None] | None = None) -> "ScheduleModel":
        """The model of a ``RunPlan`` (its order, its nodes' downstream links and executors)."""
        default = default_executor or plan.settings.executor
        edges = [(name, d) for name in plan.order for d in plan.nodes[name].downstream]
        execs = [plan.nodes[n].settings.executor or default for n in plan.order]
        return cls(plan.order, edges, execs, slots, default_slots=plan.settings.jobs)

    def __len__(self) -> int:
        return len(self.names)

    def slots_of(self, executor: str) -> int | None:
        k = self.slots[self.executor_names.index(executor)]
        return None if k >= UNLIMITED else k

    def critical_path(self, durations: Sequence[float]) -> tuple[list[int], float]:
        """The longest dependency chain (indices) by ``durations``, slots ignored, and its length."""
        n = len(self.names)
        if not n:
            return [], 0.0
        best = [0.0] * n  # earliest start
        prev = [-1] * n
        succ = self.succ
        for i in range(n):  # names are in topological order
            f = best[i] + durations[i]
            for s in succ[i]:
                if f > best[s]:
                    best[s] = f
                    prev[s] = i
        end = max(range(n), key=lambda i: best[i] + durations[i])
        path = [end]
        while prev[path[-1]] >= 0:
            path.append(prev[path[-1]])
        path.reverse()
        return path, best[end] + durations[end]

    def simulate(self, snap: "Snapshot", dur: Sequence[float], var: Sequence[float], qwait: Sequence[float],
                 qvar: Sequence[float], floor_s: float = 0.05, floor_fraction: float = 0.1):
        """List-schedule what is left from ``snap.now``.

        Returns ``(start, finish, cause, var_finish, last)``: per node the expected start and finish
        (``snap``'s actual times where they happened), the node whose finish let it start (-1: it could
        start at once), the variance of its finish along that chain, and the node to finish last (-1:
        none left). ``snap``'s lists are used up (they are the caller's copies)."""
        now = snap.now
        succ, ex, remote = self.succ, self.exec_of, self.remote
        w = snap.waiting
        free = list(self.slots)
        ready: list[deque[int]] = [deque() for _ in free]
        start = snap.started_at
        fin = snap.finished_at
        n = len(fin)
        cause = [-1] * n
        vf = [0.0] * n
        by = [-2] * n  # the node whose finish made each node ready (-2: it was ready before)
        share = self._slot_share
        heap: list[tuple[float, int]] = []
        push, pop = heapq.heappush, heapq.heappop
        for i, st in snap.running:
            d = dur[i]
            rem = d - (now - st)
            floor = floor_fraction * d
            if floor < floor_s:
                floor = floor_s
            if rem < floor:
                rem = floor
            fin[i] = f = now + rem
            vf[i] = var[i] * (rem / d if d > rem else 1.0)
            heap.append((f, i))
            free[ex[i]] -= 1
        for i, qt in snap.queued:
            e = ex[i]
            if remote[e]:  # handed over: waiting in the cluster's (server's) queue, holding a slot
                st = qt + qwait[i]
                if st < now:
                    st = now
                start[i] = st
                fin[i] = f = st + dur[i]
                vf[i] = var[i] + qvar[i]
                heap.append((f, i))
                free[e] -= 1
            else:  # waiting for one of our slots
                ready[e].append(i)
        for i in snap.ready:
            ready[ex[i]].append(i)
        for t, i in snap.delayed:  # retries waiting out their delay: ready again at t
            heap.append((t if t > now else now, ~i))
        heapq.heapify(heap)
        last, last_t = -1, now
        for e, q in enumerate(ready):
            while q and free[e] > 0:
                j = q.popleft()
                free[e] -= 1
                start[j] = st = now + qwait[j]
                fin[j] = f = st + dur[j]
                vf[j] = var[j] + qvar[j]
                push(heap, (f, j))
        while heap:
            t, i = pop(heap)
            if i < 0:
                e = ex[~i]
                ready[e].append(~i)
                i, base = -1, 0.0
            else:
                e = ex[i]
                free[e] += 1
                if t >= last_t:
                    last_t, last = t, i
                base = vf[i]
                for s in succ[i]:
                    k = w[s] - 1
                    w[s] = k
                    if k == 0:
                        es = ex[s]
                        ready[es].append(s)
                        by[s] = i
                        if es != e and free[es] > 0:  # another executor with room: it starts there now
                            q = ready[es]
                            while q and free[es] > 0:
                                j = q.popleft()
                                free[es] -= 1
                                start[j] = st = t + qwait[j]
                                fin[j] = f = st + dur[j]
                                cause[j] = i
                                vf[j] = base + var[j] + qvar[j]
                                push(heap, (f, j))
            q = ready[e]
            while q and free[e] > 0:
                j = q.popleft()
                free[e] -= 1
                start[j] = st = t + qwait[j]
                fin[j] = f = st + dur[j]
                cause[j] = i
                if by[j] == i:  # i was the last thing j waited for: its spread adds in full
                    vf[j] = base + var[j] + qvar[j]
                else:  # j waited for a slot: one of k busy slots frees up — less spread per hop
                    vf[j] = base + (var[j] + qvar[j]) * share[e]
                push(heap, (f, j))
        return start, fin, cause, vf, last


@dataclass(slots=True)
class Snapshot:
    """The dynamic state a simulation starts from (copies: ``simulate`` changes them)."""

    now: float
    waiting: list[int]                  # unfinished upstream nodes (UNLIMITED: not pending)
    started_at: list[float | None]
    finished_at: list[float | None]
    running: list[tuple[int, float]]    # (node, started at)
    queued: list[tuple[int, float]]     # (node, queued at), in the order they were queued
    ready: list[int]                    # pending with nothing to wait for, in the order they became so
    delayed: list[tuple[float, int]]    # (ready again at, node): retries waiting out their delay


class EstimateView(Sequence[Estimate]):
    """The duration estimates in use for a forecast, made on demand (history ones × the run's speed
    factor, learned ones in place of priors) — so an update need not build 2,000 objects."""

    __slots__ = ("_base", "_factor", "_override", "_scaled")

    def __init__(self, base: Sequence[Estimate], factor: float, override: Mapping[int, Estimate],
                 scaled: Sequence[bool]):
        self._base, self._factor, self._override, self._scaled = base, factor, override, scaled

    def __len__(self) -> int:
        return len(self._base)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        got = self._override.get(i)
        if got is not None:
            return got
        e = self._base[i]
        if self._scaled[i] and self._factor != 1.0:
            f = self._factor
            return Estimate(e.seconds * f, e.sigma_s * f, e.source, e.samples)
        return e


@dataclass(frozen=True, slots=True)
class NodeForecast:
    name: str
    state: str            # pending, queued, running, succeeded, failed, skipped, cancelled
    start: float | None   # actual if it started, else expected (None: it will not run)
    finish: float | None  # actual if it finished, else expected
    estimate: Estimate    # the duration estimate in use
    queue: Estimate       # the queue-wait estimate (remote executors; source "none" for local)

    @property
    def source(self) -> str:
        return self.estimate.source


@dataclass(frozen=True, slots=True)
class Forecast:
    """One prediction of a run; immutable, so any thread may keep and read it. Times are wall seconds."""

    computed_at: float          # the "now" it was computed for
    started_at: float | None    # the run's start (None: not started yet)
    eta: float                  # expected end of the run (the actual end once finished)
    eta_low: float              # the 80 % band around it
    eta_high: float
    finished: bool
    done: int                   # nodes in a final state
    total: int
    names: tuple[str, ...]
    states: tuple[int, ...]     # per node, an index into STATE_NAMES
    start: tuple[float | None, ...]   # per node: actual start, else expected
    finish: tuple[float | None, ...]  # per node: actual finish, else expected
    durations: tuple[float, ...]      # per node: the expected duration in use (s)
    sources: tuple[str, ...]          # per node: where that came from
    estimates: Sequence[Estimate]     # per node: the full Estimate (built on access)
    queues: Sequence[Estimate]        # per node: the queue-wait Estimate
    chain: tuple[str, ...]      # the remaining nodes whose finishes, one after another, decide the ETA
    speed_factor: float = 1.0   # how much slower (>1) than its history this run goes, as learned so far
    index: Mapping[str, int] = field(repr=False, compare=False, default_factory=dict)

    @property
    def remaining_s(self) -> float:
        return max(0.0, self.eta - self.computed_at)

    @property
    def band_s(self) -> float:
        """Half the band's width: the ± of the ETA."""
        return max(0.0, (self.eta_high - self.eta_low) / 2)

    @property
    def progress(self) -> float:
        return self.done / self.total if self.total else 1.0

    def _i(self, name: str) -> int:
        return self.index[name] if self.index else self.names.index(name)

    def node(self, name: str) -> NodeForecast:
        i = self._i(name)
        return NodeForecast(name, STATE_NAMES[self.states[i]], self.start[i], self.finish[i], self.estimates[i],
                            self.queues[i] if self.queues else NO_WAIT)

    def expected_start(self, name: str) -> float | None:
        return self.start[self._i(name)]

    def expected_finish(self, name: str) -> float | None:
        return self.finish[self._i(name)]

    def source_share(self) -> dict[str, float]:
        """Share of the remaining expected work (node-seconds) per duration source."""
        acc: dict[str, float] = {}
        for st, d, src in zip(self.states, self.durations, self.sources):
            if st <= RUNNING:
                acc[src] = acc.get(src, 0.0) + d
        total = sum(acc.values())
        return {k: v / total for k, v in acc.items()} if total > 0 else {}

    def source_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for src in self.sources:
            out[src] = out.get(src, 0) + 1
        return out

    def mostly_priors(self) -> bool:
        """True when most of the remaining work is estimated from priors rather than history."""
        return sum(v for k, v in self.source_share().items() if k in PRIOR_SOURCES) > 0.5


def band_sd(var_chain: float, remaining_s: float, systematic_log_sigma: float) -> float:
    """The ETA's standard deviation: independent node spreads along the deciding chain, plus a
    run-wide (correlated) speed uncertainty proportional to the time left."""
    return math.sqrt(var_chain + (systematic_log_sigma * remaining_s) ** 2)
