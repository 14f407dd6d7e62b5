"""Handing ready nodes over: part of the ``Scheduler`` (a base class of it, split out for size:
the same object and the same single owner of run state, on the scheduler's thread).

``_dispatch`` takes the ready nodes in turn: each begins an attempt (inputs
gathered, fingerprinted, or its earlier outputs reused), then either runs at
once through its executor's ``run_inline`` — a quick node type with plain
inputs, see ``NodeType.quick`` — or becomes a ``TaskSpec`` in its executor's
batch; batches are submitted together (and every 256 inline nodes, so a long
stretch of quick nodes keeps the pool busy, sends progress and sees a cancel).
"""
from __future__ import annotations

import heapq
import os
from collections import deque
from typing import Any

from ..executors.base import TaskSpec
from ..library import NodeError
from ..library.invoke import plain_inputs
from .events import EventKind
from .plan import PlannedNode, input_hash
from .runfolders import node_dirname
from .states import FINAL_NODE_STATES, NodeRun, NodeState

_FINAL = FINAL_NODE_STATES
_PENDING, _QUEUED = NodeState.PENDING, NodeState.QUEUED
_NODE_QUEUED, _NODE_STARTED = EventKind.NODE_QUEUED, EventKind.NODE_STARTED


class Dispatching:
    """The dispatch half of ``Scheduler`` (see the module docstring); uses its state and outcomes."""

    def _dispatch(self) -> None:
        now = self.clock.monotonic()
        heap = self._retry_heap
        while heap and heap[0][0] <= now:
            _, name = heapq.heappop(heap)
            if self._runs[name].state == NodeState.QUEUED and self._runs[name].handle is None:
                self._ready.append(name)
        for ex_name, dq in self._deferred.items():
            limit = getattr(self.executors.get(ex_name), "max_in_flight", None)
            while dq and (limit is None or len(self._live[ex_name]) < limit):
                self._ready.append(dq.popleft())
        if not self._ready:
            return
        batches: dict[str, list[TaskSpec]] = {}
        ready, runs, plan_nodes, executors = self._ready, self._runs, self.plan.nodes, self.executors
        pending_count: dict[str, int] = {}
        #: executor name -> its in-flight limit and its ``run_inline`` (looked up once per dispatch)
        limits: dict[str, int | None] = {}
        inliners: dict[str, Any] = {}
        inlined = 0
        make_spec, begin, run_inline = self._make_spec, self._begin_attempt, self._run_inline
        while ready:
            name = ready.popleft()
            nr = runs[name]
            state = nr.state
            if state in _FINAL or self._stopping or (nr.waiting > 0 and state is _PENDING):
                continue
            ex_name = nr.executor
            if ex_name in limits:
                limit = limits[ex_name]
            else:
                ex = executors.get(ex_name)
                if ex is None:
                    nr.attempt += 1
                    self._fail(name, f"no executor named {ex_name!r} is configured for this run",
                               reason="config", retry=False)
                    continue
                limit = limits[ex_name] = getattr(ex, "max_in_flight", None)
                inliners[ex_name] = ex.run_inline if getattr(ex, "inline_quick", False) else None
            if limit is not None:
                n = len(self._live[nr.executor]) + pending_count.get(nr.executor, 0)
                if n >= limit:
                    self._deferred.setdefault(nr.executor, deque()).append(name)
                    continue
            pn = plan_nodes[name]
            inputs = begin(name, pn, nr)
            if inputs is None:
                continue
            if pn.inline and inliners[ex_name] is not None and plain_inputs(inputs) and name not in self.attach:
                run_inline(name, pn, nr, inputs, inliners[ex_name])
                inlined += 1
                if not inlined & 255:  # a long stretch of quick nodes: keep the rest of the run moving
                    if batches:
                        self._submit(batches)
                        batches, pending_count = {}, {}
                    self._maybe_progress()
                    self._honour_cancel()
                continue
            spec = make_spec(name, pn, nr, inputs)
            if spec is None:
                continue
            batch = batches.get(ex_name)
            if batch is None:
                batch = batches[ex_name] = []
            batch.append(spec)
            if limit is not None:
                pending_count[ex_name] = pending_count.get(ex_name, 0) + 1
        if batches:
            self._submit(batches)

    def _submit(self, batches: dict[str, list[TaskSpec]]) -> None:
        """Hand each executor its batch of specs (or, re-attaching, its journaled jobs)."""
        runs = self._runs
        for ex_name, specs in batches.items():
            ex = self.executors[ex_name]
            live = self._live[ex_name]
            to_attach = [s for s in specs if s.node in self.attach] if self.attach else None
            if to_attach:
                specs = [s for s in specs if s.node not in self.attach]
                for spec in to_attach:
                    h = ex.attach(spec, self.attach.pop(spec.node))
                    live[h] = spec.node
                    runs[spec.node].handle = h
            if not specs:
                continue
            handles = ex.submit(specs)
            journal = getattr(ex, "journal_record", None)
            for spec, h in zip(specs, handles):
                live[h] = spec.node
                runs[spec.node].handle = h
                record = journal(h) if journal is not None else None
                if record:
                    self._emit(EventKind.NODE_SUBMITTED, spec.node, spec.attempt,
                               {"executor": ex_name, **record})

    def _begin_attempt(self, name: str, pn: PlannedNode, nr: NodeRun) -> dict[str, Any] | None:
        """Count a new attempt and gather its inputs; None when the node is done without running
        (its earlier outputs reused)."""
        inputs = self.plan.input_values(pn, self._results)
        nr.attempt += 1
        if nr.attempt == 1 and self.record_hashes:
            if pn.inline and not self.reuse and not pn.settings.resources:
                # a quick node: when it runs inline (plain inputs), the history fingerprints them
                # off this thread (NODE_SUCCEEDED's hash_inputs); _make_spec does it otherwise
                nr.hash_inputs = inputs
                return inputs
            nr.input_hash = input_hash(pn.type_name, inputs, pn.settings)
            prior = self.reuse.get(name)
            if prior is not None and prior[0] == nr.input_hash and not pn.node.forcerun:
                nr.reused = True
                now = nr.queued_at = self.clock.time()
                if self._emit_queued:
                    self._queued_event(name, pn, nr, now)
                self._succeed(name, dict(prior[1]))
                return None
        return inputs

    def _queued_event(self, name: str, pn: PlannedNode, nr: NodeRun, now: float) -> None:
        """NODE_QUEUED of the node's current attempt (callers ask ``_emit_queued`` first: some
        observer looks at it)."""
        self._emit(_NODE_QUEUED, name, nr.attempt, {"executor": nr.executor, "node_type": pn.type_name}, time=now)

    def _run_inline(self, name: str, pn: PlannedNode, nr: NodeRun, inputs: dict[str, Any], run) -> None:
        """A quick node run here by its executor's ``run_inline`` (no task, no worker thread): the
        same events and outcomes as a node that went through the pool. It stays pending in the
        state counts until it ends — nobody can look in between, this thread is busy with it."""
        now = nr.queued_at = nr.started_at = self.clock.time()
        nr.host, nr.job_id, nr.started_emitted = self.host, None, True
        if self._emit_queued:
            self._queued_event(name, pn, nr, now)
        if self._emit_started:
            self._emit(_NODE_STARTED, name, nr.attempt, {"executor": nr.executor, "host": nr.host,
                                                         "job_id": None}, time=now)
        # no output folder: a quick node touches no files (NodeType.quick)
        inv = run(pn.type, inputs, self.run_id, name, None, self._base_dir)
        if inv.log:
            for stream, line in inv.log:
                self._emit(EventKind.NODE_LOG, name, nr.attempt, {"stream": stream, "line": line})
        nr.exit_code = None
        if inv.ok:
            self._succeed(name, inv.outputs)
        else:
            self._fail(name, inv.error, reason="error")

    def _make_spec(self, name: str, pn: PlannedNode, nr: NodeRun, inputs: dict[str, Any]) -> TaskSpec | None:
        if nr.hash_inputs is not None:  # a quick node going to the pool after all: fingerprinted here
            nr.input_hash = input_hash(pn.type_name, nr.hash_inputs, pn.settings)
            nr.hash_inputs = None
        ntype = pn.type
        record = self.attach.get(name) if self.attach else None
        if record is not None:
            if not hasattr(self.executors.get(nr.executor), "attach"):
                self.attach.pop(name)  # that executor cannot take a job over: run it again
            else:
                nr.attempt = max(nr.attempt, int(record.get("attempt") or 1))
        workdir = f"{self._run_dir_str}{os.sep}{node_dirname(name)}" if self._run_dir_str else None
        argv = env = None
        cwd = self._base_dir
        kind = ntype.kind
        if kind == "command":
            try:
                cl = ntype.command(inputs)
            except NodeError as e:
                self._fail(name, str(e), reason="input", retry=False)
                return None
            except Exception as e:  # a bug in the node type: report, don't crash the run
                self._fail(name, f"could not build the command: {type(e).__name__}: {e}", reason="input",
                           retry=False)
                return None
            argv, env = list(cl.argv), dict(cl.env)
            if cl.cwd:
                cwd = cl.cwd if self._base_dir is None else os.path.join(self._base_dir, cl.cwd)
            nr.inputs = inputs
        self._set_state(nr, _QUEUED)
        nr.started_emitted = False
        nr.started_at = nr.host = nr.job_id = None
        now = nr.queued_at = self.clock.time()
        if self._emit_queued:
            self._queued_event(name, pn, nr, now)
        settings = pn.settings
        return TaskSpec(self.run_id, name, pn.node.path, kind, inputs, argv, env or {}, cwd,
                        settings.resources, settings.timeout_s, nr.attempt,
                        settings.isolate or ntype.isolate, workdir, nr.executor, settings.tags)
