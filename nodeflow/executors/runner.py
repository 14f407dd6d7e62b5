"""The runner executor: nodes run on runner agents that lease them from a
nodeflow server's queue.

``submit`` hands back local handles at once; a *sender* thread posts the
TaskSpecs (JSON, arrays inline) with the tags and slots each node needs, in
batches, each with an idempotency key — a request retried after a lost
answer never makes a second task. A *watcher* thread asks about ALL its
tasks in ONE request per cycle — "what changed after change number N" (a
long-poll the server answers as soon as one of them changes; now and then
also by id, to notice tasks the server lost) — and turns the answers into
``TaskStatus`` changes (state, new log lines, result) for ``poll``, then
calls ``notify``. While the
server is unreachable both threads retry with back-off (0.5 s doubling to
10 s); the tasks live on the server, so a server restart or a network gap
loses nothing. ``cancel`` of a running task is passed to the server, which
tells its runner at the next heartbeat.

The same class runs inside the server for server-side runs with an
in-process ``TaskService`` (no HTTP to itself).

Tags a node needs come from, in order: a ``tags`` attribute of the TaskSpec,
``resources["tags"]``, the plan of the run (see ``start``), plus the
executor's own ``tags`` setting. ``resources["slots"]`` (default 1) is how
many runner slots a node takes.
"""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol

from ..model.values import decode
from .base import CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED, TaskResult, TaskSpec, TaskStatus

_STATE = {"queued": QUEUED, "running": RUNNING, "succeeded": SUCCEEDED, "failed": FAILED, "cancelled": CANCELLED}
_FINAL = {SUCCEEDED, FAILED, CANCELLED}
VERIFY_AFTER_S = 30.0  # without news this long, ask about the live tasks by id
MIN_CYCLE_S = 0.025  # at most ~40 status requests a second while news keeps coming


class TaskService(Protocol):
    """What the executor needs from a server: HTTP (``remote.client.HttpTaskService``) or in-process
    (``remote.server.runs.QueueTaskService``)."""

    def submit(self, client: str, tasks: list) -> list[int]: ...
    def changes(self, client: str, since: int, wait_s: float) -> tuple[list, int]: ...
    def status(self, client: str, watches: list, wait_s: float) -> list: ...
    def cancel(self, ids: list[int]) -> None: ...
    def close(self) -> None: ...


@dataclass
class RunnerSettings:
    tags: tuple[str, ...] = ()  # added to every node's tags
    slots: int = 1  # default slots per node
    priority: int = 0
    wait_s: float = 10.0  # long-poll length
    max_retries: int | None = None  # lost-runner retries (None: the server's default)
    batch: int = 1000  # tasks per submit request
    backoff_max_s: float = 10.0


class _Task:
    __slots__ = ("handle", "spec", "key", "task_id", "version", "log_seq", "state", "retries", "done", "cancel",
                 "log", "tags", "slots")

    def __init__(self, handle: int, spec: TaskSpec, key: str, tags: list[str], slots: int):
        self.handle = handle
        self.spec = spec
        self.key = key
        self.tags = tags
        self.slots = slots
        self.task_id: int | None = None
        self.version = 0
        self.log_seq = 0
        self.state = QUEUED
        self.retries = 0
        self.done = False  # a final status was queued for poll
        self.cancel = False
        self.log: list[tuple[str, str]] = []


class RunnerExecutor:
    name = "runner"
    max_in_flight = None  # the server queues everything; runners' slots limit what runs
    max_concurrency = 1_000_000

    def __init__(self, service: TaskService, settings: RunnerSettings | None = None, *,
                 registry=None, name: str = "runner"):
        self.service = service
        self.settings = settings or RunnerSettings()
        self.name = name
        self._registry = registry
        self.client_id = uuid.uuid4().hex
        self._lock = threading.Condition()
        self._tasks: dict[int, _Task] = {}
        self._by_id: dict[int, _Task] = {}
        self._to_submit: list[_Task] = []
        self._to_cancel: list[int] = []
        self._changes: dict[int, TaskStatus] = {}
        self._cursor = 0  # the server's change number we have seen up to (cursor mode)
        self._submitting = 0  # submit requests under way
        self._early: dict[int, Any] = {}  # news of tasks whose ids are still on their way back
        self._notify: Callable[[], None] = lambda: None
        self._threads: list[threading.Thread] = []
        self._closing = False
        self._next = 0
        #: the last connection problem (None while all is well), for a status line
        self.last_error: str | None = None

    @classmethod
    def from_server(cls, name: str, cfg: Mapping[str, Any], registry=None) -> "RunnerExecutor":
        """From a ``[server.NAME]`` config table: ``url``, the token (stored with ``nodeflow login``
        or ``token``), optional ``tags``, ``slots``, ``priority``, ``wait_s``, ``max_retries``,
        ``backoff_max_s``, ``timeout_s``."""
        from ..remote.client import HttpTaskService, ServerClient
        from ..remote.credentials import server_token
        from .factory import ExecutorConfigError

        url = cfg.get("url")
        if not url:
            raise ExecutorConfigError(f"[server.{name}] has no url")
        token = server_token(name, dict(cfg))
        if not token:
            raise ExecutorConfigError(f"no token for server {name!r}: run nodeflow login --server {name} "
                                      f"--url {url} --token TOKEN")
        tags = cfg.get("tags") or ()
        if isinstance(tags, str):
            tags = [t for t in tags.split(",") if t]
        settings = RunnerSettings(tags=tuple(tags), slots=int(cfg.get("slots", 1)),
                                  priority=int(cfg.get("priority", 0)), wait_s=float(cfg.get("wait_s", 10.0)),
                                  max_retries=cfg.get("max_retries"),
                                  backoff_max_s=float(cfg.get("backoff_max_s", 10.0)))
        client = ServerClient(str(url), token, timeout=float(cfg.get("timeout_s", 30.0)))
        return cls(HttpTaskService(client), settings, registry=registry, name=f"runner:{name}")

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, notify: Callable[[], None]) -> None:
        self._notify = notify
        if self._threads:
            return
        self._closing = False
        for target, label in ((self._sender, "send"), (self._watcher, "watch")):
            t = threading.Thread(target=target, name=f"nodeflow-runner-{label}", daemon=True)
            t.start()
            self._threads.append(t)

    def close(self) -> None:
        with self._lock:
            live = [t.handle for t in self._tasks.values() if not t.done]
        if live:
            self.cancel(live)
            try:
                self._flush_cancels(deadline=time.monotonic() + 5.0)
            except Exception as e:  # the server is away: its tasks stay queued or run out
                self.last_error = f"could not cancel {len(live)} task(s) on the server: {e}"

        with self._lock:
            self._closing = True
            self._lock.notify_all()
        self.service.close()  # also cuts a long-poll short
        for t in self._threads:
            t.join(timeout=5)
        self._threads = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- protocol -------------------------------------------------------------------------
    def submit(self, specs: list[TaskSpec]) -> list[int]:
        handles = []
        with self._lock:
            for spec in specs:
                self._next += 1
                task = _Task(self._next, spec, uuid.uuid4().hex, self._tags_for(spec), self._slots_for(spec))
                self._tasks[task.handle] = task
                self._to_submit.append(task)
                handles.append(task.handle)
            self._lock.notify_all()
        return handles

    def poll(self, handles) -> dict[int, TaskStatus]:
        with self._lock:
            if not self._changes:
                return {}
            wanted = set(handles)
            out = {h: st for h, st in self._changes.items() if h in wanted}
            for h in out:
                del self._changes[h]
                task = self._tasks.get(h)
                if task is not None and task.done:
                    del self._tasks[h]
                    if task.task_id is not None:
                        self._by_id.pop(task.task_id, None)
        return out

    def cancel(self, handles) -> None:
        changed = False
        with self._lock:
            for h in handles:
                task = self._tasks.get(h)
                if task is None or task.done or task.cancel:
                    continue
                task.cancel = True
                if task.task_id is None:  # not on the server yet: drop it here
                    if task in self._to_submit:
                        self._to_submit.remove(task)
                    self._final(task, TaskStatus(CANCELLED, TaskResult(False, error="cancelled"), reason="cancelled"))
                    changed = True
                else:
                    self._to_cancel.append(task.task_id)
            self._lock.notify_all()
        if changed:
            self._notify()

    def logs(self, handle: int) -> tuple[str, str]:
        task = self._tasks.get(handle)
        if task is None:
            return "", ""
        out = "".join(line + "\n" for s, line in task.log if s == "stdout")
        err = "".join(line + "\n" for s, line in task.log if s == "stderr")
        return out, err

    def poll_interval(self) -> float:
        return 5.0  # the watcher notifies; this is only a safety net

    # -- re-attaching (the engine's journal) ------------------------------------------------
    def journal_record(self, handle: int) -> dict[str, Any]:
        task = self._tasks.get(handle)
        if task is None:
            return {}
        return {"job_id": task.key, "extra": {"tags": list(task.tags), "slots": task.slots}}

    def attach(self, spec: TaskSpec, record: Mapping[str, Any]) -> int:
        """Take over a task an earlier process submitted: same key, so the server hands back the same task."""
        with self._lock:
            self._next += 1
            key = str(record.get("job_id") or uuid.uuid4().hex)
            task = _Task(self._next, spec, key, self._tags_for(spec), self._slots_for(spec))
            self._tasks[task.handle] = task
            self._to_submit.append(task)
            self._lock.notify_all()
            return task.handle

    # -- helpers --------------------------------------------------------------------------
    def _tags_for(self, spec: TaskSpec) -> list[str]:
        tags = spec.tags
        res = spec.resources if isinstance(spec.resources, dict) else {}
        if not tags:
            tags = res.get("tags")
        if isinstance(tags, str):
            tags = [t for t in tags.split(",") if t]
        return sorted(set(self.settings.tags) | {str(t) for t in (tags or ())})

    def _slots_for(self, spec: TaskSpec) -> int:
        res = spec.resources if isinstance(spec.resources, dict) else {}
        try:
            return max(1, int(res.get("slots", self.settings.slots)))
        except (TypeError, ValueError):
            return self.settings.slots

    def _final(self, task: _Task, status: TaskStatus) -> None:
        """Queue a final status (lock held)."""
        prev = self._changes.get(task.handle)
        if prev is not None and prev.new_log:
            status.new_log = prev.new_log + status.new_log
        task.done = True
        task.state = status.state
        self._changes[task.handle] = status

    def _backoff(self, attempt: int) -> float:
        return min(self.settings.backoff_max_s, 0.5 * (2 ** min(attempt, 6)))

    def _wait(self, seconds: float) -> None:
        with self._lock:
            if not self._closing:
                self._lock.wait(seconds)

    # -- the sender thread ------------------------------------------------------------------
    def _sender(self) -> None:
        from ..remote.client import RemoteError, ServerUnavailable
        from ..remote.protocol import TaskSubmit

        failures = 0
        while True:
            with self._lock:
                while not self._to_submit and not self._to_cancel and not self._closing:
                    self._lock.wait()
                if self._closing and not self._to_cancel:
                    return
                batch = self._to_submit[:self.settings.batch]
            stage = "submit"
            try:
                if batch:
                    s = self.settings
                    items = [TaskSubmit(key=t.key, spec=t.spec.to_json_dict(None), tags=t.tags, slots=t.slots,
                                        priority=s.priority, max_retries=s.max_retries) for t in batch]
                    with self._lock:
                        self._submitting += 1
                    try:
                        ids = self.service.submit(self.client_id, items)
                    finally:
                        with self._lock:
                            self._submitting -= 1
                    news = False
                    with self._lock:
                        for t, tid in zip(batch, ids):
                            if t in self._to_submit:
                                self._to_submit.remove(t)
                            t.task_id = tid
                            self._by_id[tid] = t
                            if t.cancel:
                                self._to_cancel.append(tid)
                            early = self._early.pop(tid, None)
                            if early is not None and not t.done:
                                news = self._apply_one(t, early) or news
                        if not self._submitting and not self._to_submit:
                            self._early.clear()
                        self._lock.notify_all()
                    if news:
                        self._notify()
                stage = "cancel"
                self._flush_cancels()
                failures = 0
                self.last_error = None
            except Exception as e:  # noqa: BLE001 - a client closed under a request raises anything
                if self._closing:
                    return
                if not isinstance(e, RemoteError):
                    raise
                self.last_error = str(e)
                if isinstance(e, ServerUnavailable):
                    failures += 1
                    self._wait(self._backoff(failures))
                elif stage == "submit":
                    self._refused(batch, e)
                # a refused cancel (the task is not ours any more) is dropped: there is nothing left to stop

    def _refused(self, batch: list[_Task], e: Exception) -> None:
        """The server refused a batch (4xx): those nodes fail."""
        with self._lock:
            for t in batch:
                if t in self._to_submit:
                    self._to_submit.remove(t)
                self._final(t, TaskStatus(FAILED, TaskResult(False, error=f"the server refused the task: {e}"),
                                          reason="rejected"))
        self._notify()

    def _flush_cancels(self, deadline: float | None = None) -> None:
        from ..remote.client import ServerUnavailable

        while True:
            with self._lock:
                ids, self._to_cancel = self._to_cancel, []
            if not ids:
                return
            try:
                self.service.cancel(ids)
                return
            except ServerUnavailable:
                with self._lock:
                    self._to_cancel = ids + self._to_cancel
                if deadline is None or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    # -- the watcher thread -----------------------------------------------------------------
    def _watcher(self) -> None:
        from ..remote.client import RemoteError
        from ..remote.protocol import TaskWatch

        failures = 0
        last_news = time.monotonic()
        while True:
            with self._lock:
                while not self._closing and not any(not t.done for t in self._by_id.values()):
                    self._lock.wait()
                if self._closing:
                    return
                verify = time.monotonic() - last_news > VERIFY_AFTER_S
                watches = [TaskWatch(id=t.task_id, version=t.version, log_seq=t.log_seq)
                           for t in self._by_id.values() if not t.done] if verify else []
            try:
                if verify:  # now and then, by id: notices tasks the server lost (a reset database)
                    states, cursor = self.service.status(self.client_id, watches, 0.0), None
                    last_news = time.monotonic()
                else:
                    states, cursor = self.service.changes(self.client_id, self._cursor, self.settings.wait_s)
                failures = 0
                self.last_error = None
            except Exception as e:  # noqa: BLE001 - a client closed under a request raises anything
                if self._closing:
                    return
                if not isinstance(e, RemoteError):
                    raise
                self.last_error = str(e)
                failures += 1
                self._wait(self._backoff(failures))
                continue
            if cursor is not None:
                self._cursor = cursor
            if states:
                now = time.monotonic()
                if self._apply(states):
                    self._notify()
                # news came at once: the tasks are busy. Let the next ones gather a moment, so a flood
                # of small tasks costs a few requests a second, not one per change.
                pause = MIN_CYCLE_S - (now - last_news)
                last_news = now
                if pause > 0:
                    self._wait(pause)

    def _apply(self, states) -> bool:
        changed = False
        with self._lock:
            for st in states:
                task = self._by_id.get(st.id)
                if task is None:
                    if self._submitting or self._to_submit:  # news of a task whose id is still on its way
                        self._early[st.id] = st
                    continue
                if task.done:
                    continue
                changed = self._apply_one(task, st) or changed
        return changed

    def _apply_one(self, task: _Task, st) -> bool:
        """One task's news (lock held); True when ``poll`` has something new."""
        if st.missing:
            self._final(task, TaskStatus(FAILED, TaskResult(False, error=f"the server does not know task "
                                                            f"{st.id} any more"), reason="lost"))
            return True
        if st.version < task.version:
            return False  # older news than we have (an early copy)
        task.version, task.log_seq = st.version, st.log_seq
        lines = [(s, line) for s, line in st.log]
        if st.retries > task.retries:
            lines.append(("stderr", f"[nodeflow: runner lost, task {st.id} queued again (retry {st.retries})]"))
            task.retries = st.retries
        task.log.extend(lines)
        state = _STATE.get(st.state, QUEUED)
        host = st.host or st.runner
        if state in _FINAL:
            self._final(task, TaskStatus(state, self._result(st), new_log=lines, reason=st.reason, host=host,
                                         job_id=f"task {st.id}", started_at=st.started_at))
            return True
        if state == RUNNING or lines:
            prev = self._changes.get(task.handle)
            new_log = (prev.new_log if prev is not None else []) + lines
            report = RUNNING if state == RUNNING else task.state
            self._changes[task.handle] = TaskStatus(report, new_log=new_log, host=host, job_id=f"task {st.id}",
                                                    started_at=st.started_at)
            task.state = report
            return True
        task.state = state
        return False

    @staticmethod
    def _result(st) -> TaskResult:
        r = st.result
        if r is None:
            return TaskResult(st.state == "succeeded", error=None if st.state == "succeeded" else
                              (st.reason or st.state))
        try:
            outputs = decode(r.outputs or {})
        except Exception as e:  # a result we cannot read is a failure, not a crash
            return TaskResult(False, error=f"unreadable result from the runner: {e}", exit_code=r.exit_code)
        return TaskResult(r.ok, outputs, r.error, r.exit_code, r.started_at, r.finished_at,
                          [(s, line) for s, line in r.log])
