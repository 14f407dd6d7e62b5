"""Estimated completion from history: node durations → remaining schedule → ETA with a band.

Three layers, no Qt, no threads of their own:

1. ``Estimator`` — for every node a duration ``Estimate`` (log-normal: a
   decayed mean of log durations with outliers dropped, and a robust spread)
   labelled with where it came from, first match wins:

   ==================  =========================================================
   ``history:node``    same workflow (file path or content hash), uniquename, executor
   ``history:type``    same node type and executor (preferring attempts whose
                       journalled resources match the node's)
   ``prior:declared``  the node type's ``expected_duration_s``
   ``prior:time-limit``  a fraction of the node's Slurm ``resources["time_limit"]``
   ``prior:default``   ``EtaConfig.default_duration_s``
   ==================  =========================================================

   Remote executors also get a queue wait (started − queued) learned per
   ``queue_key`` (``slurm:PROFILE/partition``, ``runner:SERVER[tag,tag]``),
   then per node, then per executor (``history:queue`` / ``history:node`` /
   ``history:executor`` / ``prior:default``); ``local`` has none (its waiting
   is modelled by the slots). All history comes from ``HistoryStore.timing_samples``
   (three SQL queries per run).

2. ``ScheduleModel`` — the run's static structure (topological index arrays,
   successor lists, executor of each node and its slots), built once per run.
   ``simulate`` is the tight loop: list scheduling of what is left, FIFO by
   readiness like the scheduler, each executor limited to its slots; running
   nodes need ``max(estimate − elapsed, floor)``. Variances add up along the
   chain of nodes that decided each start, which gives the band.

3. ``EtaTracker`` — a ``RunObserver``. Events update its state in O(1); a new
   ``Forecast`` is computed at most every ``min_interval_s`` of event time
   (or on ``update()``/``recompute()`` from any thread, e.g. a GUI timer).
   While the run goes on it learns: a shrunk speed factor from the nodes that
   finished against their history estimates, and for nodes with only a prior,
   the durations of same-type nodes in this run (source ``run:type``).

``Forecast`` is immutable: ETA, band, per-node expected start/finish and
source, the chain that decides the ETA. Times are wall-clock seconds.
"""
from __future__ import annotations

import heapq
import math
import os
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..engine.events import EventKind, RunEvent

__all__ = ["EtaConfig", "EtaTracker", "Estimate", "Estimator", "Forecast", "NodeEstimate", "NodeForecast",
           "NodeSpec", "ScheduleModel", "SOURCES", "format_eta", "parse_time_limit", "queue_key",
           "slots_from_executors"]

#: duration sources, most trusted first ("run:type" is learned during a run)
SOURCES = ("history:node", "history:type", "prior:declared", "prior:time-limit", "prior:default", "run:type")
HISTORY_SOURCES = frozenset({"history:node", "history:type"})
PRIOR_SOURCES = frozenset({"prior:declared", "prior:time-limit", "prior:default"})

Z80 = 1.2815515655446004  # the 10 % / 90 % quantiles of a normal: the band is an 80 % interval
_MIN_S = 1e-4  # durations below this are taken as this (logs of zero)
_UNLIMITED = 1 << 30


@dataclass(frozen=True, slots=True)
class EtaConfig:
    per_node: int = 10            # recent attempts per (workflow node, executor)
    per_type: int = 30            # recent attempts per (node type, executor)
    per_executor: int = 200       # recent queue waits per executor
    half_life: float = 5.0        # weight halves every this many attempts back
    default_duration_s: float = 10.0
    default_queue_wait_s: float = 30.0  # remote executors without any history
    time_limit_fraction: float = 0.5
    prior_log_sigma: float = 0.3  # spread assumed for history with few attempts (shrinks as they add up)
    prior_weight: float = 2.0     # ... worth this many attempts
    declared_log_sigma: float = 0.5
    time_limit_log_sigma: float = 0.7
    default_log_sigma: float = 1.0
    outlier_mads: float = 3.0     # attempts this many MADs (log scale) from the median are left out
    floor_s: float = 0.05         # a running node needs at least max(floor_s, floor_fraction * estimate) more
    floor_fraction: float = 0.1
    speed_shrink: float = 8.0     # the in-run speed factor counts as this many attempts at 1.0
    speed_clip: float = 1.5       # |log(actual / estimate)| is clipped to this before it counts
    systematic_log_sigma: float = 0.1  # run-wide uncertainty of speed (shrinks as nodes finish)
    min_interval_s: float = 0.25  # recompute at most this often (event time) from on_event


# --------------------------------------------------------------------------- estimates

@dataclass(frozen=True, slots=True)
class Estimate:
    """A duration (or queue wait): expected seconds, spread, where it came from, attempts behind it."""

    seconds: float
    sigma_s: float
    source: str
    samples: int = 0

    @property
    def low_s(self) -> float:
        return max(0.0, self.seconds - Z80 * self.sigma_s)

    @property
    def high_s(self) -> float:
        return self.seconds + Z80 * self.sigma_s


NO_WAIT = Estimate(0.0, 0.0, "none", 0)


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """What the estimator needs to know of a node."""

    name: str
    node_type: str  # "math/Power"
    executor: str = "local"
    resources: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    declared_s: float | None = None  # NodeType.expected_duration_s


@dataclass(frozen=True, slots=True)
class NodeEstimate:
    duration: Estimate
    queue: Estimate = NO_WAIT


def parse_time_limit(value: Any) -> float | None:
    """A Slurm time limit in seconds: minutes as a number, or "MM", "MM:SS", "HH:MM:SS",
    "D-HH", "D-HH:MM", "D-HH:MM:SS"; None for unlimited or unreadable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) * 60.0 if value > 0 else None
    text = str(value).strip()
    if not text or text.upper() in ("UNLIMITED", "INFINITE"):
        return None
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text)
    if not m:
        return None
    days, a, b, c = m.groups()
    if days is not None:  # D-HH[:MM[:SS]]
        secs = int(days) * 86400 + int(a) * 3600 + int(b or 0) * 60 + int(c or 0)
    elif c is not None:  # HH:MM:SS
        secs = int(a) * 3600 + int(b) * 60 + int(c)
    elif b is not None:  # MM:SS
        secs = int(a) * 60 + int(b)
    else:  # MM
        secs = int(a) * 60
    return float(secs) if secs > 0 else None


def queue_key(executor: str, resources: Mapping[str, Any] | None = None, tags: Iterable[str] = ()) -> str:
    """What a queue wait is learned per: ``slurm:PROFILE/partition``, ``runner:SERVER[a,b]``, else the executor."""
    kind = executor.partition(":")[0]
    if kind == "slurm":
        part = (resources or {}).get("partition")
        return f"{executor}/{part}" if part else executor
    if kind == "runner":
        tags = sorted({str(t) for t in tags or ()})
        return f"{executor}[{','.join(tags)}]" if tags else executor
    return executor


def _extra_key(executor: str, extra: Any) -> str:
    """The queue key of a historical attempt, from its journalled job's ``extra``."""
    if not isinstance(extra, dict):
        return executor
    res = extra.get("resources") if isinstance(extra.get("resources"), dict) else {}
    part = extra.get("partition") or res.get("partition")
    tags = extra.get("tags") or ()
    return queue_key(executor, {"partition": part} if part else None, tags if isinstance(tags, list) else ())


#: resources that do not change how long a node runs
_NOT_RUNTIME = frozenset({"time_limit", "account", "qos", "comment", "mail_type", "mail_user", "job_name"})


def _resource_sig(resources: Any) -> tuple:
    if not isinstance(resources, Mapping):
        return ()
    return tuple(sorted((str(k), str(v)) for k, v in resources.items() if k not in _NOT_RUNTIME))


def is_remote(executor: str) -> bool:
    return executor.partition(":")[0] != "local"


class _Stats:
    """Log-normal fit of durations given newest first: decayed mean of logs, outliers dropped."""

    def __init__(self, config: EtaConfig):
        self.c = config
        self._w = [0.5 ** (k / config.half_life) for k in range(max(config.per_type, config.per_executor,
                                                                     config.per_node) + 1)]

    def fit(self, values: Sequence[float], source: str) -> Estimate:
        c = self.c
        logs = [math.log(v if v > _MIN_S else _MIN_S) for v in values]
        w = self._w
        n = len(logs)
        med = _wmedian(logs, w)
        mad = _wmedian([abs(x - med) for x in logs], w) * 1.4826
        cut = c.outlier_mads * max(mad, 0.05)
        keep = [(x, w[k]) for k, x in enumerate(logs) if abs(x - med) <= cut]
        sw = sum(wk for _, wk in keep)
        mu = sum(x * wk for x, wk in keep) / sw
        m = len(keep)
        # the observed spread, shrunk towards the prior spread while attempts are few
        s2 = (m * mad * mad + c.prior_weight * c.prior_log_sigma ** 2) / (m + c.prior_weight)
        # + the uncertainty of the mean itself
        s2_total = s2 + s2 / max(m, 1)
        return _lognormal(mu, s2, s2_total, source, n)


def _lognormal(mu: float, s2_point: float, s2_spread: float, source: str, n: int) -> Estimate:
    mean = math.exp(mu + s2_point / 2)
    return Estimate(mean, mean * math.sqrt(math.expm1(s2_spread)), source, n)


def _prior(seconds: float, log_sigma: float, source: str) -> Estimate:
    s2 = log_sigma * log_sigma
    # the prior value is taken as the typical (median) duration
    return _lognormal(math.log(max(seconds, _MIN_S)), s2, s2, source, 0)


def _wmedian(values: Sequence[float], weights: Sequence[float]) -> float:
    if len(values) == 1:
        return values[0]
    pairs = sorted(zip(values, weights))
    half = sum(w for _, w in pairs) / 2
    acc = 0.0
    for v, wk in pairs:
        acc += wk
        if acc >= half:
            return v
    return pairs[-1][0]  # pragma: no cover


class Estimator:
    """Duration and queue-wait estimates for the nodes of a run, from ``history`` (a ``HistoryStore`` or None)."""

    def __init__(self, history=None, config: EtaConfig | None = None):
        self.history = history
        self.config = config or EtaConfig()
        self._stats = _Stats(self.config)

    def estimate(self, nodes: Sequence[NodeSpec], *, workflow_path: str | os.PathLike | None = None,
                 workflow_hash: str | None = None) -> list[NodeEstimate]:
        c = self.config
        samples = {"node": [], "type": [], "queue": []}
        remote = sorted({n.executor for n in nodes if is_remote(n.executor)})
        if self.history is not None:
            samples = self.history.timing_samples(
                workflow_path=None if workflow_path is None else os.path.abspath(os.fspath(workflow_path)),
                workflow_hash=workflow_hash, node_types={n.node_type for n in nodes}, executors=remote,
                per_node=c.per_node, per_type=c.per_type, per_executor=c.per_executor)
        by_node: dict[tuple[str, str], list[float]] = {}
        node_waits: dict[tuple[str, str], list[float]] = {}
        for node, _t, ex, d, w, _f, _x in samples["node"]:
            by_node.setdefault((node, ex), []).append(d)
            if w is not None and w >= 0:
                node_waits.setdefault((node, ex), []).append(w)
        by_type: dict[tuple[str, str], list[tuple[float, tuple]]] = {}
        for ntype, ex, d, _w, _f, extra in samples["type"]:
            sig = _resource_sig(extra.get("resources")) if isinstance(extra, dict) else ()
            by_type.setdefault((ntype, ex), []).append((d, sig))
        by_key: dict[str, list[float]] = {}
        by_executor: dict[str, list[float]] = {}
        for ex, w, _s, extra in samples["queue"]:
            if w < 0:
                continue
            by_executor.setdefault(ex, []).append(w)
            key = _extra_key(ex, extra)
            if key != ex:
                by_key.setdefault(key, []).append(w)

        fit = self._stats.fit
        cache: dict[Any, Estimate] = {}
        out = []
        for spec in nodes:
            ex = spec.executor
            vals = by_node.get((spec.name, ex))
            if vals:
                dur = fit(vals, "history:node")
            else:
                dur = self._type_or_prior(spec, by_type, cache)
            if is_remote(ex):
                key = queue_key(ex, spec.resources, spec.tags)
                if by_key.get(key):
                    q = cache.get(("q", key)) or cache.setdefault(("q", key), fit(by_key[key], "history:queue"))
                elif node_waits.get((spec.name, ex)):
                    q = fit(node_waits[(spec.name, ex)], "history:node")
                elif by_executor.get(ex):
                    q = cache.get(("e", ex)) or cache.setdefault(("e", ex), fit(by_executor[ex], "history:executor"))
                else:
                    q = _prior(c.default_queue_wait_s, c.default_log_sigma, "prior:default")
            else:
                q = NO_WAIT
            out.append(NodeEstimate(dur, q))
        return out

    def _type_or_prior(self, spec: NodeSpec, by_type, cache) -> Estimate:
        c = self.config
        rows = by_type.get((spec.node_type, spec.executor))
        if rows:
            sig = _resource_sig(spec.resources)
            key = ("t", spec.node_type, spec.executor, sig)
            got = cache.get(key)
            if got is None:
                same = [d for d, s in rows if s == sig] if sig else []
                got = cache[key] = self._stats.fit(same or [d for d, _ in rows], "history:type")
            return got
        if spec.declared_s is not None and spec.declared_s > 0:
            return _prior(spec.declared_s, c.declared_log_sigma, "prior:declared")
        limit = parse_time_limit((spec.resources or {}).get("time_limit"))
        if limit is not None and spec.executor.startswith("slurm"):
            return _prior(limit * c.time_limit_fraction, c.time_limit_log_sigma, "prior:time-limit")
        return _prior(c.default_duration_s, c.default_log_sigma, "prior:default")


def node_specs(plan, default_executor: str | None = None) -> list[NodeSpec]:
    """``NodeSpec``s of a ``RunPlan``'s nodes, in its order."""
    default = default_executor or plan.settings.executor
    out = []
    for name in plan.order:
        pn = plan.nodes[name]
        s = pn.settings
        declared = getattr(pn.type, "expected_duration_s", None) if pn.type is not None else None
        out.append(NodeSpec(name, pn.type_name, s.executor or default, dict(s.resources), tuple(s.tags), declared))
    return out


def slots_from_executors(executors: Mapping[str, Any]) -> dict[str, int | None]:
    """How many nodes each executor runs at once (None: no limit of ours), from executor objects."""
    out: dict[str, int | None] = {}
    for name, ex in executors.items():
        n = getattr(ex, "max_concurrency", None) or getattr(ex, "max_in_flight", None)
        out[name] = int(n) if n else None
    return out


# --------------------------------------------------------------------------- the schedule

# node states in the tracker (values of engine.states.NodeState)
PENDING, QUEUED, RUNNING, SUCCEEDED, FAILED, SKIPPED, CANCELLED = range(7)
STATE_NAMES = ("pending", "queued", "running", "succeeded", "failed", "skipped", "cancelled")


class ScheduleModel:
    """A run's static structure as index arrays: built once, simulated many times."""

    def __init__(self, names: Sequence[str], edges: Iterable[tuple[str, str]], executors: Sequence[str],
                 slots: Mapping[str, int | None] | None = None, *, default_slots: int | None = None):
        """``names`` in a topological order; ``edges`` (upstream, downstream); ``executors[i]`` runs
        ``names[i]``; ``slots`` per executor name (None or missing: ``default_slots`` for local, else no limit)."""
        self.names = tuple(names)
        self.index = {n: i for i, n in enumerate(self.names)}
        n = len(self.names)
        succ: list[list[int]] = [[] for _ in range(n)]
        npred = [0] * n
        idx = self.index
        for u, v in edges:
            iu, iv = idx.get(u), idx.get(v)
            if iu is None or iv is None:
                continue
            succ[iu].append(iv)
            npred[iv] += 1
        self.succ = [tuple(s) for s in succ]
        self.npred = npred
        self.executor_names = tuple(sorted(set(executors)))
        eidx = {e: k for k, e in enumerate(self.executor_names)}
        self.exec_of = [eidx[e] for e in executors]
        slots = dict(slots or {})
        self.slots = []
        for e in self.executor_names:
            k = slots.get(e)
            if k is None and not is_remote(e):
                k = default_slots or os.cpu_count() or 1
            self.slots.append(int(k) if k else _UNLIMITED)
        self.remote = [is_remote(e) for e in self.executor_names]

    @classmethod
    def from_plan(cls, plan, *, default_executor: str | None = None,
                  slots: Mapping[str, int | None] | None = None) -> "ScheduleModel":
        default = default_executor or plan.settings.executor
        edges = [(name, d) for name in plan.order for d in plan.nodes[name].downstream]
        execs = [plan.nodes[n].settings.executor or default for n in plan.order]
        return cls(plan.order, edges, execs, slots, default_slots=plan.settings.jobs)

    def __len__(self) -> int:
        return len(self.names)

    def critical_path(self, durations: Sequence[float]) -> tuple[list[int], float]:
        """The longest dependency chain (indices) by ``durations``, ignoring slots, and its length."""
        n = len(self.names)
        best = [0.0] * n
        prev = [-1] * n
        for i in range(n):  # names are in topological order
            f = best[i] + durations[i]
            for s in self.succ[i]:
                if f > best[s]:
                    best[s] = f
                    prev[s] = i
        if not n:
            return [], 0.0
        end = max(range(n), key=lambda i: best[i] + durations[i])
        total = best[end] + durations[end]
        path = [end]
        while prev[path[-1]] >= 0:
            path.append(prev[path[-1]])
        path.reverse()
        return path, total

    def simulate(self, snap: "_Snapshot", dur: Sequence[float], var: Sequence[float], qwait: Sequence[float],
                 qvar: Sequence[float], floor: Sequence[float]):
        """List-schedule what is left from ``snap.now``. Returns (start, finish, cause, var_finish, last):
        expected times per node (actual ones for what already happened), the node whose finish let each
        start, the variance of each finish along that chain, and the node finishing last (-1: none left)."""
        now = snap.now
        succ, ex, remote = self.succ, self.exec_of, self.remote
        w = snap.waiting
        free = list(self.slots)
        ready = [deque() for _ in free]
        start = snap.started_at
        fin = snap.finished_at
        n = len(fin)
        cause = [-1] * n
        vf = [0.0] * n
        heap: list[tuple[float, int]] = []
        push, pop = heapq.heappush, heapq.heappop
        for i, st in snap.running:
            d = dur[i]
            rem = d - (now - st)
            if rem < floor[i]:
                rem = floor[i]
            fin[i] = f = now + rem
            vf[i] = var[i] * (rem / d if d > rem else 1.0)
            heap.append((f, i))
            free[ex[i]] -= 1
        for i, qt in snap.queued:
            e = ex[i]
            if remote[e]:  # handed over, waiting in the cluster's / server's queue
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
        for t, i in snap.delayed:
            heap.append((t if t > now else now, ~i))
        heapq.heapify(heap)
        last, last_t = -1, now
        for e, q in enumerate(ready):
            while q and free[e] > 0:
                j = q.popleft()
                free[e] -= 1
                st = now + qwait[j]
                start[j] = st
                fin[j] = f = st + dur[j]
                vf[j] = var[j] + qvar[j]
                push(heap, (f, j))
        while heap:
            t, i = pop(heap)
            if i < 0:  # a retry's delay is over: ready again
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
                        if es != e and free[es] > 0:  # another executor with room: start it there now
                            q = ready[es]
                            while q and free[es] > 0:
                                j = q.popleft()
                                free[es] -= 1
                                st = t + qwait[j]
                                start[j] = st
                                fin[j] = f = st + dur[j]
                                cause[j] = i
                                vf[j] = base + var[j] + qvar[j]
                                push(heap, (f, j))
            q = ready[e]
            while q and free[e] > 0:
                j = q.popleft()
                free[e] -= 1
                st = t + qwait[j]
                start[j] = st
                fin[j] = f = st + dur[j]
                cause[j] = i
                vf[j] = base + var[j] + qvar[j]
                push(heap, (f, j))
        return start, fin, cause, vf, last


@dataclass(slots=True)
class _Snapshot:
    now: float
    waiting: list[int]
    started_at: list[float | None]
    finished_at: list[float | None]
    running: list[tuple[int, float]]
    queued: list[tuple[int, float]]
    ready: list[int]
    delayed: list[tuple[float, int]]


# --------------------------------------------------------------------------- forecast

@dataclass(frozen=True, slots=True)
class NodeForecast:
    name: str
    state: str
    start: float | None   # actual when it started, else expected (None: will not run)
    finish: float | None  # actual when it finished, else expected
    estimate: Estimate    # duration estimate now in use
    queue: Estimate       # queue-wait estimate (remote executors)

    @property
    def source(self) -> str:
        return self.estimate.source


@dataclass(frozen=True, slots=True)
class Forecast:
    """One computed prediction of a run (immutable; safe to hand to any thread)."""

    computed_at: float          # "now" of the computation (wall clock)
    started_at: float | None    # the run's start (None: not started)
    eta: float                  # expected end of the run (wall clock)
    eta_low: float              # 80 % band
    eta_high: float
    finished: bool              # the run is over: eta is its actual end
    done: int
    total: int
    names: tuple[str, ...]
    states: tuple[int, ...]     # index into STATE_NAMES
    start: tuple[float | None, ...]
    finish: tuple[float | None, ...]
    estimates: tuple[Estimate, ...]
    queues: tuple[Estimate, ...]
    chain: tuple[str, ...]      # remaining nodes whose finishes, one after the other, decide the ETA
    _index: Mapping[str, int] = field(repr=False, compare=False, default_factory=dict)

    @property
    def remaining_s(self) -> float:
        return max(0.0, self.eta - self.computed_at)

    @property
    def band_s(self) -> float:
        """Half the band's width (the ± of the ETA)."""
        return max(0.0, (self.eta_high - self.eta_low) / 2)

    @property
    def progress(self) -> float:
        return self.done / self.total if self.total else 1.0

    def node(self, name: str) -> NodeForecast:
        i = self._index[name] if self._index else self.names.index(name)
        return NodeForecast(name, STATE_NAMES[self.states[i]], self.start[i], self.finish[i], self.estimates[i],
                            self.queues[i])

    def expected_start(self, name: str) -> float | None:
        return self.start[self._index[name] if self._index else self.names.index(name)]

    def expected_finish(self, name: str) -> float | None:
        return self.finish[self._index[name] if self._index else self.names.index(name)]

    def source_share(self) -> dict[str, float]:
        """Share of the remaining expected work (node-seconds) by duration source."""
        acc: dict[str, float] = {}
        for st, e in zip(self.states, self.estimates):
            if st <= RUNNING:
                acc[e.source] = acc.get(e.source, 0.0) + e.seconds
        total = sum(acc.values())
        return {k: v / total for k, v in acc.items()} if total > 0 else {}

    def source_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.estimates:
            out[e.source] = out.get(e.source, 0) + 1
        return out

    def mostly_priors(self) -> bool:
        """Most remaining work is estimated from priors, not history: say so next to the ETA."""
        share = self.source_share()
        return sum(v for k, v in share.items() if k in PRIOR_SOURCES) > 0.5


def format_eta(fc: Forecast | None, now: float | None = None) -> str:
    """``ETA hh:mm (± n min)`` (a date in front when not today; ", from priors" when history is lacking)."""
    if fc is None:
        return "ETA --:--"
    lt = time.localtime(fc.eta)
    today = time.localtime(time.time() if now is None else now)
    when = time.strftime("%H:%M", lt)
    if (lt.tm_year, lt.tm_yday) != (today.tm_year, today.tm_yday):
        when = time.strftime("%a %d %b ", lt) + when
    if fc.finished:
        return f"done {when}"
    minutes = fc.band_s / 60
    pm = f"± {round(minutes)} min" if minutes >= 0.5 else "± <1 min"
    note = ", from priors" if fc.mostly_priors() else ""
    return f"ETA {when} ({pm}{note})"


# --------------------------------------------------------------------------- the tracker

class EtaTracker:
    """Keeps a current ``Forecast`` of a run from its events (a ``RunObserver``).

    ``on_event`` is called on the scheduler's thread and stays O(1) except for
    a throttled recompute (``EtaConfig.min_interval_s`` of event time; pass
    ``auto=False`` to recompute only on request). ``forecast`` is the latest
    result; ``update()`` and ``recompute()`` may be called from any thread.
    ``listeners`` (callables taking the new ``Forecast``) are called on the
    thread that computed it.
    """

    def __init__(self, model: ScheduleModel, specs: Sequence[NodeSpec], estimates: Sequence[NodeEstimate], *,
                 config: EtaConfig | None = None, clock=None, auto: bool = True,
                 skipped: Iterable[str] = ()):
        if len(specs) != len(model) or len(estimates) != len(model):
            raise ValueError("specs and estimates must match the model's nodes")
        self.model = model
        self.config = config or EtaConfig()
        self.clock = clock  # .time() → wall seconds; None: time.time
        self.auto = auto
        self.listeners: list[Callable[[Forecast], None]] = []
        self.specs = tuple(specs)
        self.base = tuple(estimates)
        n = len(model)
        self._lock = threading.Lock()
        self._compute_lock = threading.Lock()
        self._state = [PENDING] * n
        self._waiting = list(model.npred)
        self._started = [None] * n
        self._finished = [None] * n
        self._running: dict[int, float] = {}
        self._queued: dict[int, float] = {}
        self._ready: dict[int, None] = {i: None for i in range(n) if model.npred[i] == 0}
        self._delayed: dict[int, float] = {}
        self._done = 0
        self._run_started: float | None = None
        self._run_finished: float | None = None
        # learning during the run
        self._log_ratio_sum = 0.0
        self._log_ratio_n = 0
        self._by_group: dict[tuple[str, str], list[float]] = {}
        self._learned = True  # effective estimates need (re)computing
        self._eff: tuple[list[Estimate], list[float], list[float], list[float], list[float], list[float]] | None = None
        self._queues = tuple(e.queue for e in estimates)
        self._qwait = [e.queue.seconds for e in estimates]
        self._qvar = [e.queue.sigma_s ** 2 for e in estimates]
        self._last_compute = -math.inf
        self._forecast: Forecast | None = None
        for name in skipped:
            i = model.index.get(name)
            if i is not None:
                self._mark_final(i, SKIPPED, None)

    @classmethod
    def for_plan(cls, plan, history=None, *, default_executor: str | None = None,
                 slots: Mapping[str, int | None] | None = None, workflow_path: str | os.PathLike | None = None,
                 workflow_hash: str | None = None, config: EtaConfig | None = None, clock=None,
                 auto: bool = True) -> "EtaTracker":
        """A tracker for a ``RunPlan`` with estimates from ``history`` (a ``HistoryStore`` or None).

        ``workflow_path`` defaults to the workflow's file; pass ``workflow_hash``
        (``engine.plan.workflow_hash(plan.workflow)``) to match copies of it too.
        """
        config = config or EtaConfig()
        specs = node_specs(plan, default_executor)
        path = workflow_path if workflow_path is not None else getattr(plan.workflow, "source_path", None)
        estimates = Estimator(history, config).estimate(specs, workflow_path=path, workflow_hash=workflow_hash)
        model = ScheduleModel.from_plan(plan, default_executor=default_executor, slots=slots)
        return cls(model, specs, estimates, config=config, clock=clock, auto=auto, skipped=plan.skipped)

    # -- results ---------------------------------------------------------------------
    @property
    def forecast(self) -> Forecast | None:
        """The latest forecast (None before the first computation)."""
        return self._forecast

    def update(self, now: float | None = None) -> Forecast | None:
        """Recompute when ``min_interval_s`` has passed since the last time; return the current forecast."""
        now = self._now() if now is None else now
        if now - self._last_compute >= self.config.min_interval_s or self._forecast is None:
            return self.recompute(now)
        return self._forecast

    def recompute(self, now: float | None = None) -> Forecast:
        """Compute a new forecast as of ``now`` (wall seconds; default: the clock's time)."""
        with self._compute_lock:
            return self._compute(self._now() if now is None else now)

    def _now(self) -> float:
        return self.clock.time() if self.clock is not None else time.time()

    # -- observer --------------------------------------------------------------------
    def on_event(self, ev: RunEvent) -> None:
        k = ev.kind
        if ev.node is not None:
            i = self.model.index.get(ev.node)
            if i is None:
                return
            with self._lock:
                if k is EventKind.NODE_QUEUED:
                    self._set_queued(i, ev.time)
                elif k is EventKind.NODE_STARTED:
                    self._set_running(i, ev.time)
                elif k is EventKind.NODE_SUCCEEDED:
                    self._set_succeeded(i, ev.time, bool(ev.data.get("reused")))
                elif k is EventKind.NODE_FAILED:
                    self._mark_final(i, CANCELLED if ev.data.get("reason") == "cancelled" else FAILED, ev.time)
                elif k is EventKind.NODE_SKIPPED:
                    self._mark_final(i, SKIPPED, ev.time)
                elif k is EventKind.NODE_RETRYING:
                    self._set_retrying(i, ev.time + float(ev.data.get("delay_s") or 0.0))
                else:
                    return  # logs, node progress
        elif k is EventKind.RUN_STARTED:
            with self._lock:
                self._run_started = ev.time
        elif k is EventKind.RUN_FINISHED:
            with self._lock:
                self._run_finished = ev.time
            self.recompute(ev.time)
            return
        elif k is not EventKind.RUN_PROGRESS:
            return
        if self.auto and ev.time - self._last_compute >= self.config.min_interval_s:
            self.recompute(ev.time)

    # -- state changes (lock held) -----------------------------------------------------
    def _set_queued(self, i: int, t: float) -> None:
        if self._state[i] >= SUCCEEDED:
            return
        self._state[i] = QUEUED
        self._waiting[i] = _UNLIMITED
        self._ready.pop(i, None)
        self._delayed.pop(i, None)
        self._running.pop(i, None)
        self._started[i] = None
        self._queued[i] = t

    def _set_running(self, i: int, t: float) -> None:
        if self._state[i] >= SUCCEEDED:
            return
        self._state[i] = RUNNING
        self._waiting[i] = _UNLIMITED
        self._ready.pop(i, None)
        self._queued.pop(i, None)
        self._delayed.pop(i, None)
        self._started[i] = t
        self._running[i] = t

    def _set_retrying(self, i: int, ready_at: float) -> None:
        if self._state[i] >= SUCCEEDED:
            return
        self._state[i] = QUEUED
        self._running.pop(i, None)
        self._queued.pop(i, None)
        self._started[i] = None
        self._delayed[i] = ready_at

    def _set_succeeded(self, i: int, t: float, reused: bool) -> None:
        if self._state[i] >= SUCCEEDED:
            return
        st = self._started[i]
        self._mark_final(i, SUCCEEDED, t)
        if st is None:  # reused (or never reported as started): starts and ends at once
            self._started[i] = t
        if not reused and st is not None:
            self._learn(i, t - st)
        waiting, state, ready = self._waiting, self._state, self._ready
        for s in self.model.succ[i]:
            if state[s] == PENDING:
                k = waiting[s] = waiting[s] - 1
                if k == 0:
                    ready[s] = None

    def _mark_final(self, i: int, state: int, t: float | None) -> None:
        if self._state[i] >= SUCCEEDED:
            return
        self._state[i] = state
        self._waiting[i] = _UNLIMITED
        self._finished[i] = t
        self._ready.pop(i, None)
        self._queued.pop(i, None)
        self._running.pop(i, None)
        self._delayed.pop(i, None)
        self._done += 1

    def _learn(self, i: int, actual: float) -> None:
        c = self.config
        base = self.base[i].duration
        if base.source in HISTORY_SOURCES:
            r = math.log(max(actual, _MIN_S) / max(base.seconds, _MIN_S))
            self._log_ratio_sum += max(-c.speed_clip, min(c.speed_clip, r))
            self._log_ratio_n += 1
        spec = self.specs[i]
        self._by_group.setdefault((spec.node_type, spec.executor), []).append(actual)
        self._learned = True

    # -- computing ---------------------------------------------------------------------
    def speed_factor(self) -> float:
        """How much slower (>1) or faster this run goes than its history estimates (shrunk towards 1)."""
        return math.exp(self._log_ratio_sum / (self._log_ratio_n + self.config.speed_shrink))

    def _effective(self):
        """Estimates in use now: history ones times the speed factor; priors replaced by what same-type
        nodes took in this run. Recomputed only after something was learned."""
        if not self._learned and self._eff is not None:
            return self._eff
        c = self.config
        with self._lock:
            factor = self.speed_factor()
            groups = {k: list(v) for k, v in self._by_group.items()}
            self._learned = False
        stats = _Stats(c)
        learned: dict[tuple[str, str], Estimate] = {}
        for key, vals in groups.items():
            learned[key] = stats.fit(vals[::-1], "run:type")  # newest first
        ests = []
        for spec, ne in zip(self.specs, self.base):
            e = ne.duration
            if e.source in HISTORY_SOURCES:
                if factor != 1.0:
                    e = Estimate(e.seconds * factor, e.sigma_s * factor, e.source, e.samples)
            else:
                got = learned.get((spec.node_type, spec.executor))
                if got is not None:
                    e = got
            ests.append(e)
        dur = [e.seconds for e in ests]
        var = [e.sigma_s * e.sigma_s for e in ests]
        fs, ff = c.floor_s, c.floor_fraction
        floor = [max(fs, ff * d) for d in dur]
        self._eff = (ests, dur, var, floor, self._qwait, self._qvar)
        return self._eff

    def _compute(self, now: float) -> Forecast:
        ests, dur, var, floor, qwait, qvar = self._effective()
        with self._lock:
            snap = _Snapshot(now, self._waiting.copy(), self._started.copy(), self._finished.copy(),
                             list(self._running.items()), list(self._queued.items()), list(self._ready),
                             [(t, i) for i, t in self._delayed.items()])
            states = tuple(self._state)
            done, run_started, run_finished = self._done, self._run_started, self._run_finished
            n_obs = self._log_ratio_n
        model = self.model
        if run_finished is not None:
            start, fin = snap.started_at, snap.finished_at
            eta = lo = hi = run_finished
            chain: tuple[str, ...] = ()
        else:
            start, fin, cause, vf, last = model.simulate(snap, dur, var, qwait, qvar, floor)
            if last >= 0:
                eta = max(fin[last], now)
                chain_idx = [last]
                while cause[chain_idx[-1]] >= 0:
                    chain_idx.append(cause[chain_idx[-1]])
                chain = tuple(model.names[i] for i in reversed(chain_idx))
                # independent node spreads along the chain + a run-wide (correlated) speed uncertainty
                c = self.config
                sys_s = c.systematic_log_sigma * math.sqrt(c.speed_shrink / (n_obs + c.speed_shrink))
                sd = math.sqrt(vf[last] + (sys_s * (eta - now)) ** 2)
                lo, hi = max(now, eta - Z80 * sd), eta + Z80 * sd
            else:  # nothing left to run (the run is about to finish)
                eta = lo = hi = now
                chain = ()
        fc = Forecast(now, run_started, eta, lo, hi, run_finished is not None, done, len(model), model.names,
                      states, tuple(start), tuple(fin), tuple(ests), self._queues, chain, model.index)
        self._forecast = fc
        self._last_compute = now
        for fn in list(self.listeners):
            fn(fc)
        return fc

    def durations(self) -> list[Estimate]:
        """The duration estimates in use now (after what this run taught)."""
        return list(self._effective()[0])

    def critical_path(self) -> tuple[list[str], float]:
        """The longest dependency chain by current estimates (+ queue waits), ignoring slots."""
        ests, dur, _v, _f, qwait, _q = self._effective()
        path, total = self.model.critical_path([d + q for d, q in zip(dur, qwait)])
        return [self.model.names[i] for i in path], total
