"""The runner agent: lease tasks from a nodeflow server, run them with the
local executor, report logs and results.

Three threads, one job each:

* the **main loop** (``run``) owns the ``LocalExecutor`` (jobs = slots): it
  starts leased tasks, polls the executor, files new log lines and final
  results in the outbox, and carries out cancels;
* the **leaser** long-polls ``/lease`` whenever slots are free, asking for up
  to that many tasks at once and handing in finished results in the same
  request (one round trip per task in the busy case);
* the **reporter** sends heartbeats — the running leases (renewing them),
  log chunks, results the leaser could not take, tasks given back — and
  carries out what the reply says (cancel these, shut down).

While the server is unreachable every request is retried with back-off
(0.5 s doubling to 10 s) and nothing is lost: results wait in the outbox.
``drain()`` (SIGTERM) stops leasing, lets running tasks finish and their
results go out, then ``run`` returns. ``stop()`` (a second signal) kills
the running tasks and gives them back to the queue.

How a leased task becomes a local TaskSpec and a result a report is in
``convert`` (own task folder; command nodes wrapped in ``guard.py`` so they
die with the agent).
"""
from __future__ import annotations

import json
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ... import __version__
from ...executors.base import FINAL, TaskStatus
from ..client import RemoteError, ServerClient, ServerUnavailable
from ..protocol import (Heartbeat, LeasedTask, LeaseRef, LeaseRequest, LogChunk, RunnerRegister, TaskReport,
                        WireResult)
from .convert import local_spec, shrunk, wire_report

MAX_CHUNK_LINES = 2000
GATHER_S = 0.01  # a leaser with some slots free waits this long for the rest before asking


@dataclass
class AgentSettings:
    workdir: Path
    tags: tuple[str, ...] = ()
    slots: int = 1
    name: str = field(default_factory=lambda: socket.gethostname().split(".")[0] or "runner")
    lease_wait_s: float = 20.0
    heartbeat_s: float | None = None  # None: what the server asks for
    log_flush_s: float = 0.25
    backoff_max_s: float = 10.0
    keep_cwd: bool = True
    guard: bool = True
    stats_path: Path | None = None  # write lease timings here at exit (benchmarks)


class _Run:
    __slots__ = ("task", "handle", "slots", "log")

    def __init__(self, task: LeasedTask, handle, slots: int):
        self.task = task
        self.handle = handle
        self.slots = slots
        self.log: list[tuple[str, str]] = []  # lines not yet sent


class RunnerAgent:
    def __init__(self, client: ServerClient, settings: AgentSettings, *, registry=None, log=None):
        self.client = client
        self.settings = settings
        self._registry = registry
        self._log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.runner_id: int | None = None
        self.heartbeat_s = 5.0
        self._lock = threading.Condition()
        self._wake = threading.Event()
        self._incoming: list[LeasedTask] = []
        self._reserved = 0  # slots of leased tasks not yet started
        self._running: dict[int, _Run] = {}  # task id → run
        self._by_handle: dict = {}
        self._results: list[tuple[float, TaskReport]] = []
        self._release: list[LeaseRef] = []
        self._cancel: set[int] = set()
        self._leasing = False
        self._queue_busy = False  # the last lease got all it asked for: the queue has more
        self._unacked = 0  # results on their way to the server
        self._reg_lock = threading.Lock()
        self._draining = False
        self._stopping = False
        self._done = False
        self._threads: list[threading.Thread] = []
        self.executor = None
        self._lease_http: ServerClient | None = None
        self.lease_rtts: list[tuple[float, float]] = []  # (when it came back, round trip) of leases with work
        self.tasks_done = 0

    # -- control (any thread, signal handlers) ------------------------------------------
    def drain(self) -> None:
        """Finish what runs, take nothing new, then let ``run`` return."""
        with self._lock:
            self._draining = True
            self._lock.notify_all()
        self._wake.set()

    def stop(self) -> None:
        """Kill what runs, give it back to the queue, return soon."""
        with self._lock:
            self._draining = self._stopping = True
            self._lock.notify_all()
        self._wake.set()

    # -- the main loop ------------------------------------------------------------------
    def run(self) -> int:
        from ...executors.local import LocalExecutor, LocalSettings
        from ...library import default_registry

        if not self._register():
            return 1
        self.settings.workdir.mkdir(parents=True, exist_ok=True)
        registry = self._registry if self._registry is not None else default_registry()
        self.executor = LocalExecutor(LocalSettings(jobs=self.settings.slots, cancel_grace_s=3.0), registry=registry)
        self.executor.start(self._wake.set)
        for target, label in ((self._leaser, "lease"), (self._reporter, "report")):
            t = threading.Thread(target=target, name=f"nodeflow-agent-{label}", daemon=True)
            t.start()
            self._threads.append(t)
        self._log(f"runner {self.settings.name} (id {self.runner_id}) ready: tags {list(self.settings.tags)}, "
                  f"{self.settings.slots} slot(s), work in {self.settings.workdir}")
        try:
            self._loop()
        finally:
            self._finish()
        return 0

    def _loop(self) -> None:
        ex = self.executor
        while True:
            self._wake.wait(ex.poll_interval() or 0.5)
            self._wake.clear()
            with self._lock:
                incoming, self._incoming = self._incoming, []
                cancel, self._cancel = self._cancel, set()
                stopping = self._stopping
            for task in incoming:
                self._start(task)
            if stopping:
                return
            handles = [self._running[t].handle for t in cancel if t in self._running]
            if handles:
                ex.cancel(handles)
            statuses = ex.poll(list(self._by_handle))
            for h, st in statuses.items():
                self._route(h, st)
            with self._lock:
                if (self._draining and not self._running and not self._incoming and not self._results
                        and not self._unacked):
                    return

    def _start(self, task: LeasedTask) -> None:
        try:
            spec = local_spec(task, self.settings.workdir, keep_cwd=self.settings.keep_cwd,
                              guard=self.settings.guard)
        except Exception as e:
            self._report(task, "failed", "bad-spec", WireResult(ok=False, error=f"unusable task spec: {e}"))
            with self._lock:
                self._reserved -= task.slots
            return
        handle = self.executor.submit([spec])[0]
        with self._lock:
            self._reserved -= task.slots
            run = _Run(task, handle, task.slots)
            self._running[task.task_id] = run
            self._by_handle[handle] = run

    def _route(self, handle, st: TaskStatus) -> None:
        run = self._by_handle.get(handle)
        if run is None:
            return
        if st.state not in FINAL:
            if st.new_log:
                with self._lock:
                    run.log.extend(st.new_log)
                    self._lock.notify_all()
            return
        res = st.result
        with self._lock:  # lines not sent yet go with the result (log chunks need a running task)
            lines = run.log + list(st.new_log) + list(res.log if res is not None else [])
            run.log = []
            del self._by_handle[handle]
            del self._running[run.task.task_id]
        self.tasks_done += 1
        self._file(wire_report(run.task, st, lines))

    def _report(self, task: LeasedTask, state: str, reason: str | None, wire: WireResult) -> None:
        self._file(TaskReport(task_id=task.task_id, lease=task.lease, state=state, reason=reason, result=wire))

    def _file(self, rep: TaskReport) -> None:
        with self._lock:
            self._results.append((time.monotonic(), rep))
            self._lock.notify_all()

    def _finish(self) -> None:
        with self._lock:
            self._draining = True
            stopping = self._stopping
            leftovers = list(self._running.values())
            self._lock.notify_all()
        if stopping and leftovers:  # give them back so another runner takes them now
            self.executor.cancel([r.handle for r in leftovers])
            with self._lock:
                self._release.extend(LeaseRef(task_id=r.task.task_id, lease=r.task.lease) for r in leftovers)
                self._running.clear()
        self._send_heartbeat(final=True)
        with self._lock:
            self._done = True
            self._lock.notify_all()
        if self._lease_http is not None:  # cut a long-poll short
            try:
                self._lease_http.close()
            except Exception:
                pass
        self.executor.close()
        for t in self._threads:
            t.join(timeout=0.5)
        if self.settings.stats_path:
            Path(self.settings.stats_path).write_text(json.dumps({"lease_rtts": self.lease_rtts,
                                                                  "tasks_done": self.tasks_done}))
        self._log(f"runner {self.settings.name} stopped ({self.tasks_done} task(s) run)")

    # -- registering ----------------------------------------------------------------------
    def _register(self) -> bool:
        s = self.settings
        reg = RunnerRegister(name=s.name[:100], tags=list(s.tags), slots=s.slots, host=socket.gethostname()[:255],
                             version=__version__)
        failures = 0
        while True:
            with self._lock:
                if self._draining:
                    return False
            try:
                out = self.client.register_runner(reg)
                break
            except ServerUnavailable as e:
                failures += 1
                if failures == 1:
                    self._log(f"server unreachable, retrying: {e.detail}")
                self._sleep(self._backoff(failures))
            except RemoteError as e:
                self._log(f"the server refused to register this runner: {e}")
                return False
        self.runner_id = out.id
        hb = s.heartbeat_s or out.heartbeat_s
        self.heartbeat_s = max(0.05, min(hb, out.lease_timeout_s / 3))
        if failures:
            self._log("connected")
        return True

    def _reregister(self, old: int | None) -> None:
        with self._reg_lock:
            if self.runner_id != old:  # the other thread did it already
                return
            self._log("the server forgot this runner; registering again")
            if not self._register():
                self.stop()

    def _backoff(self, failures: int) -> float:
        return min(self.settings.backoff_max_s, 0.5 * 2 ** min(failures - 1, 6))

    def _sleep(self, seconds: float) -> None:
        with self._lock:
            if not self._stopping:
                self._lock.wait(seconds)

    def _free(self) -> int:
        return self.settings.slots - self._reserved - sum(r.slots for r in self._running.values())

    # -- the leaser -----------------------------------------------------------------------
    def _leaser(self) -> None:
        http = self._lease_http = self.client.clone()
        failures = 0
        try:
            while True:
                with self._lock:
                    while not self._draining and (self._free() <= 0 or self.runner_id is None):
                        self._lock.wait()
                    if self._draining:
                        return
                    if self._free() < self.settings.slots and self._running:
                        # more slots are about to free up (small tasks end together): ask for them at once
                        self._lock.wait(GATHER_S)
                        if self._draining:
                            return
                    free = self._free()
                    results = [r for _, r in self._results]
                    self._results = []
                    self._unacked += len(results)
                    self._leasing = True
                    rid = self.runner_id
                req = LeaseRequest(max_tasks=min(free, 256), free_slots=min(free, 1024), wait_s=self.settings.lease_wait_s,
                                   results=results)
                t0 = time.perf_counter()
                try:
                    resp = http.lease(rid, req)
                except Exception as e:  # noqa: BLE001 - closing the client mid-request raises anything
                    if isinstance(e, RemoteError) and e.status == 413:  # a result over the server's limit
                        results = [shrunk(r, str(e.detail)) for r in results]
                    with self._lock:
                        self._leasing = False
                        self._unacked -= len(results)
                        self._results = [(0.0, r) for r in results] + self._results
                        self._lock.notify_all()
                        if self._draining:
                            return
                    if not isinstance(e, RemoteError):
                        raise
                    if not isinstance(e, ServerUnavailable):
                        if e.status == 404:
                            self._reregister(rid)
                            continue
                        self._log(f"lease refused: {e}")
                    failures += 1
                    self._sleep(self._backoff(failures))
                    continue
                rtt = time.perf_counter() - t0
                failures = 0
                with self._lock:
                    self._leasing = False
                    self._unacked -= len(results)
                    self._queue_busy = len(resp.tasks) >= req.max_tasks > 0
                    if resp.tasks:
                        self.lease_rtts.append((time.time(), rtt))
                    if self._draining:
                        self._release.extend(LeaseRef(task_id=t.task_id, lease=t.lease) for t in resp.tasks)
                    else:
                        self._incoming.extend(resp.tasks)
                        self._reserved += sum(t.slots for t in resp.tasks)
                    self._lock.notify_all()
                if resp.tasks:
                    self._wake.set()
        finally:
            http.close()

    # -- the reporter (heartbeats) ------------------------------------------------------------
    def _reporter(self) -> None:
        http = self.client.clone()
        failures = 0
        last = 0.0
        try:
            while True:
                with self._lock:
                    while not self._done:
                        now = time.monotonic()
                        due = last + self.heartbeat_s - now
                        if self._release or self._results_for_me(now) or (
                                any(r.log for r in self._running.values()) and now - last >= self.settings.log_flush_s):
                            break
                        if due <= 0:
                            break
                        self._lock.wait(min(due, 0.02 if self._results else self.settings.log_flush_s))
                    if self._done:
                        return
                ok = self._send_heartbeat(http=http)
                last = time.monotonic()
                if ok:
                    failures = 0
                else:
                    failures += 1
                    self._sleep(self._backoff(failures))
        finally:
            http.close()

    def _results_for_me(self, now: float) -> bool:
        """Results the leaser will not hand in soon. It takes them with its next lease request (one
        round trip for "done" and "next"), so the reporter leaves them while that is near: the
        leaser is about to ask, or is asking while there is work (the answer comes at once).
        While it waits out a long-poll on an empty queue, results go now."""
        if not self._results:
            return False
        if self._draining or self._free() <= 0:
            return True
        age = now - self._results[0][0]
        if self._leasing:
            return not self._queue_busy or age > 0.1
        return age > 0.5

    def _send_heartbeat(self, http: ServerClient | None = None, final: bool = False) -> bool:
        http = http or self.client
        with self._lock:
            if self.runner_id is None:
                return False
            rid = self.runner_id
            results = [r for _, r in self._results]
            self._results = []
            self._unacked += len(results)
            release, self._release = self._release, []
            logs = []
            for r in self._running.values():
                if r.log:
                    for i in range(0, len(r.log), MAX_CHUNK_LINES):
                        logs.append(LogChunk(task_id=r.task.task_id, lease=r.task.lease,
                                             lines=r.log[i:i + MAX_CHUNK_LINES]))
                    r.log = []
            running = [LeaseRef(task_id=t, lease=r.task.lease) for t, r in self._running.items()]
            running += [LeaseRef(task_id=t.task_id, lease=t.lease) for t in self._incoming]
            draining = self._draining
        hb = Heartbeat(running=running, results=results, logs=logs, release=release, draining=draining)
        try:
            reply = http.heartbeat(rid, hb)
        except (ServerUnavailable, RemoteError) as e:
            too_large = isinstance(e, RemoteError) and e.status == 413
            if too_large:
                results = [shrunk(r, str(e.detail)) for r in results]
                logs = []  # those lines are lost; the rest goes on
            with self._lock:  # keep everything for the next try (logs are put back in front)
                self._unacked -= len(results)
                self._results = [(0.0, r) for r in results] + self._results
                self._release = release + self._release
                for c in logs:
                    run = self._running.get(c.task_id)
                    if run is not None:
                        run.log = list(c.lines) + run.log
            if isinstance(e, RemoteError) and not isinstance(e, ServerUnavailable) and e.status == 404 and not final:
                self._reregister(rid)
            return False
        with self._lock:
            self._unacked -= len(results)
            self._cancel.update(reply.cancel)
            if reply.shutdown and not self._draining:
                self._log("the server asked this runner to shut down: draining")
                self._draining = True
            self._lock.notify_all()
        if reply.cancel or reply.shutdown:
            self._wake.set()
        return True
