"""Estimated completion from history: node durations → remaining schedule → ETA with a band.

The public face of the ETA (no Qt, no threads of its own). Three parts:

* ``eta_estimate`` — ``Estimator``: per node a duration ``Estimate`` from
  history (``history:node``, then ``history:type``) or a prior
  (``prior:declared``, ``prior:time-limit``, ``prior:default``), and queue
  waits of remote executors.
* ``eta_schedule`` — ``ScheduleModel``: the run's static structure and the
  list-scheduling simulation; ``Forecast``: its immutable result.
* here — ``EtaTracker``: a run observer keeping a current ``Forecast``, and
  ``format_eta`` for one line of text.

Typical use (CLI, GUI's RunController)::

    tracker = EtaTracker.for_plan(plan, history_store, default_executor="local",
                                  slots=slots_from_executors(executors),
                                  workflow_hash=plan.workflow_hash)
    run_workflow(..., observers=[tracker, display])   # the tracker before whoever reads it
    fc = tracker.forecast            # or tracker.update() from a GUI timer, any thread
    fc.eta, fc.eta_low, fc.eta_high, fc.expected_start("mesh"), fc.node("mesh").source

During a run the tracker learns: a speed factor (how much slower or faster
than their history estimates the finished nodes were, shrunk towards 1) scales
history-based estimates, and nodes that only had a prior take what same-type
nodes of this run took (source ``run:type``).
"""
from __future__ import annotations

import math
import os
import threading
import time
from typing import Callable, Iterable, Mapping, Sequence

from ..engine.events import EventKind, RunEvent
from .eta_estimate import (HISTORY_SOURCES, NO_WAIT, PRIOR_SOURCES, SOURCES, Z80, EtaConfig, Estimate, Estimator,
                           LogNormalFit, NodeEstimate, NodeSpec, is_remote, node_specs, parse_time_limit,
                           queue_key, slots_from_executors)
from .eta_schedule import (CANCELLED, FAILED, PENDING, QUEUED, RUNNING, SKIPPED, STATE_NAMES, SUCCEEDED,
                           UNLIMITED, EstimateView, Forecast, NodeForecast, ScheduleModel, Snapshot, band_sd)

__all__ = ["EtaConfig", "EtaTracker", "Estimate", "Estimator", "Forecast", "HISTORY_SOURCES", "NO_WAIT",
           "NodeEstimate", "NodeForecast", "NodeSpec", "PRIOR_SOURCES", "SOURCES", "STATE_NAMES", "ScheduleModel",
           "format_eta", "is_remote", "node_specs", "parse_time_limit", "queue_key", "slots_from_executors"]

_Z = Z80


class EtaTracker:
    """Keeps a current ``Forecast`` of one run from its events (a ``RunObserver``).

    ``on_event`` runs on the scheduler's thread: O(1) bookkeeping, plus a
    recompute when ``config.min_interval_s`` of event time has passed since
    the last one (``auto=False``: only on request). ``forecast`` is the
    latest result; ``update()`` (throttled) and ``recompute()`` may be called
    from any thread. ``listeners`` — callables taking the new ``Forecast`` —
    are called on the thread that computed it.
    """

    def __init__(self, model: ScheduleModel, specs: Sequence[NodeSpec], estimates: Sequence[NodeEstimate], *,
                 config: EtaConfig | None = None, clock=None, auto: bool = True, skipped: Iterable[str] = (),
                 estimator: Estimator | None = None, default_executor: str = "local",
                 workflow_path: str | os.PathLike | None = None, workflow_hash: str | None = None,
                 declared: Callable[[tuple], float | None] | None = None):
        """``model``, ``specs`` and ``estimates`` line up node for node; ``skipped`` nodes will not run.
        For nodes a generator adds during the run (NODES_ADDED): ``estimator`` (default: priors only)
        with ``workflow_path``/``workflow_hash``, ``default_executor``, and ``declared(type_path)`` giving
        a node type's ``expected_duration_s``."""
        n = len(model)
        if len(specs) != n or len(estimates) != n:
            raise ValueError("specs and estimates must match the model's nodes")
        self.model = model
        self.config = c = config or EtaConfig()
        self.clock = clock  # anything with .time() (wall seconds); None: time.time
        self.auto = auto
        self.listeners: list[Callable[[Forecast], None]] = []
        self._fit = LogNormalFit(c)
        self._estimator = estimator
        self._workflow_ids = (workflow_path, workflow_hash)
        self._default_executor = default_executor
        self._declared = declared or (lambda path: None)
        self._lock = threading.Lock()          # guards the run state below
        self._compute_lock = threading.Lock()  # one computation at a time
        # -- run state (changed by events, O(1) each)
        self._state = [PENDING] * n
        self._waiting = list(model.npred)
        self._started: list[float | None] = [None] * n
        self._finished: list[float | None] = [None] * n
        self._running: dict[int, float] = {}
        self._queued: dict[int, float] = {}
        self._ready: dict[int, None] = {i: None for i in range(n) if model.npred[i] == 0}
        self._delayed: dict[int, float] = {}
        self._done = 0
        self._run_started: float | None = None
        self._run_finished: float | None = None
        # -- estimates as arrays, and what the run teaches
        self._set_estimates(specs, estimates)
        self._learned_by_group: dict[tuple[str, str], list[float]] = {}
        self._log_ratio_sum = 0.0
        self._log_ratio_n = 0
        self._dirty = True
        self._eff = None
        self._last_compute = -math.inf
        self._forecast: Forecast | None = None
        for name in skipped:
            i = model.index.get(name)
            if i is not None:
                self._final(i, SKIPPED, None)

    def _set_estimates(self, specs: Sequence[NodeSpec], estimates: Sequence[NodeEstimate]) -> None:
        self.specs = tuple(specs)
        self.base = tuple(estimates)
        self._durs = tuple(e.duration for e in estimates)
        self._bdur = [e.seconds for e in self._durs]
        self._bvar = [e.sigma_s * e.sigma_s for e in self._durs]
        self._scaled = [e.source in HISTORY_SOURCES for e in self._durs]
        self._queues = tuple(e.queue for e in estimates)
        self._qwait = [e.seconds for e in self._queues]
        self._qvar = [e.sigma_s * e.sigma_s for e in self._queues]
        #: nodes that only have a prior, by (type, executor): same-type nodes of this run can teach them
        self._prior_nodes: dict[tuple[str, str], list[int]] = {}
        for i, (sp, scaled) in enumerate(zip(specs, self._scaled)):
            if not scaled:
                self._prior_nodes.setdefault((sp.node_type, sp.executor), []).append(i)

    @classmethod
    def for_plan(cls, plan, history=None, *, default_executor: str | None = None,
                 slots: Mapping[str, int | None] | None = None, workflow_path: str | os.PathLike | None = None,
                 workflow_hash: str | None = None, config: EtaConfig | None = None, clock=None,
                 auto: bool = True) -> "EtaTracker":
        """A tracker for a ``RunPlan``, estimates from ``history`` (a ``HistoryStore``, or None: priors only).

        ``default_executor``: for nodes that name none (default: the workflow's).
        ``slots``: nodes at once per executor name (see ``slots_from_executors``; local
        defaults to the plan's ``jobs``, else the CPU count). ``workflow_path`` defaults to
        the workflow's file; give ``workflow_hash`` (``engine.plan.workflow_hash``) to
        match runs of copies of it too.
        """
        config = config or EtaConfig()
        specs = node_specs(plan, default_executor)
        path = workflow_path if workflow_path is not None else getattr(plan.workflow, "source_path", None)
        estimator = Estimator(history, config)
        estimates = estimator.estimate(specs, workflow_path=path, workflow_hash=workflow_hash)
        model = ScheduleModel.from_plan(plan, default_executor=default_executor, slots=slots)
        registry = plan.registry
        # nodes a generator adds later are estimated the same way (from the same store, while it is open)
        return cls(model, specs, estimates, config=config, clock=clock, auto=auto, skipped=plan.skipped,
                   estimator=estimator, default_executor=default_executor or plan.settings.executor,
                   workflow_path=path, workflow_hash=workflow_hash,
                   declared=lambda p: getattr(registry.get(p), "expected_duration_s", None))

    # -- results --------------------------------------------------------------------------
    @property
    def forecast(self) -> Forecast | None:
        """The latest forecast (None until the first computation)."""
        return self._forecast

    def update(self, now: float | None = None) -> Forecast:
        """The current forecast, recomputed first if ``min_interval_s`` has passed since the last one."""
        now = self._now() if now is None else now
        fc = self._forecast
        if fc is None or (not fc.finished and now - self._last_compute >= self.config.min_interval_s):
            return self.recompute(now)
        return fc

    def recompute(self, now: float | None = None) -> Forecast:
        """A new forecast as of ``now`` (wall seconds; default: the clock's time). Any thread."""
        with self._compute_lock:
            return self._compute(self._now() if now is None else now)

    def speed_factor(self) -> float:
        """How much slower (>1) or faster (<1) than their history the finished nodes ran, shrunk towards 1."""
        return math.exp(self._log_ratio_sum / (self._log_ratio_n + self.config.speed_shrink))

    def critical_path(self) -> tuple[list[str], float]:
        """The longest dependency chain by the estimates in use (duration + queue wait), slots ignored,
        and its length in seconds."""
        with self._compute_lock:
            _factor, dur, _var, _over, _src = self._effective()
            path, total = self.model.critical_path([d + q for d, q in zip(dur, self._qwait)])
            return [self.model.names[i] for i in path], total

    def _now(self) -> float:
        return self.clock.time() if self.clock is not None else time.time()

    # -- observer -------------------------------------------------------------------------
    def on_event(self, ev: RunEvent) -> None:
        k = ev.kind
        if k is EventKind.NODES_ADDED:
            self._grow(ev.data)
        elif ev.node is not None:
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
                    self._final(i, CANCELLED if ev.data.get("reason") == "cancelled" else FAILED, ev.time)
                elif k is EventKind.NODE_SKIPPED:
                    self._final(i, SKIPPED, ev.time)
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

    # -- state changes (lock held) --------------------------------------------------------
    def _set_queued(self, i: int, t: float) -> None:
        if self._state[i] >= SUCCEEDED:
            return
        self._state[i] = QUEUED
        self._waiting[i] = UNLIMITED
        self._ready.pop(i, None)
        self._delayed.pop(i, None)
        self._running.pop(i, None)
        self._started[i] = None
        self._queued[i] = t

    def _set_running(self, i: int, t: float) -> None:
        if self._state[i] >= SUCCEEDED:
            return
        self._state[i] = RUNNING
        self._waiting[i] = UNLIMITED
        self._ready.pop(i, None)
        self._queued.pop(i, None)
        self._delayed.pop(i, None)
        self._started[i] = t
        self._running[i] = t

    def _set_retrying(self, i: int, ready_at: float) -> None:
        if self._state[i] >= SUCCEEDED:
            return
        self._state[i] = QUEUED
        self._waiting[i] = UNLIMITED
        self._running.pop(i, None)
        self._queued.pop(i, None)
        self._started[i] = None
        self._delayed[i] = ready_at

    def _set_succeeded(self, i: int, t: float, reused: bool) -> None:
        if self._state[i] >= SUCCEEDED:
            return
        st = self._started[i]
        self._final(i, SUCCEEDED, t)
        if st is None:  # reused, or never reported as started: it took no time
            self._started[i] = t
        elif not reused:
            self._learn(i, t - st)
        waiting, state, ready = self._waiting, self._state, self._ready
        for s in self.model.succ[i]:
            if state[s] == PENDING:
                k = waiting[s] = waiting[s] - 1
                if k == 0:
                    ready[s] = None

    def _final(self, i: int, state: int, t: float | None) -> None:
        if self._state[i] >= SUCCEEDED:
            return
        self._state[i] = state
        self._waiting[i] = UNLIMITED
        self._finished[i] = t
        self._ready.pop(i, None)
        self._queued.pop(i, None)
        self._running.pop(i, None)
        self._delayed.pop(i, None)
        self._done += 1

    def _learn(self, i: int, actual: float) -> None:
        c = self.config
        if self._scaled[i]:
            r = math.log(max(actual, 1e-4) / max(self._bdur[i], 1e-4))
            self._log_ratio_sum += max(-c.speed_clip, min(c.speed_clip, r))
            self._log_ratio_n += 1
        else:
            sp = self.specs[i]
            key = (sp.node_type, sp.executor)
            if key in self._prior_nodes:
                self._learned_by_group.setdefault(key, []).append(actual)
        self._dirty = True

    # -- a generator's additions ------------------------------------------------------------
    def _grow(self, data: Mapping) -> None:
        """Take in the nodes and connections a generator node added (NODES_ADDED): estimate the new
        nodes, then rebuild the model and remap the run state. Rare, so clarity over speed."""
        nodes = data.get("nodes") or {}
        new_specs = []
        for name, nd in nodes.items():
            if name in self.model.index or not isinstance(nd, Mapping):
                continue
            path = tuple(nd.get("path") or ())
            cs = nd.get("customState")
            st = cs.get("nodeflow") if isinstance(cs, Mapping) else None
            st = st if isinstance(st, Mapping) else {}
            res = st.get("resources")
            new_specs.append(NodeSpec(name, "/".join(path), st.get("executor") or self._default_executor,
                                      dict(res) if isinstance(res, Mapping) else {},
                                      tuple(str(t) for t in st.get("tags") or ()), self._declared(path)))
        new_edges = []
        for conn in (data.get("connections") or {}).values():
            try:
                new_edges.append((conn["input"][0], conn["output"][0]))
            except (KeyError, IndexError, TypeError):
                continue
        if not new_specs and not new_edges:
            return
        try:
            ests = (self._estimator or Estimator(None, self.config)).estimate(
                new_specs, workflow_path=self._workflow_ids[0], workflow_hash=self._workflow_ids[1])
        except Exception:  # e.g. the history store was closed: priors then
            ests = Estimator(None, self.config).estimate(new_specs)
        with self._compute_lock, self._lock:
            self._rebuild(new_specs, ests, new_edges)

    def _rebuild(self, new_specs: Sequence[NodeSpec], new_ests: Sequence[NodeEstimate],
                 new_edges: Sequence[tuple[str, str]]) -> None:
        old = self.model
        names = list(old.names) + [sp.name for sp in new_specs]
        edges = [(old.names[i], old.names[j]) for i in range(len(old)) for j in old.succ[i]] + list(new_edges)
        known = set(names)
        edges = [(u, v) for u, v in edges if u in known and v in known]
        order = _topological(names, edges)
        if order is None:
            return  # a cycle: the scheduler refuses such additions; keep the model as it is
        specs = {sp.name: sp for sp in (*self.specs, *new_specs)}
        ests = dict(zip(old.names, self.base)) | {sp.name: e for sp, e in zip(new_specs, new_ests)}
        slots = {e: old.slots_of(e) for e in old.executor_names}
        model = ScheduleModel(order, edges, [specs[n].executor for n in order], slots)
        at = [old.index.get(n, -1) for n in order]  # new index -> old index (-1: new node)
        o_state, o_started, o_finished = self._state, self._started, self._finished
        self._state = [o_state[j] if j >= 0 else PENDING for j in at]
        self._started = [o_started[j] if j >= 0 else None for j in at]
        self._finished = [o_finished[j] if j >= 0 else None for j in at]
        new_of = {j: i for i, j in enumerate(at) if j >= 0}
        self._running = {new_of[j]: t for j, t in self._running.items()}
        self._queued = {new_of[j]: t for j, t in self._queued.items()}
        self._delayed = {new_of[j]: t for j, t in self._delayed.items()}
        state = self._state
        waiting = [UNLIMITED] * len(order)
        preds: list[list[int]] = [[] for _ in order]
        for i, ss in enumerate(model.succ):
            for s in ss:
                preds[s].append(i)
        for i, st in enumerate(state):
            if st == PENDING:
                waiting[i] = sum(1 for p in preds[i] if state[p] != SUCCEEDED)
        self._waiting = waiting
        ready = [new_of[j] for j in self._ready if waiting[new_of[j]] == 0]
        seen = set(ready)
        ready += [i for i in range(len(order)) if state[i] == PENDING and waiting[i] == 0 and i not in seen]
        self._ready = dict.fromkeys(ready)
        self.model = model
        self._set_estimates([specs[n] for n in order], [ests[n] for n in order])
        self._eff = None
        self._dirty = True

    # -- computing ------------------------------------------------------------------------
    def _effective(self):
        """(factor, durations, variances, overrides, sources) in use now; rebuilt only after learning."""
        if not self._dirty and self._eff is not None:
            return self._eff
        c = self.config
        with self._lock:
            self._dirty = False
            factor = self.speed_factor()
            groups = {k: v[-c.per_type:] for k, v in self._learned_by_group.items()}
        if factor != 1.0:
            f2 = factor * factor
            dur = [d * factor if h else d for d, h in zip(self._bdur, self._scaled)]
            var = [v * f2 if h else v for v, h in zip(self._bvar, self._scaled)]
        else:
            dur, var = list(self._bdur), list(self._bvar)
        override: dict[int, Estimate] = {}
        for key, vals in groups.items():
            est = self._fit.fit(vals[::-1], "run:type")  # newest first
            d, v = est.seconds, est.sigma_s * est.sigma_s
            for i in self._prior_nodes[key]:
                dur[i], var[i] = d, v
                override[i] = est
        prev = self._eff
        if prev is not None and prev[3].keys() == override.keys():
            sources = prev[4]
        else:
            sources = tuple(override[i].source if i in override else e.source for i, e in enumerate(self._durs))
        self._eff = (factor, dur, var, override, sources)
        return self._eff

    def _compute(self, now: float) -> Forecast:
        factor, dur, var, override, sources = self._effective()
        c = self.config
        with self._lock:
            snap = Snapshot(now, self._waiting.copy(), self._started.copy(), self._finished.copy(),
                            list(self._running.items()), list(self._queued.items()), list(self._ready),
                            [(t, i) for i, t in self._delayed.items()])
            states = tuple(self._state)
            done, run_started, run_finished = self._done, self._run_started, self._run_finished
            n_obs = self._log_ratio_n + sum(len(v) for v in self._learned_by_group.values())
        model = self.model
        chain: tuple[str, ...] = ()
        if run_finished is not None:
            start, fin = snap.started_at, snap.finished_at
            eta = lo = hi = run_finished
        else:
            start, fin, cause, vf, last = model.simulate(snap, dur, var, self._qwait, self._qvar,
                                                         c.floor_s, c.floor_fraction)
            if last >= 0:
                eta = max(fin[last], now)
                idx = [last]
                while cause[idx[-1]] >= 0:
                    idx.append(cause[idx[-1]])
                chain = tuple(model.names[i] for i in reversed(idx))
                sys_sigma = c.systematic_log_sigma * math.sqrt(c.speed_shrink / (n_obs + c.speed_shrink))
                sd = band_sd(vf[last], eta - now, sys_sigma)
                lo, hi = max(now, eta - _Z * sd), eta + _Z * sd
            else:  # nothing left that will run
                eta = lo = hi = now
        fc = Forecast(now, run_started, eta, lo, hi, run_finished is not None, done, len(model), model.names,
                      states, tuple(start), tuple(fin), tuple(dur), sources,
                      EstimateView(self._durs, factor, override, self._scaled), self._queues, chain, factor,
                      model.index)
        self._forecast = fc
        self._last_compute = now
        for fn in list(self.listeners):
            fn(fc)
        return fc


def format_eta(fc: Forecast | None, now: float | None = None) -> str:
    """``ETA hh:mm (± n min)`` for a progress line; the date in front when it is not today, and
    ", from priors" when most of the remaining work has no history behind it."""
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


def _topological(names: Sequence[str], edges: Sequence[tuple[str, str]]) -> list[str] | None:
    """``names`` in a topological order, keeping the given order where it may (None: a cycle)."""
    idx = {n: i for i, n in enumerate(names)}
    succ: list[list[int]] = [[] for _ in names]
    indeg = [0] * len(names)
    for u, v in edges:
        succ[idx[u]].append(idx[v])
        indeg[idx[v]] += 1
    import heapq

    heap = [i for i, d in enumerate(indeg) if d == 0]
    heapq.heapify(heap)
    out = []
    while heap:
        i = heapq.heappop(heap)
        out.append(names[i])
        for s in succ[i]:
            indeg[s] -= 1
            if indeg[s] == 0:
                heapq.heappush(heap, s)
    return out if len(out) == len(names) else None
