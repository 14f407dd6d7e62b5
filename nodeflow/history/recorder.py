"""``HistoryRecorder``: the run observer that writes runs and attempts to the history.

It turns ``RunEvent``s into ``attempts`` rows kept in memory and written in
batches: when ``flush_every`` attempts have finished, or when
``flush_interval_s`` has passed since the last write (checked as events come
in — no thread of its own), and always when the run finishes. ``RUN_STARTED``
and ``RUN_FINISHED`` write the run row at once.

Events map to rows like this (``event.attempt`` is the 1-based attempt number,
``event.time`` the wall time):

==============  ==================================================================
NODE_QUEUED     queued_at; executor, node_type
NODE_STARTED    started_at; executor, host, job_id
NODE_SUCCEEDED  finished_at, state "succeeded"; outputs, reused, exit_code,
                input_hash, stdout_path, stderr_path
NODE_FAILED     finished_at, state "failed" ("cancelled" when reason is
                "cancelled"); error, exit_code, reason, stdout_path, stderr_path
NODE_RETRYING   closes the attempt as "failed" (error, reason — "retrying" if none —,
                exit_code, log paths); the next attempt arrives with the next
                event's ``attempt``
NODE_SKIPPED    finished_at, state "skipped"; reason
NODE_SUBMITTED  journaled at once (``store.journal_job``): a remote job id must
                survive the process, so ``run --attach`` never submits twice
==============  ==================================================================

When ``RUN_STARTED`` says ``attempt_records`` (the scheduler does), every
final node event carries the attempt it closes (node_type, executor,
queued_at, started_at, host, job_id): the row is made from that one event and
NODE_QUEUED / NODE_STARTED of the run are not looked at — a third of the
recorder's work per node. ``ignored_kinds`` tells the scheduler so, which then
does not make those events at all unless another observer wants them.

Any ``data`` key may be missing. Writing never raises into the scheduler: a
failed write is logged, its rows kept and tried again later.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import deque
from typing import Any, Callable

from ..engine.events import EventKind, RunEvent
from .store import ATTEMPT_COLUMNS, HistoryStore, encode_attempt_values
from .writer_process import HistoryWriteError, HistoryWriterGone, HistoryWriterProcess, RowsNotPlain

__all__ = ["HistoryRecorder", "WRITER_PROCESS_MIN_ROWS"]

#: in background mode, a batch of at least this many rows starts the history writer process
#: (writer_process.py), which then writes every later batch of the recorder
WRITER_PROCESS_MIN_ROWS = 500
#: while the writer process is idle, this many finished rows are enough for a batch
IDLE_FLUSH_MIN_ROWS = 64
#: put in the writer thread's queue by a big run's RUN_STARTED
_START_PROCESS: list[Any] = []

log = logging.getLogger(__name__)

# A row in memory is a list in ATTEMPT_COLUMNS order (cheaper than a dict per attempt).
_COL = {c: i for i, c in enumerate(ATTEMPT_COLUMNS)}
_NODE_TYPE, _EXECUTOR, _HOST = _COL["node_type"], _COL["executor"], _COL["host"]
_QUEUED_AT, _STARTED_AT, _FINISHED_AT, _STATE = _COL["queued_at"], _COL["started_at"], _COL["finished_at"], _COL["state"]
_EXIT_CODE, _ERROR, _REASON = _COL["exit_code"], _COL["error"], _COL["reason"]
_STDOUT, _STDERR, _JOB_ID = _COL["stdout_path"], _COL["stderr_path"], _COL["job_id"]
_INPUT_HASH, _OUTPUTS, _REUSED = _COL["input_hash"], _COL["outputs"], _COL["reused"]
_WIDTH = len(ATTEMPT_COLUMNS)
_BLANK = [None] * _WIDTH

_RUN_STARTED, _RUN_FINISHED = EventKind.RUN_STARTED, EventKind.RUN_FINISHED
_QUEUED, _STARTED, _SUCCEEDED = EventKind.NODE_QUEUED, EventKind.NODE_STARTED, EventKind.NODE_SUCCEEDED
_FAILED, _RETRYING, _SKIPPED = EventKind.NODE_FAILED, EventKind.NODE_RETRYING, EventKind.NODE_SKIPPED
_SUBMITTED = EventKind.NODE_SUBMITTED
_PROGRESS_KINDS = frozenset({_QUEUED, _STARTED})


def _text(value: Any) -> Any:
    """A value bound for a TEXT column: str or None (enums give their value, paths their text)."""
    if value is None or value.__class__ is str:
        return value
    value = getattr(value, "value", value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


def _int(value: Any) -> int | None:
    if value is None or value.__class__ is int:
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _type_path(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return "/".join(value)
    return _text(value)


_TEXT_RECORD = ((_EXECUTOR, "executor"), (_HOST, "host"), (_JOB_ID, "job_id"))


def _fill_record(row: list[Any], d: Any) -> None:
    """The attempt record a final event carries (``attempt_records``) into its row; values it
    lacks keep what the row has (a job id journaled earlier, say)."""
    g = d.get
    v = g("node_type")
    if v is not None:
        row[_NODE_TYPE] = v if v.__class__ is str else _type_path(v)
    for col, name in _TEXT_RECORD:
        v = g(name)
        if v is not None:
            row[col] = v if v.__class__ is str else _text(v)
    v = g("queued_at")
    if v is not None:
        row[_QUEUED_AT] = v
    v = g("started_at")
    if v is not None:
        row[_STARTED_AT] = v


class _Run:
    """What the recorder remembers of a run in progress."""

    __slots__ = ("executor", "node_types", "attempts")

    def __init__(self, executor: Any = None):
        self.executor = _text(executor)
        self.node_types: dict[str, str] = {}
        self.attempts: dict[str, int] = {}  # node -> highest attempt number seen


class HistoryRecorder:
    """A ``RunObserver`` writing what it sees to ``store``.

    ``clock`` (monotonic seconds) times the flushes; tests may pass their own.
    """

    def __init__(self, store: HistoryStore, flush_every: int = 2000, flush_interval_s: float = 0.5, *,
                 clock: Callable[[], float] = time.monotonic, background: bool = False,
                 process_min_rows: int | None = WRITER_PROCESS_MIN_ROWS):
        """``background``: write batches on a thread of the recorder's own (started when a run
        starts, stopped by ``close()``), so SQLite works while the scheduler goes on. That thread
        hands batches to a writer process once a run of at least ``process_min_rows`` nodes starts
        (the process starts with it) or a batch that big comes (None: never; stores without a file
        never do): SQLite then runs on another core and does not take turns at the GIL with the
        run. While the process is idle, ``IDLE_FLUSH_MIN_ROWS`` finished rows make a batch, so
        batches follow its pace and the last one, which the end of the run waits for, is small."""
        self.background = background
        self.process_min_rows = process_min_rows
        self._process: HistoryWriterProcess | None = None
        self._queue: queue.Queue | None = None
        self._writer: threading.Thread | None = None
        self._failed: deque[list[Any]] = deque()
        self.store = store
        self.flush_every = max(1, int(flush_every))
        self.flush_interval_s = float(flush_interval_s)
        self._clock = clock
        self._rows: dict[tuple[str, str, int], list[Any]] = {}  # open attempts, not yet written
        #: finished attempts, not yet written (moved out of _rows; a late event of one still finds it here)
        self._done: dict[tuple[str, str, int], list[Any]] = {}
        self._runs: dict[str, _Run] = {}
        #: runs whose final events carry their attempt record (RUN_STARTED's ``attempt_records``)
        self._record_runs: set[str] = set()
        self._next_flush = clock() + self.flush_interval_s
        #: the writer process has written every batch handed to it: the next rows go at once
        self._idle = False
        self.last_error: BaseException | None = None

    # -- observer ------------------------------------------------------------------------
    def ignored_kinds(self, run_id: str) -> frozenset[EventKind]:
        """NODE_QUEUED and NODE_STARTED of a run that sends attempt records (see on_event)."""
        return _PROGRESS_KINDS if run_id in self._record_runs else frozenset()

    def on_event(self, event: RunEvent) -> None:
        kind = event.kind
        if event.node is not None:
            if kind is _SUCCEEDED:  # the usual event, first
                self._node_succeeded(event)
            elif kind is _QUEUED or kind is _STARTED:
                if event.run_id in self._record_runs:
                    return  # the final event brings all of it
                if kind is _QUEUED:
                    self._node_queued(event)
                else:
                    self._node_started(event)
            elif kind is _FAILED:
                self._node_failed(event)
            elif kind is _RETRYING:
                self._node_retrying(event)
            elif kind is _SKIPPED:
                self._node_skipped(event)
            elif kind is _SUBMITTED:
                self._node_submitted(event)
                return
            else:
                if kind.__class__ is not EventKind:
                    self._coerced(event)
                return  # logs, progress
        elif kind is _RUN_STARTED:
            self._run_started(event)
            return
        elif kind is _RUN_FINISHED:
            self._run_finished(event)
            return
        else:
            if kind.__class__ is not EventKind:
                self._coerced(event)
            return
        done = self._done
        if done and (len(done) >= self.flush_every or (self._idle and len(done) >= IDLE_FLUSH_MIN_ROWS)
                     or self._clock() >= self._next_flush):
            self.flush()

    def _coerced(self, event: RunEvent) -> None:
        """An event whose kind is a plain string ("node_queued"): handled as its EventKind."""
        try:
            kind = EventKind(event.kind)
        except ValueError:
            return
        self.on_event(event._replace(kind=kind))

    def flush(self, everything: bool = False) -> bool:
        """Write the finished attempts held in memory (with ``everything``, the
        unfinished ones too, as they stand); False if the write failed (rows kept)."""
        return self._write(list(self._rows) if everything else [])

    @property
    def pending(self) -> int:
        """Rows held in memory, not yet written (finished or not)."""
        return len(self._rows) + len(self._done)

    # -- background writing ------------------------------------------------------------------
    def _start_writer(self) -> None:
        if self.background and self._writer is None:
            self._queue = queue.Queue()
            self._writer = threading.Thread(target=self._writer_loop, name="nodeflow-history-writer", daemon=True)
            self._writer.start()

    def _writer_loop(self) -> None:
        q = self._queue
        while True:
            batch = q.get()
            try:
                if batch is None:
                    return
                if batch is not _START_PROCESS:
                    self._write_batch(batch)
                elif self._process is None and self.process_min_rows is not None:
                    self._start_process()
                # with the writer process, hand it rows again as soon as it is free: batches follow
                # the pace at which it writes, and the run's last batch (written while the run
                # waits) is small
                self._idle = self._process is not None and q.unfinished_tasks == 1
            except Exception as e:  # keep the rows: the next flush tries them again
                if self.last_error is None or type(e) is not type(self.last_error):
                    log.exception("could not write run history to %s", getattr(self.store, "path", self.store))
                self.last_error = e
                self._failed.extend(batch)
            finally:
                q.task_done()

    def _write_batch(self, batch: list[list[Any]]) -> None:
        """Write one batch (writer thread): through the writer process when there is one, or the
        batch is big enough to start it; otherwise, or when the process fails, through the store."""
        proc = self._process
        if proc is None and self.process_min_rows is not None and len(batch) >= self.process_min_rows:
            proc = self._start_process()
        if proc is None:
            self.store.upsert_attempt_values(batch)
            return
        try:
            try:
                refused = proc.write(batch)  # as they are: the child encodes plain outputs itself
                if refused:  # outputs it could not encode (numpy values): encoded here, filled in
                    proc.write(encode_attempt_values([batch[i] for i in refused]))
            except RowsNotPlain:  # values marshal refuses: all encoded here
                proc.write(encode_attempt_values(batch))
            return
        except HistoryWriteError as e:
            log.warning("the history writer process could not write %d rows (%s): writing them from here",
                        len(batch), e)
        except HistoryWriterGone as e:
            log.warning("%s: the run history is written from this process from now on", e)
            self._process, self.process_min_rows = None, None
        self.store.upsert_attempt_values(batch)

    def _start_process(self) -> HistoryWriterProcess | None:
        path = getattr(self.store, "path", None)
        if not isinstance(path, os.PathLike):  # ":memory:": no file another process could open
            self.process_min_rows = None
            return None
        try:
            self._process = HistoryWriterProcess(path)
        except HistoryWriterGone as e:
            log.warning("%s: the run history is written from this process", e)
            self.process_min_rows = None
        return self._process

    def wait_written(self) -> None:
        """Block until every batch handed to the writer thread is in the store."""
        if self._queue is not None:
            self._queue.join()

    def close(self) -> None:
        """Stop the writer thread (after writing what it holds) and the writer process."""
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join()
            self._writer = None
            self._queue = None
        if self._process is not None:
            self._process.close()
            self._process = None

    def _write(self, open_keys: list[tuple[str, str, int]]) -> bool:
        """Write every finished attempt, and the open ones named by ``open_keys`` as they stand.

        A written row leaves memory; a later event of the same attempt starts a
        partial row, which the store merges into the written one."""
        self._next_flush = self._clock() + self.flush_interval_s
        if not open_keys and not self._done and not self._failed:
            return True
        rows = self._rows
        batch = list(self._done.values())
        if open_keys:
            batch += [rows[k] for k in open_keys]
        if self._writer is not None:
            # the rows leave this thread: nothing touches a row again once it is out of _rows/_done
            failed = self._failed  # filled by the writer thread: taken one by one
            if failed:
                again = []
                while failed:
                    again.append(failed.popleft())
                batch[:0] = again
            self._idle = False
            self._queue.put(batch)
        else:
            try:
                self.store.upsert_attempt_values(batch)
            except Exception as e:  # never break the run because history can't be written
                if self.last_error is None or type(e) is not type(self.last_error):
                    log.exception("could not write run history to %s", getattr(self.store, "path", self.store))
                self.last_error = e
                return False  # kept: finished rows wait in _done, open ones stay open
        self._done = {}
        for k in open_keys:
            del rows[k]
        return True

    # -- rows ----------------------------------------------------------------------------
    def _row(self, event: RunEvent, attempt: int | None = None) -> tuple[tuple[str, str, int], list[Any]]:
        """The in-memory row of the event's attempt, created when it is the first event of it."""
        if attempt is None:
            attempt = event.attempt
        if attempt > 0:
            key = (event.run_id, event.node, attempt)
            row = self._rows.get(key)
            if row is not None:
                return key, row
            row = self._done.get(key)
            if row is not None:
                return key, row
        run_id, node = event.run_id, event.node
        run = self._runs.get(run_id)
        if run is None:
            run = self._runs[run_id] = _Run()
        if attempt > 0:
            if attempt > run.attempts.get(node, 0):
                run.attempts[node] = attempt
            row = None  # ``key`` is held by neither (looked up above)
        else:  # no attempt number: the node's latest
            attempt = run.attempts.get(node) or 1
            key = (run_id, node, attempt)
            row = self._rows.get(key) or self._done.get(key)
        if row is None:
            row = self._rows[key] = _BLANK.copy()
            row[0], row[1], row[2] = run_id, node, attempt
            row[_NODE_TYPE] = run.node_types.get(node)
            row[_EXECUTOR] = run.executor
        return key, row

    def _final_row(self, event: RunEvent, attempt: int | None = None) -> tuple[tuple[str, str, int], list[Any]]:
        """``_row`` for an event that closes the attempt: with the attempt record it carries."""
        key, row = self._row(event, attempt)
        if event.run_id in self._record_runs:
            _fill_record(row, event.data)
        return key, row

    def _finish(self, key, row: list[Any], event: RunEvent, state: str) -> None:
        row[_FINISHED_AT] = event.time
        row[_STATE] = state
        if self._rows.pop(key, None) is not None:
            self._done[key] = row

    # -- handlers ------------------------------------------------------------------------
    def _run_started(self, e: RunEvent) -> None:
        self._start_writer()
        d = e.data
        run = self._runs[e.run_id] = _Run(d.get("executor"))
        if d.get("attempt_records"):
            self._record_runs.add(e.run_id)
        nodes = d.get("nodes")
        for item in nodes or ():  # plain uniquenames, or dicts naming their type
            if isinstance(item, dict):
                name = item.get("uniquename") or item.get("node") or item.get("name")
                ntype = item.get("node_type") or item.get("type")
                if name is not None and ntype is not None:
                    run.node_types[name] = _type_path(ntype)
        total = d.get("total")
        if total is None and nodes is not None:
            total = len(nodes)
        if (self._queue is not None and self.process_min_rows is not None and isinstance(total, int)
                and total >= self.process_min_rows):
            self._queue.put(_START_PROCESS)  # a big run: the writer process starts while the run does
        path = d.get("workflow_path")
        if path is not None:
            # ``nodeflow history FILE`` finds runs by absolute path; a relative one is relative to here
            path = os.path.abspath(os.fspath(path))
        try:
            self.store.begin_run(e.run_id, workflow_path=path,
                                 workflow_hash=d.get("workflow_hash"), workflow_name=d.get("workflow_name"),
                                 executor=run.executor, host=d.get("host"), started_at=e.time,
                                 node_count=total, parent_run_id=d.get("parent_run_id"), params=d.get("params"))
        except Exception as err:
            log.exception("could not record the start of run %s", e.run_id)
            self.last_error = err

    def _node_queued(self, e: RunEvent) -> None:
        key, row = self._row(e)
        row[_QUEUED_AT] = e.time
        row[_STATE] = "queued"
        d = e.data
        if d:
            ex = d.get("executor")
            if ex is not None:
                row[_EXECUTOR] = ex if ex.__class__ is str else _text(ex)
            nt = d.get("node_type")
            if nt is not None:
                if nt.__class__ is not str:
                    nt = _type_path(nt)
                row[_NODE_TYPE] = self._runs[e.run_id].node_types[e.node] = nt

    # the hot handlers check for the usual str/None values inline before calling _text
    def _node_started(self, e: RunEvent) -> None:
        key, row = self._row(e)
        row[_STARTED_AT] = e.time
        row[_STATE] = "running"
        d = e.data
        if d:
            g = d.get
            v = g("executor")
            if v is not None:
                row[_EXECUTOR] = v if v.__class__ is str else _text(v)
            v = g("host")
            row[_HOST] = v if v is None or v.__class__ is str else _text(v)
            v = g("job_id")
            row[_JOB_ID] = v if v is None or v.__class__ is str else _text(v)

    def _node_succeeded(self, e: RunEvent) -> None:
        if e.run_id in self._record_runs and e.attempt > 0 and e.data:
            key = (e.run_id, e.node, e.attempt)
            if key not in self._rows and key not in self._done:  # the usual: no row of it yet
                self._record_succeeded(key, e)
                return
        key, row = self._final_row(e)
        d = e.data
        if d:
            g = d.get
            row[_OUTPUTS] = g("outputs")
            row[_REUSED] = 1 if g("reused") else 0
            v = g("exit_code")
            row[_EXIT_CODE] = v if v is None or v.__class__ is int else _int(v)
            v = g("input_hash")
            row[_INPUT_HASH] = v if v is None or v.__class__ is str else _text(v)
            v = g("stdout_path")
            row[_STDOUT] = v if v is None or v.__class__ is str else _text(v)
            v = g("stderr_path")
            row[_STDERR] = v if v is None or v.__class__ is str else _text(v)
        else:
            row[_REUSED] = 0
        self._finish(key, row, e, "succeeded")

    def _record_succeeded(self, key: tuple[str, str, int], e: RunEvent) -> None:
        """The whole row of a succeeded attempt from its one event (``attempt_records``), made in
        one step: the same values ``_row``, ``_fill_record`` and ``_node_succeeded`` give."""
        run = self._runs.get(e.run_id)
        if run is None:
            run = self._runs[e.run_id] = _Run()
        attempts = run.attempts
        if e.attempt > attempts.get(e.node, 0):
            attempts[e.node] = e.attempt
        g = e.data.get
        nt, ex, host, job = g("node_type"), g("executor"), g("host"), g("job_id")
        nt = run.node_types.get(e.node) if nt is None else nt if nt.__class__ is str else _type_path(nt)
        ex = run.executor if ex is None else ex if ex.__class__ is str else _text(ex)
        code, ih, out, err = g("exit_code"), g("input_hash"), g("stdout_path"), g("stderr_path")
        self._done[key] = [
            key[0], key[1], key[2], nt, ex, host if host is None or host.__class__ is str else _text(host),
            g("queued_at"), g("started_at"), e.time, "succeeded",
            code if code is None or code.__class__ is int else _int(code), None, None,
            out if out is None or out.__class__ is str else _text(out),
            err if err is None or err.__class__ is str else _text(err),
            job if job is None or job.__class__ is str else _text(job),
            ih if ih is None or ih.__class__ is str else _text(ih), g("outputs"), 1 if g("reused") else 0]

    def _node_failed(self, e: RunEvent) -> None:
        key, row = self._final_row(e)
        g = e.data.get
        reason = _text(g("reason"))
        row[_ERROR] = _text(g("error"))
        row[_EXIT_CODE] = _int(g("exit_code"))
        row[_REASON] = reason
        row[_STDOUT] = _text(g("stdout_path"))
        row[_STDERR] = _text(g("stderr_path"))
        self._finish(key, row, e, "cancelled" if reason == "cancelled" else "failed")

    def _node_retrying(self, e: RunEvent) -> None:
        d = e.data
        attempt = None
        nxt = _int(d.get("next_attempt"))
        if nxt is not None and e.attempt >= nxt > 1:
            attempt = nxt - 1  # the event names the coming attempt: close the one before it
        key, row = self._final_row(e, attempt)
        for col, name in ((_ERROR, "error"), (_REASON, "reason"), (_STDOUT, "stdout_path"),
                          (_STDERR, "stderr_path")):
            v = d.get(name)
            if v is not None:
                row[col] = _text(v)
        v = _int(d.get("exit_code"))
        if v is not None:
            row[_EXIT_CODE] = v
        if row[_REASON] is None:
            row[_REASON] = "retrying"
        if row[_FINISHED_AT] is None or row[_STATE] != "failed":
            self._finish(key, row, e, "failed")

    def _node_submitted(self, e: RunEvent) -> None:
        d = e.data
        job_id = _text(d.get("job_id"))
        if job_id is None:
            return  # nothing to find the job by again
        key, row = self._row(e)
        row[_JOB_ID] = job_id
        executor = d.get("executor")
        if executor is not None:
            row[_EXECUTOR] = _text(executor)
        try:
            self.store.journal_job(e.run_id, e.node, key[2], row[_EXECUTOR], job_id, d.get("workdir"), e.time,
                                   profile=_text(d.get("profile")), extra=d.get("extra"))
        except Exception as err:  # never break the run; say it loudly
            log.exception("could not journal job %s of %s", d.get("job_id"), e.node)
            self.last_error = err

    def _node_skipped(self, e: RunEvent) -> None:
        key, row = self._final_row(e)
        row[_REASON] = _text(e.data.get("reason"))
        self._finish(key, row, e, "skipped")

    def _run_finished(self, e: RunEvent) -> None:
        run_id = e.run_id
        # everything of this run still in memory: finished attempts and any left open
        self._write([k for k in self._rows if k[0] == run_id])
        self.wait_written()
        if self._failed:  # the writer could not write some rows: one more try, here
            self._write([])
            self.wait_written()
        state = _text(e.data.get("state"))
        try:
            self.store.finish_run(run_id, state if state is not None else "finished", e.time)
        except Exception as err:
            log.exception("could not record the end of run %s", run_id)
            self.last_error = err
        self._runs.pop(run_id, None)
        self._record_runs.discard(run_id)
