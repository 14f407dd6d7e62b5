"""``HistoryRecorder``: the run observer that writes runs and attempts to the history.

It turns ``RunEvent``s into ``attempts`` rows kept in memory and written in
batches: when ``flush_every`` attempts have finished, or when
``flush_interval_s`` has passed since the last write (checked as events come
in — no thread of its own), and always when the run finishes. ``RUN_STARTED``
writes the run row at once, ``RUN_FINISHED`` finishes it. In background mode
the batches and the run's end go to a writer thread (``background.py``), and
the run does not wait for them: the run's row is finished after its last
batch is in, and the store's reads wait for that.

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
does not make those events at all unless another observer wants them. The
usual event, a first attempt's NODE_SUCCEEDED in such a run, is only kept as
it is: its row — and the fingerprint of its ``hash_inputs`` — is made where
it is written (``sqlwrite.success_rows``), in the writer process when there
is one, so that work is off the run's thread.

Any ``data`` key may be missing. Writing never raises into the scheduler: a
failed write is logged, its rows kept and tried again later.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable

from ..engine.events import EventKind, RunEvent
from ..engine.fingerprint import input_fingerprint
from ..engine.plan import workflow_hash_of
from .background import BackgroundWriter, RunEnd, all_rows
from .sqlwrite import input_hash_of, success_row
from .sqlwrite import int_or_none as _int
from .sqlwrite import text as _text
from .sqlwrite import type_path as _type_path
from .store import ATTEMPT_COLUMNS, HistoryStore

__all__ = ["HistoryRecorder", "WRITER_PROCESS_MIN_ROWS"]

#: in background mode, a batch of at least this many rows starts the history writer process
#: (writer_process.py), which then writes every later batch of the recorder
WRITER_PROCESS_MIN_ROWS = 500
#: while the writer process is idle, this many finished rows are enough for a batch
IDLE_FLUSH_MIN_ROWS = 64

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
        batches follow its pace. Nothing of it makes the run wait: see ``background.py``."""
        self.background = background
        self.process_min_rows = process_min_rows
        self._writer: BackgroundWriter | None = None  # (background) started with the first run
        self.store = store
        self.flush_every = max(1, int(flush_every))
        self.flush_interval_s = float(flush_interval_s)
        self._clock = clock
        self._rows: dict[tuple[str, str, int], list[Any]] = {}  # open attempts, not yet written
        #: first attempts' NODE_SUCCEEDED events of the runs in _event_runs, not yet written
        self._successes: list[RunEvent] = []
        #: runs whose succeeded first attempts are kept as events (see on_event) -> the run's executor
        self._event_runs: dict[str, Any] = {}
        #: finished attempts, not yet written (moved out of _rows; a late event of one still finds it here)
        self._done: dict[tuple[str, str, int], list[Any]] = {}
        self._runs: dict[str, _Run] = {}
        #: runs whose final events carry their attempt record (RUN_STARTED's ``attempt_records``)
        self._record_runs: set[str] = set()
        self._next_flush = clock() + self.flush_interval_s
        self.last_error: BaseException | None = None

    # -- observer ------------------------------------------------------------------------
    def makes_workflow_hash(self, nodes: int) -> bool:
        """Whether a run of that many nodes should hand this recorder the workflow hash's entries
        (RUN_STARTED's ``hash_entries``) instead of the hash: its writer process makes it, off the
        run's thread (a 10,000-node workflow's hash costs the run about 4 µs/node)."""
        return self.background and self.process_min_rows is not None and nodes >= self.process_min_rows

    def ignored_kinds(self, run_id: str) -> frozenset[EventKind]:
        """NODE_QUEUED and NODE_STARTED of a run that sends attempt records (see on_event)."""
        return _PROGRESS_KINDS if run_id in self._record_runs else frozenset()

    def on_event(self, event: RunEvent) -> None:
        kind = event.kind
        if event.node is not None:
            if kind is _SUCCEEDED:  # the usual event, first
                if event.attempt == 1 and event.run_id in self._event_runs and not self._rows:
                    # the whole attempt is in the event: kept as it is, its row is made where it is
                    # written (an open row of it, from an earlier event, takes the general path)
                    successes = self._successes
                    successes.append(event)
                    if self._flush_due(len(successes)):
                        self.flush()
                    return
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
        done = len(self._done) + len(self._successes)
        if done and self._flush_due(done):
            self.flush()

    def _flush_due(self, finished: int) -> bool:
        """Whether ``finished`` rows held make a batch now: enough of them, time, or a writer
        process that is idle and a few of them."""
        return (finished >= self.flush_every or self._clock() >= self._next_flush
                or (finished >= IDLE_FLUSH_MIN_ROWS and self._writer is not None and self._writer.idle))

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
        return len(self._rows) + len(self._done) + len(self._successes)

    @property
    def writer(self) -> BackgroundWriter | None:
        """The writer thread (background mode, once a run started; None after close())."""
        return self._writer

    @property
    def writer_process(self):
        """The history writer process in use, if any (``writer_process.HistoryWriterProcess``)."""
        return self._writer.process if self._writer is not None else None

    def wait_written(self) -> None:
        """Block until every batch handed to the writer thread is in the store."""
        if self._writer is not None:
            self._writer.wait()

    def close(self, wait: bool = False) -> None:
        """Let the writer thread stop once it has written what it holds, then the writer process.
        Waits for that only with ``wait``: the end of every run is promised to the store, whose
        reads and close() wait for it, and the interpreter's exit waits for writer threads still
        writing (``background.py``)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.stop(wait)

    def _report(self, error: BaseException) -> None:
        self.last_error = error

    def _write(self, open_keys: list[tuple[str, str, int]]) -> bool:
        """Write every finished attempt, and the open ones named by ``open_keys`` as they stand.

        A written row leaves memory; a later event of the same attempt starts a
        partial row, which the store merges into the written one."""
        self._next_flush = self._clock() + self.flush_interval_s
        writer = self._writer
        if not open_keys and not self._done and not self._successes and not (writer and writer.has_failed_rows()):
            return True
        rows = self._rows
        batch_rows = list(self._done.values())
        if open_keys:
            batch_rows += [rows[k] for k in open_keys]
        batch = (batch_rows, self._successes, dict(self._event_runs))
        if writer is not None:
            # the rows leave this thread: nothing touches a row again once it is out of _rows/_done
            writer.put(batch)
        else:
            try:
                self.store.upsert_attempt_values(all_rows(batch))
            except Exception as e:  # never break the run because history can't be written
                if self.last_error is None or type(e) is not type(self.last_error):
                    log.exception("could not write run history to %s", getattr(self.store, "path", self.store))
                self.last_error = e
                return False  # kept: finished rows wait in _done and _successes, open ones stay open
        self._done = {}
        self._successes = []
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
        if self.background and self._writer is None:
            self._writer = BackgroundWriter(self.store, self.process_min_rows, self._report)
        d = e.data
        run = self._runs[e.run_id] = _Run(d.get("executor"))
        nodes = d.get("nodes")
        for item in nodes or ():  # plain uniquenames, or dicts naming their type
            if isinstance(item, dict):
                name = item.get("uniquename") or item.get("node") or item.get("name")
                ntype = item.get("node_type") or item.get("type")
                if name is not None and ntype is not None:
                    run.node_types[name] = _type_path(ntype)
        if d.get("attempt_records"):
            self._record_runs.add(e.run_id)
            if not run.node_types:  # (a node type the events leave out comes from there)
                self._event_runs[e.run_id] = run.executor
        total = d.get("total")
        if total is None and nodes is not None:
            total = len(nodes)
        if (self._writer is not None and self.process_min_rows is not None and isinstance(total, int)
                and total >= self.process_min_rows):
            self._writer.start_process_soon()  # a big run: the writer process starts while the run does
        path = d.get("workflow_path")
        if path is not None:
            # ``nodeflow history FILE`` finds runs by absolute path; a relative one is relative to here
            path = os.path.abspath(os.fspath(path))
        workflow_hash, entries = d.get("workflow_hash"), d.get("hash_entries")
        if workflow_hash is None and entries is not None and self._writer is None:
            workflow_hash = workflow_hash_of(list(entries))  # no thread to leave it to
        try:
            self.store.begin_run(e.run_id, workflow_path=path,
                                 workflow_hash=workflow_hash, workflow_name=d.get("workflow_name"),
                                 executor=run.executor, host=d.get("host"), started_at=e.time,
                                 node_count=total, parent_run_id=d.get("parent_run_id"), params=d.get("params"))
        except Exception as err:
            log.exception("could not record the start of run %s", e.run_id)
            self.last_error = err
        if workflow_hash is None and entries is not None:
            self._writer.hash_workflow(e.run_id, entries)  # filled in once made

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
            row[_INPUT_HASH] = input_hash_of(d, row[_NODE_TYPE], input_fingerprint)
            v = g("stdout_path")
            row[_STDOUT] = v if v is None or v.__class__ is str else _text(v)
            v = g("stderr_path")
            row[_STDERR] = v if v is None or v.__class__ is str else _text(v)
        else:
            row[_REUSED] = 0
        self._finish(key, row, e, "succeeded")

    def _record_succeeded(self, key: tuple[str, str, int], e: RunEvent) -> None:
        """The whole row of a succeeded attempt from its one event (``attempt_records``): the same
        values ``_row``, ``_fill_record`` and ``_node_succeeded`` give."""
        run = self._runs.get(e.run_id)
        if run is None:
            run = self._runs[e.run_id] = _Run()
        attempts = run.attempts
        if e.attempt > attempts.get(e.node, 0):
            attempts[e.node] = e.attempt
        self._done[key] = success_row(e.run_id, e.time, e.node, e.attempt, e.data, run.node_types.get(e.node),
                                      run.executor, input_fingerprint)

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
        state = _text(e.data.get("state"))
        end = RunEnd(run_id, state if state is not None else "finished", e.time)
        if self._writer is not None:
            # the writer thread finishes the run's row after its last batch: the run is marked
            # finished only once all its rows are in, and the scheduler's thread does not wait for
            # that (the store's reads do)
            self._writer.end_run(end)
        else:
            try:
                self.store.finish_run(end.run_id, end.state, end.time)
            except Exception as err:
                log.exception("could not record the end of run %s", run_id)
                self.last_error = err
        self._runs.pop(run_id, None)
        self._record_runs.discard(run_id)
        self._event_runs.pop(run_id, None)

