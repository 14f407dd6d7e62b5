"""``nodeflow run FILE``: run a workflow headless.

Exit 0 when every node succeeded, 1 when any failed (or the file could not be
read), 2 when the workflow is invalid (validation errors printed, nothing
run). ``--results`` writes run id, state and every node's state, outputs and
error as JSON; ``--save-to`` writes the workflow with computed values in the
output terminals, as Nodeworks does. Ctrl-C cancels the run cleanly.
"""
from __future__ import annotations

import json
import signal
import sys
import threading

from .common import exit_code_on_failure, load_workflow, plan_workflow


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="run a workflow without the editor")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--jobs", "-j", type=int, default=None, help="nodes run at once on this machine (default: cores)")
    p.add_argument("--executor", "-e", metavar="NAME", default=None,
                   help="default executor for nodes that name none: local, slurm:PROFILE or runner:SERVER "
                        "(default: the workflow's setting, else the config's)")
    p.add_argument("--failure-policy", choices=("continue", "stop"), default=None,
                   help="continue: skip only what depends on a failure (default); stop: cancel everything")
    p.add_argument("--results", metavar="OUT.json", help="write every node's state, outputs and error as JSON")
    p.add_argument("--save-to", metavar="OUT.nc", help="write the workflow with computed values stored in it")
    p.add_argument("-p", "--param", action="append", metavar="NAME=VALUE", default=[],
                   help="set a workflow parameter used as {{NAME}} (NAME=a,b,c expands nodes over a list)")
    p.add_argument("--skip-unknown", action="store_true",
                   help="skip nodes of unknown types (and what depends on them) instead of refusing to run")
    p.add_argument("--rerun-failed", metavar="RUN_ID",
                   help="reuse the outputs of nodes that succeeded in RUN_ID when their inputs are unchanged")
    p.add_argument("--attach", metavar="RUN_ID",
                   help="finish RUN_ID after its process died: re-attach to its journaled Slurm jobs (nothing is "
                        "submitted twice), reuse what succeeded, run the rest (same run id)")
    p.add_argument("--history", metavar="PATH", help="run history database (default: in the user data dir)")
    p.add_argument("--no-history", action="store_true", help="do not record this run")
    p.add_argument("--runs-dir", metavar="DIR", help="where run folders (logs, files) go")
    p.add_argument("--plain", action="store_true", help="plain progress lines even on a terminal")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    p.set_defaults(handler=run)


@exit_code_on_failure
def run(args) -> int:
    from .. import appdirs
    from ..engine import run_workflow
    from ..library import default_registry
    from ..model import save
    from .progress import ConsoleProgress

    wf = load_workflow(args.file)
    registry = default_registry()
    for problem in registry.problems:
        print(f"warning: {problem}", file=sys.stderr)
    plan, params = plan_workflow(args.file, wf, registry, args.param, skip_unknown=args.skip_unknown)

    from ..config import ConfigError, load_config
    from ..executors.factory import ExecutorConfigError, executor_names, make_executors

    try:
        config = load_config()
        default = args.executor or _attached_executor(args) \
            or (plan.settings.executor if plan.settings.executor != "local" else None) \
            or config.app.default_executor
        executors = make_executors(executor_names(plan, default), config=config, registry=registry,
                                   jobs=args.jobs or plan.settings.jobs)
    except (ConfigError, ExecutorConfigError) as e:
        print(f"{args.file}: {e}", file=sys.stderr)
        return 2

    history = None
    if not args.no_history:
        from ..history.store import HistoryStore

        history = HistoryStore(args.history or appdirs.history_path())
    tracker = None if args.quiet else _eta_tracker(args, plan, history, default, executors)
    observers = [] if args.quiet else [ConsoleProgress(force_plain=args.plain, eta=tracker)]
    if tracker is not None:
        observers.insert(0, tracker)  # before the display that reads it
    holder: dict = {}
    interrupted = threading.Event()

    def on_sigint(signum, frame):
        if interrupted.is_set():
            raise KeyboardInterrupt
        interrupted.set()
        print("\ncancelling (Ctrl-C again to abort at once)…", file=sys.stderr)
        if "s" in holder:
            holder["s"].cancel()

    old = signal.signal(signal.SIGINT, on_sigint) if threading.current_thread() is threading.main_thread() else None
    try:
        result = run_workflow(wf, registry=registry, plan=plan, params=params, executors=executors,
                              default_executor=default,
                              observers=observers,
                              failure_policy=args.failure_policy, history=history,
                              runs_dir=args.runs_dir or appdirs.runs_dir(), rerun_failed=args.rerun_failed,
                              attach=args.attach, on_scheduler=lambda s: holder.__setitem__("s", s))
    except ValueError as e:  # e.g. an unknown --rerun-failed run id
        print(f"{args.file}: {e}", file=sys.stderr)
        return 2
    finally:
        if old is not None:
            signal.signal(signal.SIGINT, old)
        for o in observers:
            if hasattr(o, "close"):
                o.close()
        if history is not None:
            history.close()
        for ex in executors.values():
            ex.close()

    if args.results:
        from ..model.fileio import atomic_write_text
        from ..model.values import json_default

        atomic_write_text(args.results, json.dumps(result.to_json(), indent=2, default=json_default) + "\n")
    if args.save_to:
        result.apply_outputs(wf)
        save(wf, args.save_to)
    if not args.quiet and result.run_dir:
        print(f"run folder: {result.run_dir}", file=sys.stderr)
    return 0 if result.state.value == "succeeded" else 1


def _attached_executor(args) -> str | None:
    """``--attach RUN_ID`` without ``--executor``: the default executor that run was started with."""
    if not getattr(args, "attach", None) or args.no_history:
        return None
    from .. import appdirs
    from ..history.store import HistoryStore

    with HistoryStore(args.history or appdirs.history_path()) as store:
        row = store.run(args.attach)
    return row.get("executor") if row else None


def _eta_tracker(args, plan, history, default, executors):
    """The ETA of the progress line, from the run history (read even with --no-history when it exists);
    None if it can't be made — the ETA never stops a run."""
    import os

    from .. import appdirs
    from ..history.eta import EtaTracker, slots_from_executors

    store = history
    try:
        if store is None:
            path = args.history or appdirs.history_path()
            if os.path.isfile(path):
                from ..history.store import HistoryStore

                store = HistoryStore(path)
        try:
            return EtaTracker.for_plan(plan, store, default_executor=default, slots=slots_from_executors(executors),
                                       workflow_path=args.file, workflow_hash=plan.workflow_hash)
        finally:
            if store is not None and store is not history:
                store.close()
    except Exception as e:
        print(f"warning: no ETA for this run: {e}", file=sys.stderr)
        return None
