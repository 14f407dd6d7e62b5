"""The local executor: nodes on this machine.

In-process (Python) nodes run on a pool of ``jobs`` threads. Command nodes,
and Python nodes marked ``isolate``, run as subprocesses — the command's own
argument list, or ``python -m nodeflow.worker spec.json`` — with stdout and
stderr read from pipes by the thread that waits for it and written to files
in the node's folder (made on the first byte: ``capture.OutputCapture``),
tailed into log lines at each poll. A command runs in its ``directory``, the
workflow file's folder, or (a workflow never saved) the run folder. A
subprocess occupies one of the ``jobs`` threads while it runs, so at most
``jobs`` nodes run at once, whatever their kind.

Waking the scheduler: a task that starts does not wake it — ``poll`` reports
tasks running when the scheduler next looks (every ``log_poll_s`` at the
latest while subprocesses are live). A finished task wakes it at once unless
the worker woke it less than ``NOTIFY_EVERY_S`` ago and has more work queued;
then the next wake-up or poll picks it up. On a short command each wake-up,
lock and file call hands the GIL around between threads, which cost more
than the command's own fork and exec.

Quick nodes (``NodeType.quick``: plain-Python arithmetic, constants) whose
inputs are plain values do not become tasks at all: the scheduler, seeing
``inline_quick``, calls ``run_inline`` on its own thread. Such a function
takes a microsecond or two; handing it to a worker costs ten times that, and
under the GIL the worker would not run it alongside the scheduler anyway.
``LocalSettings(inline_quick=False)`` sends them to the pool like any node.

Cancel: a queued task is dropped; a running subprocess (its whole process
group) gets SIGTERM, then SIGKILL after ``cancel_grace_s``; a running
in-process node is reported cancelled at once and its result ignored.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .base import CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED, TaskResult, TaskSpec, TaskStatus
from ..library.invoke import Invocation, invoke, invoke_type  # in-process nodes run through the library (registry injected)
from .capture import OutputCapture
from .logtail import LogTail


@dataclass
class LocalSettings:
    jobs: int = max(1, os.cpu_count() or 1)
    cancel_grace_s: float = 5.0
    log_poll_s: float = 0.2
    python: str = sys.executable
    #: quick nodes with plain inputs run on the scheduler's thread (see the module's docstring)
    inline_quick: bool = True


#: at most this many queued in-process tasks are taken by a worker at once (fewer handoffs between threads)
INPROCESS_BATCH = 64
#: a worker running a batch of in-process tasks wakes the scheduler at least this often (seconds)
NOTIFY_EVERY_S = 0.002


class _Task:
    __slots__ = ("handle", "spec", "state", "proc", "reported", "cancelled", "started_at", "tail",
                 "running_reported", "inprocess")

    def __init__(self, handle: int, spec: TaskSpec):
        self.handle = handle
        self.spec = spec
        self.state = QUEUED
        self.proc: subprocess.Popen | None = None
        self.reported = False  # a final status was handed out
        self.cancelled = False
        self.started_at: float | None = None
        self.tail: LogTail | None = None
        self.running_reported = False
        self.inprocess = spec.kind != "command" and not spec.isolate


class LocalExecutor:
    name = "local"
    max_in_flight = None  # the scheduler may hand over everything ready; threads limit what runs

    def __init__(self, settings: LocalSettings | None = None, *, registry=None):
        self.settings = settings or LocalSettings()
        self.max_concurrency = self.settings.jobs
        #: the scheduler may call ``run_inline`` for quick nodes with plain inputs
        self.inline_quick = self.settings.inline_quick
        self._registry = registry
        self._lock = threading.Lock()
        self._work: deque[_Task] = deque()
        self._work_ready = threading.Condition(self._lock)
        self._changes: deque[tuple[int, TaskStatus]] = deque()
        self._tasks: dict[int, _Task] = {}
        self._running_procs: dict[int, _Task] = {}
        self._subprocess_tasks = 0  # submitted subprocess tasks not reported final yet
        self._running_inprocess: dict[int, _Task] = {}  # worker thread id → the in-process task it runs
        self._made_dirs: set[str] = set()  # folders known to exist (made or checked once)
        self._threads: list[threading.Thread] = []
        self._notify: Callable[[], None] = lambda: None
        self._next = 0
        self._closing = False

    # -- lifecycle ------------------------------------------------------------
    def start(self, notify: Callable[[], None]) -> None:
        self._notify = notify
        if self._threads:
            return
        self._closing = False
        for i in range(self.settings.jobs):
            t = threading.Thread(target=self._worker, name=f"nodeflow-local-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def close(self) -> None:
        with self._lock:
            self._closing = True
            live = [t for t in self._tasks.values() if not t.reported]
            self._work_ready.notify_all()
        if live:
            self.cancel([t.handle for t in live])
        for t in self._threads:
            t.join(timeout=self.settings.cancel_grace_s + 2)
        self._threads = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- protocol -------------------------------------------------------------
    def submit(self, specs: list[TaskSpec]) -> list[int]:
        handles = []
        with self._lock:
            for spec in specs:
                self._next += 1
                task = _Task(self._next, spec)
                if not task.inprocess:
                    self._subprocess_tasks += 1
                self._tasks[task.handle] = task
                self._work.append(task)
                handles.append(task.handle)
            self._work_ready.notify(len(specs))
        return handles

    def poll(self, handles) -> dict[int, TaskStatus]:
        out: dict[int, TaskStatus] = {}
        changes = self._changes
        while changes:
            h, st = changes.popleft()
            prev = out.get(h)
            if prev is not None and prev.new_log:
                st.new_log = prev.new_log + st.new_log
            out[h] = st
        # tasks report "running" only when someone looks: no status, lock and wake-up per short task
        # (the scheduler looks at least every ``log_poll_s`` while anything runs)
        with self._lock:
            running = [*self._running_inprocess.values(), *self._running_procs.values()]
        for t in running:
            if not t.running_reported and not t.reported and t.handle not in out:
                t.running_reported = True
                out[t.handle] = TaskStatus(RUNNING, started_at=t.started_at)
        # tail logs of subprocesses that have run a while (a short one's log comes whole at its end)
        soon = time.time() - self.settings.log_poll_s
        with self._lock:
            tails = [(t.handle, t) for t in self._running_procs.values() if t.started_at < soon]
        for h, t in tails:
            lines = t.tail.read_new()
            if lines:
                st = out.get(h)
                if st is None:
                    out[h] = TaskStatus(RUNNING, new_log=lines, started_at=t.started_at)
                else:
                    st.new_log = lines + st.new_log
        for h, st in out.items():
            if st.state in (SUCCEEDED, FAILED, CANCELLED):
                task = self._tasks.pop(h, None)
                if task is not None and not task.inprocess:
                    self._subprocess_tasks -= 1
                if task is not None and task.tail is not None:
                    with self._lock:
                        self._running_procs.pop(h, None)
                    outs = st.result.outputs if st.result is not None and task.spec.kind == "command" else None
                    st.new_log = st.new_log + task.tail.finish(outs)
        return out

    def cancel(self, handles) -> None:
        now_final: list[_Task] = []
        procs: list[_Task] = []
        with self._lock:
            for h in handles:
                task = self._tasks.get(h)
                if task is None or task.reported:
                    continue
                task.cancelled = True
                if task.proc is not None and task.state == RUNNING:
                    procs.append(task)
                else:  # queued, or an in-process node we cannot interrupt: report now
                    task.reported = True
                    now_final.append(task)
            for task in now_final:
                self._changes.append((task.handle, TaskStatus(CANCELLED, TaskResult(False, error="cancelled"),
                                                              reason="cancelled", started_at=task.started_at)))
        for task in procs:
            self._terminate(task)
        if now_final:
            self._notify()

    def logs(self, handle: int) -> tuple[str, str]:
        task = self._tasks.get(handle)
        if task is None or task.spec.workdir is None:
            return "", ""
        d = Path(task.spec.workdir)
        return tuple(_read_text(d / f) for f in ("stdout.txt", "stderr.txt"))  # type: ignore[return-value]

    def run_inline(self, ntype, inputs: dict, run_id: str, node: str, workdir: str | None,
                   cwd: str | None) -> Invocation:
        """Run a quick in-process node of the type ``ntype`` (the plan resolved it) now, on the
        calling (scheduler's) thread. Arguments by position: called once per node."""
        return invoke_type(ntype, inputs, run_id, node, workdir, cwd)

    def poll_interval(self) -> float:
        # subprocesses don't wake the scheduler as they start (poll reports them running): while any
        # is queued or running here, be looked at every ``log_poll_s``
        return self.settings.log_poll_s if (self._subprocess_tasks or self._running_inprocess) else 0.0

    # -- work -----------------------------------------------------------------
    def _take(self) -> list[_Task] | None:
        """The next task, or a batch of queued in-process tasks (None: closing)."""
        with self._lock:
            while not self._work and not self._closing:
                self._work_ready.wait()
            if self._closing and not self._work:
                return None
            work = self._work
            batch = [work.popleft()]
            if batch[0].inprocess:
                n = min(INPROCESS_BATCH, len(work) // max(1, self.settings.jobs))
                while n > 0 and work and work[0].inprocess:
                    batch.append(work.popleft())
                    n -= 1
            return batch

    def _worker(self) -> None:
        me = threading.get_ident()
        last_notify = 0.0
        while True:
            batch = self._take()
            if batch is None:
                return
            unreported = False
            for task in batch:
                with self._lock:
                    if task.cancelled or task.reported:
                        continue
                    task.state = RUNNING
                    task.started_at = time.time()
                    if task.inprocess:
                        self._running_inprocess[me] = task
                try:
                    if task.inprocess:
                        status = self._run_inprocess(task)
                    else:
                        status = self._run_subprocess(task)
                except Exception as e:  # never lose a task to a bug here
                    status = TaskStatus(FAILED, TaskResult(False, error=f"executor error: {type(e).__name__}: {e}"),
                                        reason="executor", started_at=task.started_at)
                with self._lock:
                    self._running_inprocess.pop(me, None)
                    if task.reported:
                        continue
                    task.reported = True
                    if task.cancelled and status.state != SUCCEEDED:
                        status = TaskStatus(CANCELLED, status.result, reason="cancelled", started_at=task.started_at)
                    self._changes.append((task.handle, status))
                now = time.monotonic()
                if now - last_notify >= NOTIFY_EVERY_S or (not task.inprocess and not self._work):
                    last_notify = now
                    self._notify()
                    unreported = False
                else:
                    unreported = True
            # a batch of in-process tasks always ends with a wake-up; a subprocess that ended within
            # NOTIFY_EVERY_S of the last one while more work waits here is picked up by the scheduler's
            # next poll (it polls every ``log_poll_s`` at the latest while subprocesses are live)
            if unreported and batch[0].inprocess:
                self._notify()

    def _run_inprocess(self, task: _Task) -> TaskStatus:
        spec = task.spec
        inv = invoke(self._registry, spec.path, spec.inputs, spec.run_id, spec.node, spec.workdir, spec.cwd)
        ok, started = inv.ok, task.started_at
        # positional arguments: these two are made per node, and keywords cost more than the rest
        res = TaskResult(ok, inv.outputs, inv.error, None, started, time.time(), inv.log)
        return TaskStatus(SUCCEEDED if ok else FAILED, res, [], None if ok else "error", None, None, started)

    def _run_subprocess(self, task: _Task) -> TaskStatus:
        spec = task.spec
        # paths as plain strings: pathlib's parsing cost more than the file calls for a short command
        workdir = spec.workdir or os.path.join(os.getcwd(), ".nodeflow-run", spec.run_id, spec.node)
        if spec.kind == "command":
            argv = list(spec.argv or [])
            env = {**os.environ, **spec.env} if spec.env else None
            # a command runs in its `directory`, else the workflow file's folder, else (a workflow never
            # saved) the run folder: its node folder is made only if it writes a log
            cwd = spec.cwd or os.path.dirname(workdir)
            self._ensure_dir(cwd)  # a command's own folder is made for it, as `sbatch --chdir` users expect
        else:
            self._ensure_dir(workdir)
            argv = [self.settings.python, "-m", "nodeflow.worker", str(spec.write(workdir))]
            env = None
            cwd = spec.cwd or workdir
        # a command's whole output becomes its stdout/stderr outputs; of a worker, only the end of
        # stderr is ever used (why it died)
        capture = OutputCapture(workdir, self._ensure_dir, stale=spec.attempt > 1,
                                keep_all=spec.kind == "command")
        out, err = capture.open_pipes()
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=cwd, env=env,
                                    start_new_session=True)
        except OSError as e:
            msg = f"cannot run {argv[0] if argv else '(empty command)'!r}: {e.strerror or e}"
            capture.write_note("stderr", msg)
            capture.close()
            return TaskStatus(FAILED, TaskResult(False, error=msg, exit_code=None, started_at=task.started_at,
                                                 finished_at=time.time()), reason="exec",
                              started_at=task.started_at)
        capture.started()
        return self._watch(task, proc, workdir, capture)

    def _ensure_dir(self, path: str) -> None:
        """Make ``path`` (and its parents) once; a node folder in a known run folder is one mkdir."""
        made = self._made_dirs
        if path in made:
            return
        parent = os.path.dirname(path)
        if parent in made:
            try:
                os.mkdir(path)
            except FileExistsError:
                pass
        else:
            os.makedirs(path, exist_ok=True)
            made.add(parent)
        made.add(path)

    def _watch(self, task: _Task, proc: subprocess.Popen, workdir: str, capture: OutputCapture) -> TaskStatus:
        """Pump a started subprocess's output until it ends and turn its end into a status."""
        spec = task.spec
        with self._lock:
            task.proc = proc
            task.tail = LogTail(*capture.paths)
            self._running_procs[task.handle] = task
            cancelled = task.cancelled
        if cancelled:
            self._terminate(task)
        rc = capture.pump(proc)
        finished = time.time()
        if spec.kind == "command":
            outputs = {"stdout": capture.text("stdout"), "stderr": capture.text("stderr"), "exitcode": rc}
            res = TaskResult(rc == 0, outputs, None if rc == 0 else f"exit status {rc}", rc, task.started_at,
                             finished)
            return TaskStatus(SUCCEEDED if rc == 0 else FAILED, res, reason=None if rc == 0 else "exit",
                              started_at=task.started_at)
        result_path = Path(workdir, "result.json")
        if result_path.exists():
            try:
                res = TaskResult.read(result_path)
            except (OSError, ValueError) as e:
                res = TaskResult(False, error=f"unreadable worker result: {e}")
            res.exit_code = rc
            return TaskStatus(SUCCEEDED if res.ok else FAILED, res, reason=None if res.ok else "error",
                              started_at=task.started_at)
        last = capture.text("stderr").strip().splitlines()[-1:] or [""]
        return TaskStatus(FAILED, TaskResult(False, error=f"worker exited with status {rc} without a result"
                                             + (f": {last[0]}" if last[0] else ""), exit_code=rc),
                          reason="exit", started_at=task.started_at)

    def _terminate(self, task: _Task) -> None:
        proc = task.proc
        if proc is None or proc.poll() is not None:
            return
        _signal_group(proc, signal.SIGTERM)

        def kill_later():
            try:
                proc.wait(timeout=self.settings.cancel_grace_s)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
            else:
                _signal_group(proc, signal.SIGKILL)  # leftovers of the group that ignored SIGTERM

        threading.Thread(target=kill_later, name="nodeflow-kill", daemon=True).start()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
