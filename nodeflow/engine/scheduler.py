"""The scheduler loop: the one owner of a run's state (DESIGN rule 2).

One thread runs ``Scheduler.run()``. It hands ready nodes to executors in
batches, waits on its clock until an executor calls ``notify`` (or a poll,
retry or timeout is due), polls each executor once for all its tasks, and
turns what changed into ``RunEvent``s for its observers. A node is handed
over as soon as every upstream node succeeded — not level by level.

Other threads talk to it only through ``cancel()`` (thread-safe) and by
observing events. Handing ready nodes over — as task batches, or run at once
on this thread when they are quick (``NodeType.quick``) and their executor
offers ``run_inline`` — is in ``dispatch.py``, a base class of Scheduler.

Remote executors may offer ``journal_record(handle) -> dict`` (job id, work
folder): the scheduler announces it as NODE_SUBMITTED right after submitting,
and the history journals it at once. Re-attaching to a run whose process died
passes those records back as ``attach``: such nodes are not submitted again,
their executor's ``attach(spec, record) -> handle`` takes over the job. Failure policy: ``continue`` skips only what depends on a
failed node; ``stop`` cancels everything still running and skips the rest.
"""
from __future__ import annotations

import heapq
import os
import socket
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..executors.base import CANCELLED as T_CANCELLED
from ..executors.base import FINAL as T_FINAL
from ..executors.base import RUNNING as T_RUNNING
from ..executors.base import SUCCEEDED as T_SUCCEEDED
from ..executors.base import Executor, TaskStatus
from ..library import CommandResult, NodeError
from ..model.gcpause import quiet_gc
from .clock import SystemClock
from .dispatch import Dispatching
from .events import _NO_DATA, EventKind, RunEvent, RunObserver, wanted_kinds
from .plan import RunPlan
from .results import NodeResult, NodeResults, RunResult
from .runfolders import new_run_id, node_dirname
from .states import FINAL_NODE_STATES, NodeRun, NodeState, RunState, StateCounts

__all__ = ["NodeRun", "Scheduler", "NodeResult", "RunResult", "new_run_id", "node_dirname"]

PROGRESS_INTERVAL_S = 0.1

_FINAL = FINAL_NODE_STATES
_PENDING, _QUEUED, _RUNNING, _SUCCEEDED = NodeState.PENDING, NodeState.QUEUED, NodeState.RUNNING, NodeState.SUCCEEDED
_NODE_QUEUED, _NODE_STARTED, _NODE_SUCCEEDED = EventKind.NODE_QUEUED, EventKind.NODE_STARTED, EventKind.NODE_SUCCEEDED
_new_event = tuple.__new__  # RunEvent(...) goes through a Python-level __new__; events are made per node


class Scheduler(Dispatching):
    def __init__(self, plan: RunPlan, executors: Mapping[str, Executor], *,
                 observers: Iterable[RunObserver] = (), clock=None, failure_policy: str | None = None,
                 default_executor: str | None = None, run_id: str | None = None,
                 runs_dir: str | os.PathLike | None = None, reuse: Mapping[str, tuple[str, dict]] | None = None,
                 parent_run_id: str | None = None, workflow_path: str | None = None,
                 params: Mapping[str, Any] | None = None, record_hashes: bool = True,
                 attach: Mapping[str, Mapping[str, Any]] | None = None, defer_workflow_hash: bool = False):
        self.plan = plan
        self.executors = dict(executors)
        self.observers = list(observers)
        self.clock = clock or SystemClock()
        self.failure_policy = failure_policy or plan.settings.failure_policy
        if self.failure_policy not in ("continue", "stop"):
            raise ValueError(f"failure policy must be 'continue' or 'stop', not {self.failure_policy!r}")
        self.default_executor = default_executor or plan.settings.executor
        self.run_id = run_id or new_run_id()
        self.run_dir = Path(runs_dir) / self.run_id if runs_dir is not None else None
        self._run_dir_str = str(self.run_dir) if self.run_dir is not None else None
        #: fingerprint every node's inputs (for a later rerun-failed); off when nothing records them
        self.record_hashes = record_hashes or bool(reuse)
        #: RUN_STARTED hands the workflow hash's entries to an observer (the history) that makes it,
        #: instead of the hash, unless the plan knows it already
        self.defer_workflow_hash = defer_workflow_hash
        self.reuse = dict(reuse or {})
        #: node → journaled job of an earlier process of this same run (re-attach)
        self.attach = dict(attach or {})
        self.parent_run_id = parent_run_id
        wp = workflow_path or plan.workflow.source_path
        self.workflow_path = os.path.abspath(wp) if wp else None
        self.params = dict(params or {})
        self._base_dir = str(Path(self.workflow_path).resolve().parent) if self.workflow_path else None
        self.host = socket.gethostname()

        self._wake = threading.Event()
        self._cancel_requested = False
        self._lock = threading.Lock()
        self._runs: dict[str, NodeRun] = {}
        self._results: dict[str, dict[str, Any]] = {}
        self._ready: deque[str] = deque()
        self._roots: list[str] = []  # nodes that wait for nobody (set up by _setup)
        self._deferred: dict[str, deque[str]] = {}
        self._retry_heap: list[tuple[float, str]] = []
        self._live: dict[str, dict[Any, str]] = {name: {} for name in self.executors}
        self._unfinished = 0
        self._stopping: str | None = None  # None, "stop" (failure policy) or "cancel"
        self._timed_out: set[str] = set()
        self._deadlines: dict[str, float] = {}  # running nodes with a timeout → monotonic deadline
        self._counts = StateCounts()
        self._last_progress = 0.0
        self._progress_dirty = False
        #: whether some observer looks at NODE_QUEUED / NODE_STARTED (asked after RUN_STARTED)
        self._emit_queued = self._emit_started = True

    # -- public -------------------------------------------------------------
    def cancel(self) -> None:
        """Ask the run to stop: running nodes are killed, the rest skipped. Any thread."""
        with self._lock:
            self._cancel_requested = True
        self._wake.set()

    def notify(self) -> None:
        """Executors call this (any thread) when they have something to report."""
        self._wake.set()

    def run(self) -> RunResult:
        # the plan's objects live for the whole run: keep the cyclic GC from walking them over and
        # over (15-25 % of a 10,000-node run), nor the records the run makes, a dozen small objects
        # per node (a young collection took 5-25 ms at 10,000 nodes), see model.gcpause
        with quiet_gc(max(20_000, 40 * len(self.plan.nodes))):
            return self._run()

    def _run(self) -> RunResult:
        clock = self.clock
        started = clock.time()
        for ex in self.executors.values():
            # the Event's own ``set``, not a method of this scheduler: an executor holding it does not
            # keep the scheduler (and the whole run's state) alive in a cycle only the cyclic GC frees
            ex.start(self._wake.set)
        self._setup()
        plan = self.plan
        data = {
            "total": len(self._runs), "workflow_path": self.workflow_path, "workflow_hash": None,
            "workflow_name": Path(self.workflow_path).name if self.workflow_path else None,
            "executor": self.default_executor, "host": self.host, "nodes": list(plan.order),
            "parent_run_id": self.parent_run_id, "params": self.params,
            "run_dir": str(self.run_dir) if self.run_dir else None, "attempt_records": True}
        if self.defer_workflow_hash and not plan.workflow_hash_known:
            data["hash_entries"] = plan.hash_entries()
        else:
            data["workflow_hash"] = plan.workflow_hash
        self._emit(EventKind.RUN_STARTED, data=data)
        wanted = wanted_kinds(self.observers, self.run_id)
        self._emit_queued, self._emit_started = _NODE_QUEUED in wanted, _NODE_STARTED in wanted
        for name, reason in self.plan.skipped.items():
            if name in self._runs:
                self._skip(name, reason)
        runs = self._runs
        self._ready.extend(n for n in self._roots if runs[n].state is _PENDING)  # (unless skipped)
        try:
            while True:
                self._dispatch()
                if self._unfinished == 0:
                    break
                self._maybe_progress()
                timeout = self._next_timeout()
                if timeout is None and not any(self._live.values()) and not self._ready:
                    self._deadlock()
                    continue
                if timeout is None or timeout > 0:
                    clock.wait(self._wake, timeout)
                self._wake.clear()
                self._honour_cancel()
                self._poll()
                self._check_deadlines()
        finally:
            for ex_name, live in self._live.items():
                if live:  # an exception left tasks behind: do not leave processes running
                    self.executors[ex_name].cancel(list(live))
        finished = clock.time()
        state = self._run_state()
        self._emit_progress()
        self._emit(EventKind.RUN_FINISHED, data={"state": state.value, "counts": self._counts.as_dict()})
        nodes = NodeResults(self._runs)
        return RunResult(self.run_id, state, nodes, str(self.run_dir) if self.run_dir else None, started, finished)

    # -- setup --------------------------------------------------------------
    def _setup(self) -> None:
        plan = self.plan
        self._results.update(plan.external_outputs())
        external, default, runs = plan.external, self.default_executor, self._runs
        pending = _PENDING
        roots = self._roots = []  # in plan order: the first ready ones
        for name, pn in plan.nodes.items():  # plan.nodes is in plan order
            waiting = sum(1 for u in pn.upstream if u not in external) if external else len(pn.upstream)
            runs[name] = NodeRun(pending, 0, waiting, pn.settings.executor or default)  # positional: cheaper
            if not waiting:
                roots.append(name)
        self._unfinished = len(self._runs)
        self._counts[NodeState.PENDING] = len(self._runs)

    # -- events -------------------------------------------------------------
    def _emit(self, kind: EventKind, node: str | None = None, attempt: int = 0, data=None,
              time: float | None = None) -> None:
        ev = _new_event(RunEvent, (kind, self.run_id, self.clock.time() if time is None else time, node, attempt,
                                   _NO_DATA if data is None else data))
        for o in self.observers:
            o.on_event(ev)

    def _set_state(self, nr: NodeRun, state: NodeState) -> None:
        self._counts[nr.state] -= 1
        self._counts[state] += 1
        nr.state = state
        self._progress_dirty = True

    def _maybe_progress(self) -> None:
        if self._progress_dirty and self.clock.monotonic() - self._last_progress >= PROGRESS_INTERVAL_S:
            self._emit_progress()

    def _emit_progress(self) -> None:
        self._emit(EventKind.RUN_PROGRESS, data=self._counts.progress(len(self._runs)))
        self._last_progress = self.clock.monotonic()
        self._progress_dirty = False

    # -- polling ------------------------------------------------------------
    def _poll(self) -> None:
        for ex_name, live in self._live.items():
            if not live:
                continue
            statuses = self.executors[ex_name].poll(live.keys())
            for handle, st in statuses.items():
                name = live.get(handle)
                if name is None:
                    continue
                if st.state in T_FINAL:
                    del live[handle]
                self._on_status(name, handle, st)

    def _on_status(self, name: str, handle: Any, st: TaskStatus) -> None:
        nr = self._runs[name]
        if nr.handle is not handle and nr.handle != handle:
            return  # a stale report from an earlier attempt
        if nr.state in _FINAL:
            return
        tstate = st.state
        if tstate == T_SUCCEEDED and not st.new_log:
            res = st.result
            pn = self.plan.nodes[name]
            if (res is not None and not res.log and not pn.in_subprocess and not pn.settings.generator
                    and not self._timed_out):
                self._succeeded_in_process(name, nr, st, res.outputs)
                return
        final = tstate in T_FINAL
        if not nr.started_emitted and (tstate == T_RUNNING or (final and st.started_at is not None)):
            self._mark_started(name, nr, st)
        if st.new_log:
            for stream, line in st.new_log:
                self._emit(EventKind.NODE_LOG, name, nr.attempt, {"stream": stream, "line": line})
        if not final:
            return
        nr.handle = None
        self._deadlines.pop(name, None)
        res = st.result
        if res is not None:
            if res.log:
                for stream, line in res.log:
                    self._emit(EventKind.NODE_LOG, name, nr.attempt, {"stream": stream, "line": line})
            nr.exit_code = res.exit_code
        if self._timed_out and name in self._timed_out:
            self._timed_out.discard(name)
            self._fail(name, f"timed out after {self.plan.nodes[name].settings.timeout_s:g} s", reason="timeout")
            return
        if st.state == T_CANCELLED:
            self._finish(name, NodeState.CANCELLED, reason=st.reason or "cancelled",
                         error="cancelled" if self._stopping == "cancel" else f"cancelled ({st.reason or 'stop'})")
            return
        pn = self.plan.nodes[name]
        if pn.type.kind == "command" and res is not None and res.outputs.get("exitcode") is not None:
            out = res.outputs
            try:
                outputs = pn.type.collect(CommandResult(int(out["exitcode"]), out.get("stdout", ""),
                                                        out.get("stderr", "")), nr.inputs or {})
            except NodeError as e:
                self._fail(name, str(e), reason=st.reason or "exit", exit_code=res.exit_code)
                return
            except Exception as e:
                self._fail(name, f"{type(e).__name__}: {e}", reason="collect", exit_code=res.exit_code)
                return
            nr.inputs = None
            self._succeed_or_generate(name, outputs)
        elif st.state == T_SUCCEEDED and res is not None:
            self._succeed_or_generate(name, res.outputs)
        else:
            err = (res.error if res is not None else None) or f"failed ({st.reason or 'unknown reason'})"
            self._fail(name, err, reason=st.reason or "error", exit_code=res.exit_code if res else None)

    def _succeeded_in_process(self, name: str, nr: NodeRun, st: TaskStatus, outputs: dict[str, Any]) -> None:
        """The usual end of an in-process node, in one step: started (if not reported yet) and
        succeeded: the same state changes and events as the general path of _on_status."""
        nr.handle = None
        self._mark_started(name, nr, st)  # (unless reported already) a timeout it arms, _succeed drops
        nr.exit_code = st.result.exit_code
        self._succeed(name, outputs)

    def _mark_started(self, name: str, nr: NodeRun, st: TaskStatus) -> None:
        if nr.started_emitted:
            return
        nr.started_emitted = True
        nr.started_at = st.started_at or self.clock.time()
        host = nr.host = st.host or self.host
        nr.job_id = st.job_id
        self._set_state(nr, _RUNNING)
        timeout = self.plan.nodes[name].settings.timeout_s
        if timeout is not None:
            self._deadlines[name] = self.clock.monotonic() + timeout
        if self._emit_started:
            self._emit(_NODE_STARTED, name, nr.attempt, {"executor": nr.executor, "host": host,
                                                         "job_id": st.job_id}, time=nr.started_at)

    # -- outcomes -----------------------------------------------------------
    def _attempt_record(self, name: str, nr: NodeRun) -> dict[str, Any]:
        """The attempt a final event (succeeded, failed, retrying, skipped) closes, whole, so that the
        history can write its row from that one event (RUN_STARTED's ``attempt_records``)."""
        return {"node_type": self.plan.nodes[name].type_name, "executor": nr.executor, "queued_at": nr.queued_at,
                "started_at": nr.started_at, "host": nr.host, "job_id": nr.job_id}

    def _log_paths(self, name: str) -> dict[str, str | None]:
        """Where a subprocess node's output went (in-process nodes have no log files)."""
        pn = self.plan.nodes[name]
        if self._run_dir_str is None or not pn.in_subprocess:
            return {}
        d = f"{self._run_dir_str}{os.sep}{node_dirname(name)}{os.sep}"
        return {"stdout_path": d + "stdout.txt", "stderr_path": d + "stderr.txt"}

    def _succeed_or_generate(self, name: str, outputs: dict[str, Any]) -> None:
        pn = self.plan.nodes[name]
        if pn.settings.generator:
            from .generators import GeneratorError, generator_json, parse_additions

            try:
                data = generator_json(pn.type.kind, outputs)
                started = {n for n, r in self._runs.items() if r.state != NodeState.PENDING}
                adds = parse_additions(data, self.plan.workflow, self.plan.registry, self.params, started)
                self._grow(name, adds)
            except GeneratorError as e:
                self._fail(name, f"generator: {e}; nothing was added", reason="generator", retry=False)
                return
        self._succeed(name, outputs)

    def _grow(self, by: str, adds) -> None:
        """Add a generator's nodes to the running plan (already validated)."""
        from .generators import additions_event_data, replan_with

        if not adds.nodes and not adds.connections:
            return
        plan = self.plan = replan_with(self.plan, adds)
        # the generator itself is not counted done: _succeed() releases its downstream right after
        done = {n for n, r in self._runs.items() if r.state == NodeState.SUCCEEDED}
        for n in adds.nodes:
            self._runs[n] = NodeRun(executor=plan.nodes[n].settings.executor or self.default_executor)
            self._counts[NodeState.PENDING] += 1
            self._unfinished += 1
        for n, pn in plan.nodes.items():
            nr = self._runs[n]
            if nr.state == NodeState.PENDING:
                nr.waiting = sum(1 for u in pn.upstream if u not in done and u not in plan.external)
        for n in adds.nodes:
            if self._runs[n].waiting == 0:
                self._ready.append(n)
        self._emit(EventKind.NODES_ADDED, by, self._runs[by].attempt, additions_event_data(by, adds))

    def _succeed(self, name: str, outputs: dict[str, Any]) -> None:
        nr = self._runs[name]
        nr.outputs = outputs
        self._results[name] = outputs
        now = self._finish(name, _SUCCEEDED)
        pn = self.plan.nodes[name]
        observers = self.observers
        if observers:  # the attempt record spelled out (see _attempt_record), the event made here: per node
            data = {"outputs": outputs, "reused": nr.reused, "exit_code": nr.exit_code,
                    "input_hash": nr.input_hash, "hash_inputs": nr.hash_inputs, "node_type": pn.type_name,
                    "executor": nr.executor, "queued_at": nr.queued_at, "started_at": nr.started_at,
                    "host": nr.host, "job_id": nr.job_id}
            if pn.in_subprocess and not nr.reused:
                data.update(self._log_paths(name))
            ev = _new_event(RunEvent, (_NODE_SUCCEEDED, self.run_id, now, name, nr.attempt, data))
            for o in observers:
                o.on_event(ev)
            nr.hash_inputs = None  # handed over (RunResult.nodes keeps the records, not this)
        runs, ready = self._runs, self._ready
        for d in pn.downstream:
            dr = runs[d]
            dr.waiting -= 1
            if dr.waiting == 0 and dr.state is _PENDING:
                ready.append(d)

    def _fail(self, name: str, error: str, *, reason: str = "error", exit_code: int | None = None,
              retry: bool = True) -> None:
        nr = self._runs[name]
        settings = self.plan.nodes[name].settings
        if retry and not self._stopping and nr.attempt <= settings.max_retries:
            delay = settings.retry_interval_s
            self._emit(EventKind.NODE_RETRYING, name, nr.attempt, {
                "error": error, "reason": reason, "exit_code": exit_code, "delay_s": delay,
                "next_attempt": nr.attempt + 1, **self._log_paths(name), **self._attempt_record(name, nr)})
            self._set_state(nr, NodeState.QUEUED)
            nr.started_emitted = False
            heapq.heappush(self._retry_heap, (self.clock.monotonic() + delay, name))
            return
        nr.exit_code = exit_code
        self._finish(name, NodeState.FAILED, error=error, reason=reason)
        self._emit(EventKind.NODE_FAILED, name, nr.attempt, {
            "error": error, "reason": reason, "exit_code": exit_code, **self._log_paths(name),
            **self._attempt_record(name, nr)})
        if self.failure_policy == "stop":
            self._stop("stop", cause=name)
        else:
            for d in sorted(self.plan.adjacency.descendants(name)):
                dr = self._runs.get(d)
                if dr is not None and dr.state == NodeState.PENDING:
                    self._skip(d, f"upstream node {name!r} failed")

    def _skip(self, name: str, reason: str) -> None:
        nr = self._runs[name]
        self._finish(name, NodeState.SKIPPED, reason=reason)
        self._emit(EventKind.NODE_SKIPPED, name, nr.attempt, {"reason": reason, **self._attempt_record(name, nr)})

    def _finish(self, name: str, state: NodeState, *, error: str | None = None,
                reason: str | None = None) -> float:
        """Put the node in its final ``state``; returns the time it finished."""
        nr = self._runs[name]
        counts = self._counts  # _set_state, spelled out: once per node
        counts[nr.state] -= 1
        counts[state] += 1
        nr.state = state
        self._progress_dirty = True
        nr.error = error if error is not None else (reason if state == NodeState.SKIPPED else None)
        nr.reason = reason
        now = nr.finished_at = self.clock.time()
        if self._deadlines:
            self._deadlines.pop(name, None)
        self._unfinished -= 1
        if state == NodeState.CANCELLED:
            self._emit(EventKind.NODE_FAILED, name, nr.attempt, {"error": error or "cancelled",
                                                                 "reason": "cancelled", **self._log_paths(name),
                                                                 **self._attempt_record(name, nr)})
        return now

    def _honour_cancel(self) -> None:
        """Stop the run if ``cancel()`` was asked for and it is not stopped for that already."""
        if self._cancel_requested and self._stopping != "cancel":
            self._stop("cancel")

    def _stop(self, mode: str, cause: str | None = None) -> None:
        """Failure policy ``stop`` or a cancel: kill what runs, skip what waits."""
        if self._stopping == "cancel" or self._stopping == mode:
            return
        self._stopping = mode
        why = "the run was cancelled" if mode == "cancel" else f"the run stopped because {cause!r} failed"
        for name, nr in self._runs.items():
            if nr.state == NodeState.PENDING or (nr.state == NodeState.QUEUED and nr.handle is None):
                self._skip(name, why)
        self._retry_heap.clear()
        self._ready.clear()
        self._deferred.clear()
        for ex_name, live in self._live.items():
            if live:
                self.executors[ex_name].cancel(list(live))

    def _check_deadlines(self) -> None:
        if not self._deadlines:
            return
        now = self.clock.monotonic()
        for name, deadline in list(self._deadlines.items()):
            nr = self._runs[name]
            if deadline <= now and nr.handle is not None and name not in self._timed_out:
                self._timed_out.add(name)
                self.executors[nr.executor].cancel([nr.handle])

    def _next_timeout(self) -> float | None:
        now = self.clock.monotonic()
        t: float | None = None
        if self._retry_heap:
            t = max(0.0, self._retry_heap[0][0] - now)
        for ex_name, live in self._live.items():
            if live:
                iv = self.executors[ex_name].poll_interval()
                if iv:
                    t = iv if t is None else min(t, iv)
        for name, deadline in self._deadlines.items():
            if name not in self._timed_out:
                d = max(0.0, deadline - now)
                t = d if t is None else min(t, d)
        if self._progress_dirty:
            t = PROGRESS_INTERVAL_S if t is None else min(t, PROGRESS_INTERVAL_S)
        return t

    def _deadlock(self) -> None:
        for name, nr in self._runs.items():
            if not nr.state.final:
                self._skip(name, "could not be scheduled (its upstream nodes never finished)")

    def _run_state(self) -> RunState:
        if self._stopping == "cancel":
            return RunState.CANCELLED
        return RunState.FAILED if self._counts.any_bad() else RunState.SUCCEEDED
