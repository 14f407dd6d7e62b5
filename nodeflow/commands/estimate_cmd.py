"""``nodeflow estimate FILE [--executor X] [--jobs N] [--history PATH] [-p NAME=VALUE]``: how long a run would take.

Nothing runs. From the run history (``history.eta``): the expected duration
of a whole run with its 80 % band, where the node estimates come from, and
the critical path — the longest chain of dependent nodes, each with its
estimate and source. Exit 0; 1 when the file can't be read; 2 when the
workflow is invalid or the executor unknown.
"""
from __future__ import annotations

import os
import sys


from .common import exit_code_on_failure, load_workflow, plan_workflow

def add_parser(sub) -> None:
    p = sub.add_parser("estimate", help="expected duration and critical path of a workflow, from earlier runs",
                       description="Estimate how long running FILE would take, from the run history, "
                                   "without running it.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--executor", "-e", metavar="NAME", default=None,
                   help="default executor for nodes that name none: local, slurm:PROFILE or runner:SERVER "
                        "(default: the workflow's setting, else the config's)")
    p.add_argument("--jobs", "-j", type=int, default=None,
                   help="nodes run at once on this machine (default: the workflow's setting, else the cores)")
    p.add_argument("--history", metavar="PATH", help="run history database (default: in the user data dir)")
    p.add_argument("-p", "--param", action="append", metavar="NAME=VALUE", default=[],
                   help="a workflow parameter, as for `nodeflow run`")
    p.set_defaults(handler=run)


@exit_code_on_failure
def run(args) -> int:
    from .. import appdirs
    from ..history.eta import EtaTracker
    from ..library import default_registry

    wf = load_workflow(args.file)
    registry = default_registry()
    # the plan `nodeflow run` would make: sub-workflows inlined, parameters expanded
    plan, _params = plan_workflow(args.file, wf, registry, args.param, skip_unknown=True)
    try:
        default, slots = _executors(args, plan)
    except ValueError as e:
        print(f"{args.file}: {e}", file=sys.stderr)
        return 2

    path = args.history or appdirs.history_path()
    store = None
    if os.path.isfile(path):
        from ..history.store import HistoryError, HistoryStore

        try:
            store = HistoryStore(path)
        except (HistoryError, OSError) as e:
            print(f"warning: {path}: cannot read the run history ({e}); using priors only", file=sys.stderr)
    else:
        print(f"no run history at {path}: using priors only", file=sys.stderr)
    try:
        tracker = EtaTracker.for_plan(plan, store, default_executor=default, slots=slots,
                                      workflow_path=args.file, workflow_hash=plan.workflow_hash, auto=False)
    finally:
        if store is not None:
            store.close()
    now = 0.0
    fc = tracker.recompute(now)
    path_nodes, path_s = tracker.critical_path()

    print(f"{os.path.basename(args.file)}: {len(plan.order)} nodes, default executor {default}, "
          + ", ".join(f"{name} {'unlimited' if k is None else k} at once" for name, k in _slot_list(tracker)))
    if plan.skipped:
        print(f"  {len(plan.skipped)} node(s) of unknown types would be skipped")
    generators = [n for n, pn in plan.nodes.items() if getattr(pn.settings, "generator", False)]
    if generators:
        print(f"  generator node(s) {', '.join(generators)} may add nodes while running: not counted here")
    print(f"expected duration: {_dur(fc.eta - now)}  "
          f"(80 % band {_dur(fc.eta_low - now)} – {_dur(fc.eta_high - now)})")
    counts = fc.source_counts()
    print("estimates from: " + ", ".join(f"{src} {n}" for src, n in sorted(counts.items(), key=lambda x: -x[1])))
    if fc.mostly_priors():
        print("  (most of the work has no history behind it: run the workflow once for a real estimate)")
    print()
    print(f"critical path ({len(path_nodes)} nodes, {_dur(path_s)} with no limit on nodes at once):")
    rows = []
    for name in path_nodes:
        nf = fc.node(name)
        pn = plan.nodes[name]
        e = nf.estimate
        queue = "" if nf.queue.source == "none" else f"{_dur(nf.queue.seconds)} ({nf.queue.source})"
        rows.append([name, pn.type_name, pn.settings.executor or default, _dur(e.seconds),
                     f"{_dur(e.low_s)} – {_dur(e.high_s)}", e.source, str(e.samples) if e.samples else "-", queue])
    _table(["NODE", "TYPE", "EXECUTOR", "ESTIMATE", "80 % RANGE", "SOURCE", "RUNS", "QUEUE WAIT"], rows,
           right={3, 6})
    return 0


def _executors(args, plan) -> tuple[str, dict[str, int | None]]:
    """The default executor and the slots of each executor the plan would use (no executor is made)."""
    from ..config import ConfigError, load_config
    from ..executors.factory import executor_names, split_name

    try:
        config = load_config()
    except ConfigError as e:
        raise ValueError(str(e)) from None
    default = args.executor or (plan.settings.executor if plan.settings.executor != "local" else None) \
        or config.app.default_executor
    slots: dict[str, int | None] = {}
    for name in executor_names(plan, default):
        kind, arg = split_name(name)
        if kind == "local":
            slots[name] = args.jobs or plan.settings.jobs or os.cpu_count() or 1  # as `nodeflow run` does
        elif kind == "slurm":
            prof = config.slurm.get(arg or "")
            if prof is None:
                raise ValueError(f"no Slurm profile {arg!r} in {config.path}")
            slots[name] = prof.get("max_in_flight")  # None: the cluster's queue is the limit
        elif kind == "runner":
            if (arg or "") not in config.server:
                raise ValueError(f"no server {arg!r} in {config.path}")
            slots[name] = config.server[arg].get("max_in_flight")
        else:
            raise ValueError(f"unknown executor {name!r} (use local, slurm:PROFILE or runner:SERVER)")
    return default, slots


def _slot_list(tracker):
    m = tracker.model
    return [(name, m.slots_of(name)) for name in m.executor_names]


def _dur(s: float) -> str:
    s = max(0.0, s)
    if s < 10:
        return f"{s:.2f}s" if s < 1 else f"{s:.1f}s"
    if s < 60:
        return f"{s:.0f}s"
    m, sec = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m}m {sec:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m"


def _table(header, rows, right=frozenset()) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]

    def line(cells):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    print(line(header))
    for r in rows:
        print(line(r))
