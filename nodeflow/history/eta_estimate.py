"""ETA, part 1: how long each node will take, from history — estimates labelled with their source.

``Estimator.estimate(specs, workflow_path=, workflow_hash=)`` gives every node
a duration ``Estimate``; the first source that has something wins:

====================  =======================================================
``history:node``      same workflow (file path or content hash), uniquename, executor
``history:type``      same node type and executor (attempts whose journalled
                      resources match the node's preferred)
``prior:declared``    the node type's ``expected_duration_s``
``prior:time-limit``  ``time_limit_fraction`` of the node's Slurm ``resources["time_limit"]``
``prior:default``     ``EtaConfig.default_duration_s``
====================  =======================================================

Statistic: durations are taken as log-normal — a decayed mean of the log
durations of the recent attempts (newest weigh most; attempts more than
``outlier_mads`` MADs and 3x from the median left out, unless that would be
a third of them), their weighted spread shrunk towards ``prior_log_sigma``
while attempts are few; the expected value is exp(mu + s²/2).

Remote executors (not ``local``) also get a queue wait (started − queued),
learned per ``queue_key`` — ``slurm:PROFILE/partition`` or
``runner:SERVER[tag,...]``, read from the job journal's ``extra``
(``partition``, ``tags``, ``resources``) — then per node, then per executor:
``history:queue``, ``history:node``, ``history:executor``, ``prior:default``.
``local`` has none: waiting for a slot is what the schedule models.

All history for a run comes from ``HistoryStore.timing_samples`` (three queries).
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

__all__ = ["EtaConfig", "Estimate", "Estimator", "NO_WAIT", "NodeEstimate", "NodeSpec", "SOURCES",
           "is_remote", "node_specs", "parse_time_limit", "queue_key", "slots_from_executors"]

#: duration sources, most trusted first ("run:type" is learned during a run, see eta.EtaTracker)
SOURCES = ("history:node", "history:type", "prior:declared", "prior:time-limit", "prior:default", "run:type")
HISTORY_SOURCES = frozenset({"history:node", "history:type"})
PRIOR_SOURCES = frozenset({"prior:declared", "prior:time-limit", "prior:default"})

Z80 = 1.2815515655446004  # the 10 % / 90 % quantiles of a normal: bands are 80 % intervals
_MIN_S = 1e-4  # durations below this are taken as this (logs of zero)
_OUTLIER_MIN_LOG = math.log(3.0)


@dataclass(frozen=True, slots=True)
class EtaConfig:
    per_node: int = 10            # recent attempts per (workflow node, executor)
    per_type: int = 30            # recent attempts per (node type, executor)
    per_executor: int = 200       # recent queue waits per executor
    half_life: float = 5.0        # an attempt weighs half as much as one this many attempts newer
    default_duration_s: float = 10.0
    default_queue_wait_s: float = 30.0  # remote executors without any history
    time_limit_fraction: float = 0.5
    prior_log_sigma: float = 0.3  # spread assumed while attempts are few ...
    prior_weight: float = 2.0     # ... worth this many attempts
    declared_log_sigma: float = 0.5
    time_limit_log_sigma: float = 0.7
    default_log_sigma: float = 1.0
    outlier_mads: float = 3.0
    floor_s: float = 0.05         # a running node needs at least max(floor_s, floor_fraction * estimate) more
    floor_fraction: float = 0.1
    speed_shrink: float = 8.0     # the in-run speed factor counts as this many nodes at 1.0
    speed_clip: float = 1.5       # |log(actual / estimate)| is clipped to this before it counts
    systematic_log_sigma: float = 0.1  # run-wide speed uncertainty in the band (shrinks as nodes finish)
    min_interval_s: float = 0.25  # EtaTracker recomputes at most this often (event time) by itself


@dataclass(frozen=True, slots=True)
class Estimate:
    """A duration (or queue wait): expected seconds, spread, where it came from, attempts behind it."""

    seconds: float
    sigma_s: float
    source: str
    samples: int = 0

    @property
    def low_s(self) -> float:
        """The 10 % quantile (durations taken as log-normal with this mean and spread)."""
        return self._quantile(-Z80)

    @property
    def high_s(self) -> float:
        """The 90 % quantile."""
        return self._quantile(Z80)

    def _quantile(self, z: float) -> float:
        m = self.seconds
        if m <= 0 or self.sigma_s <= 0:
            return max(m, 0.0)
        s2 = math.log1p((self.sigma_s / m) ** 2)
        return math.exp(math.log(m) - s2 / 2 + z * math.sqrt(s2))


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


class LogNormalFit:
    """Log-normal fit of durations given newest first: decayed mean of logs, outliers dropped."""

    def __init__(self, config: EtaConfig):
        self.c = config
        self._w = [0.5 ** (k / config.half_life) for k in range(max(config.per_type, config.per_executor,
                                                                     config.per_node) + 1)]

    def fit(self, values: Sequence[float], source: str) -> Estimate:
        c = self.c
        w = self._w
        logs = [math.log(v if v > _MIN_S else _MIN_S) for v in values[:len(w)]]
        n = len(logs)
        med = _wmedian(logs, w)
        mad = _wmedian([abs(x - med) for x in logs], w) * 1.4826
        # an outlier is far from the median in MADs — and never within 3x of it
        cut = max(c.outlier_mads * mad, _OUTLIER_MIN_LOG)
        keep = [(x, w[k]) for k, x in enumerate(logs) if abs(x - med) <= cut]
        if 3 * len(keep) < 2 * n:  # a third or more "outliers": that is the spread, not outliers
            keep = list(zip(logs, w))
        sw = sum(wk for _, wk in keep)
        mu = sum(x * wk for x, wk in keep) / sw
        m = len(keep)
        var = sum(wk * (x - mu) ** 2 for x, wk in keep) / sw * m / (m - 1) if m > 1 else 0.0
        # the observed spread, shrunk towards the prior spread while attempts are few ...
        s2 = (m * var + c.prior_weight * c.prior_log_sigma ** 2) / (m + c.prior_weight)
        # ... plus the uncertainty of the mean itself (weights make fewer attempts count)
        n_eff = sw * sw / sum(wk * wk for _, wk in keep)
        return _lognormal(mu, s2, s2 + s2 / n_eff, source, n)


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
        self._stats = LogNormalFit(self.config)

    def estimate(self, nodes: Sequence[NodeSpec], *, workflow_path: str | os.PathLike | None = None,
                 workflow_hash: str | None = None) -> list[NodeEstimate]:
        """One ``NodeEstimate`` per spec, in order. Reads the history in at most two calls (three or
        four queries): this workflow's attempts and the executors' queue waits, then — only for nodes
        this workflow's history does not cover — attempts of their node types."""
        c = self.config
        samples: dict[str, list[tuple]] = {"node": [], "type": [], "queue": []}
        remote = sorted({n.executor for n in nodes if is_remote(n.executor)})
        if self.history is not None and (workflow_path is not None or workflow_hash is not None or remote):
            samples.update(self.history.timing_samples(
                workflow_path=None if workflow_path is None else os.path.abspath(os.fspath(workflow_path)),
                workflow_hash=workflow_hash, executors=remote, per_node=c.per_node, per_executor=c.per_executor))
        by_node: dict[tuple[str, str], list[float]] = {}
        node_waits: dict[tuple[str, str], list[float]] = {}
        for node, _t, ex, d, w, _f, _x in samples["node"]:
            by_node.setdefault((node, ex), []).append(d)
            if w is not None and w >= 0:
                node_waits.setdefault((node, ex), []).append(w)
        missing = {n.node_type for n in nodes if (n.name, n.executor) not in by_node}
        if self.history is not None and missing:
            samples["type"] = self.history.timing_samples(node_types=missing, per_type=c.per_type)["type"]
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
