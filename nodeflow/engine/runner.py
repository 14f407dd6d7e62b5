"""Running a workflow in one call: plan, executors, history, scheduler.

``run_workflow`` is what the CLI, the GUI's RunController and the server use.
It owns the executors it creates (and closes them); executors passed in stay
the caller's. With a history store, the run is recorded and ``rerun_failed``
reuses the outputs of nodes that succeeded in that earlier run when their
inputs are unchanged.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from ..model import Workflow
from .plan import RunPlan
from .scheduler import RunResult, Scheduler


def build_plan(workflow: Workflow, registry, *, params: Mapping[str, Any] | None = None,
               skip_unknown: bool = False, only: Iterable[str] | None = None) -> tuple[RunPlan, dict[str, Any]]:
    """Prepare (inline sub-workflows, expand parameters) and plan. Raises PlanError."""
    from .prepare import prepare

    prepared, parameters = prepare(workflow, registry=registry, params=params)
    return RunPlan.build(prepared, registry, skip_unknown=skip_unknown, only=only), parameters


def run_workflow(workflow: Workflow, *, registry=None, executors: Mapping[str, Any] | None = None,
                 jobs: int | None = None, observers: Iterable = (), failure_policy: str | None = None,
                 runs_dir: str | os.PathLike | None = None, history=None, skip_unknown: bool = False,
                 rerun_failed: str | None = None, only: Iterable[str] | None = None, clock=None,
                 run_id: str | None = None, default_executor: str | None = None,
                 on_scheduler=None, plan: RunPlan | None = None, attach: str | None = None,
                 params: Mapping[str, Any] | None = None) -> RunResult:
    """Run ``workflow`` to the end and return its result (blocking).

    ``on_scheduler(scheduler)`` is called before the run starts, so another
    thread can keep it to call ``cancel()``.

    ``attach=RUN_ID`` finishes a run whose process died: same run id; nodes
    that succeeded are reused, journaled remote jobs are taken over (never
    submitted twice), the rest runs.
    """
    from ..library import default_registry
    from .. import appdirs

    registry = registry if registry is not None else default_registry()
    if plan is None:
        plan, params = build_plan(workflow, registry, params=params, skip_unknown=skip_unknown, only=only)
    owned = []
    if executors is None:
        from ..executors.factory import executor_names, make_executors

        default = default_executor or plan.settings.executor
        executors = make_executors(executor_names(plan, default), registry=registry,
                                   jobs=jobs or plan.settings.jobs)
        owned = list(executors.values())
    observers = list(observers)
    recorder = None
    reuse = None
    attach_records = None
    if attach:
        if history is None:
            raise ValueError("re-attaching needs the run history")
        if history.run(attach) is None:
            raise ValueError(f"no run {attach!r} in the history")
        run_id = attach
        reuse = history.reusable_outputs(attach)
        attach_records = {}
        for job in history.jobs(attach):  # the latest attempt of each node wins
            prev = attach_records.get(job["node"])
            if job["node"] not in reuse and (prev is None or job["attempt"] > prev["attempt"]):
                attach_records[job["node"]] = job
    if history is not None:
        from ..history import HistoryRecorder

        recorder = HistoryRecorder(history, background=True)
        observers.insert(0, recorder)
        if rerun_failed and not attach:
            if history.run(rerun_failed) is None:
                raise ValueError(f"no run {rerun_failed!r} in the history")
            reuse = history.reusable_outputs(rerun_failed)
    elif rerun_failed:
        raise ValueError("rerun-failed needs the run history")
    sched = Scheduler(plan, executors, observers=observers, clock=clock, failure_policy=failure_policy,
                      default_executor=default_executor, run_id=run_id,
                      runs_dir=runs_dir if runs_dir is not None else appdirs.runs_dir(), reuse=reuse,
                      parent_run_id=rerun_failed, record_hashes=history is not None, attach=attach_records,
                      # a big run's history makes the workflow hash in its writer process
                      defer_workflow_hash=recorder is not None and recorder.makes_workflow_hash(len(plan.nodes)),
                      params=params)
    if on_scheduler is not None:
        on_scheduler(sched)
    try:
        return sched.run()
    finally:
        if recorder is not None:
            recorder.close()
        for ex in owned:
            ex.close()
