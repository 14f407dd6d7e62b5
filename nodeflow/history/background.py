"""``BackgroundWriter``: the thread that writes a recorder's batches, and the writer process it feeds.

The recorder (``recorder.py``) turns events into batches; this module owns
writing them off the run's thread: the thread and its queue, the writer
process (``writer_process.py``, started for big runs), rows a write failed for
(kept and tried again), and whether the process is idle (the recorder then
hands it smaller batches, so they follow its pace).

A batch is ``(rows, successes, executors)``: rows in ``ATTEMPT_COLUMNS``
order, first attempts' NODE_SUCCEEDED events kept whole, and each run's
executor. The process makes the successes' rows itself (input fingerprints
included, ``sqlwrite.success_rows``); without it this thread does.

A big run's workflow hash is made here too (``hash_workflow``): in the
process when its entries are plain, filled in the run's row after it began.

The end of a run is written after every batch before it (``end_run``): the
run's row says finished only once all its rows are in. The recorder does
not wait for it — the run returns at once — but promises it to the store
(``HistoryStore.promise_write``), whose reads and close() wait for it; the
interpreter's exit lets writer threads still writing finish (``_finish_writers``,
up to ``EXIT_PATIENCE_S`` each).
"""
from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
from collections import deque
from typing import Any

from ..engine.fingerprint import input_fingerprint
from ..engine.plan import workflow_hash_of
from .sqlwrite import success_rows
from .store import encode_attempt_values
from .writer_process import HistoryWriteError, HistoryWriterGone, HistoryWriterProcess, RowsNotPlain

__all__ = ["BackgroundWriter", "RunEnd", "all_rows"]

log = logging.getLogger(__name__)

#: at exit, how long each writer thread still writing may take to finish (seconds)
EXIT_PATIENCE_S = 60.0
#: writer threads alive -> their queue (so that the interpreter's exit lets them finish)
_WRITERS: dict[threading.Thread, queue.Queue] = {}
#: put in the queue by start_process_soon()
_START_PROCESS: list[Any] = []

#: (rows, succeeded first attempts' events, run -> its executor)
Batch = tuple


def all_rows(batch: Batch) -> list[list[Any]]:
    """A batch's rows followed by the rows of its success events (``sqlwrite.success_rows``)."""
    rows, successes, executors = batch
    if not successes:
        return rows
    return rows + success_rows([e[1:] for e in successes], executors, input_fingerprint)


class _WorkflowHash:
    """A run's workflow hash to make of its entries and fill in (RUN_STARTED's ``hash_entries``)."""

    __slots__ = ("run_id", "entries")

    def __init__(self, run_id: str, entries: list):
        self.run_id, self.entries = run_id, entries


class RunEnd:
    """A run's end: its row finished (state, time) after every batch before it is written;
    ``ticket``: the store's, when it was promised."""

    __slots__ = ("run_id", "state", "time", "ticket")

    def __init__(self, run_id: str, state: str, time: float):
        self.run_id, self.state, self.time, self.ticket = run_id, state, time, None


class BackgroundWriter:
    """Writes batches to ``store`` on a thread of its own (started at once).

    ``process_min_rows``: a batch of at least that many rows starts the writer
    process (None: never; a store without a file never does). ``report(error)``
    is told of write errors (the recorder keeps the last one).
    """

    def __init__(self, store, process_min_rows: int | None, report=None):
        self.store = store
        self.process_min_rows = process_min_rows
        self.process: HistoryWriterProcess | None = None
        #: the writer process has written every batch handed to it: the next rows may go at once
        self.idle = False
        self._report = report or (lambda error: None)
        self._failed: deque[list[Any]] = deque()  # rows a write failed for, filled by the thread
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="nodeflow-history-writer", daemon=True)
        _WRITERS[self._thread] = self._queue
        self._thread.start()

    # -- the recorder's side -------------------------------------------------------------
    def start_process_soon(self) -> None:
        """A big run starts: start the writer process now, while the run does."""
        if self.process_min_rows is not None:
            self._queue.put(_START_PROCESS)

    def hash_workflow(self, run_id: str, entries: list) -> None:
        """Make the run's workflow hash of its entries (in the writer process when there is one)
        and fill it in the run's row."""
        self._queue.put(_WorkflowHash(run_id, entries))

    def put(self, batch: Batch) -> None:
        """Hand over a batch (rows a write failed for before go first, in order)."""
        if self._failed:
            batch[0][:0] = self._take_failed()
        self.idle = False
        self._queue.put(batch)

    def has_failed_rows(self) -> bool:
        return bool(self._failed)

    def _take_failed(self) -> list[list[Any]]:
        """The rows a write failed for, in order (the deque is filled by the thread: taken one by one)."""
        failed, again = self._failed, []
        while failed:
            again.append(failed.popleft())
        return again

    def end_run(self, end: RunEnd) -> None:
        """Finish the run's row after every batch before it, without waiting for that when the
        store can be promised it (its reads wait instead); otherwise wait, then finish it here."""
        promise = getattr(self.store, "promise_write", None)
        if not self._thread.is_alive():  # (it should not die: if it did, what it held is written here)
            log.warning("the history writer thread has stopped: writing the end of run %s from here", end.run_id)
            self._write_left_behind()
            self._end_run(end)
        elif promise is not None:
            end.ticket = promise(self._thread)
            self._queue.put(end)
        else:
            self.wait()
            self._end_run(end)

    def wait(self) -> None:
        """Block until every batch handed over is written."""
        self._queue.join()

    def stop(self, wait: bool = False) -> None:
        """Let the thread stop once it has written what it holds (then the process goes)."""
        self._queue.put(None)
        if wait:
            self._thread.join()

    # -- the thread ----------------------------------------------------------------------
    def _loop(self) -> None:
        q = self._queue
        try:
            while True:
                item = q.get()
                try:
                    if item is None:
                        return
                    if item.__class__ is RunEnd:
                        self._end_run(item)
                    elif item.__class__ is _WorkflowHash:
                        self._hash_workflow(item)
                    elif item is not _START_PROCESS:
                        self._write_batch(item)
                    elif self.process is None and self.process_min_rows is not None:
                        self._start_process()
                    # with the writer process, hand it rows again as soon as it is free: batches
                    # follow the pace at which it writes
                    self.idle = self.process is not None and q.unfinished_tasks == 1
                except Exception as e:  # keep the rows: the next batch brings them again
                    self._log_once(e, "could not write run history to %s", getattr(self.store, "path", self.store))
                    if item.__class__ is tuple:
                        self._keep_failed(item)
                finally:
                    q.task_done()
        finally:
            _WRITERS.pop(threading.current_thread(), None)
            if self.process is not None:  # every batch is committed: the child may go
                self.process.close()
                self.process = None

    def _keep_failed(self, batch: Batch) -> None:
        try:
            self._failed.extend(all_rows(batch))
        except Exception:  # rows that cannot even be made (a value no text can be made of): dropped, said
            log.exception("dropping %d history rows that cannot be written", len(batch[0]) + len(batch[1]))

    def _write_left_behind(self) -> None:
        """Batches still queued for a thread that died: written from here, in order."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item.__class__ is tuple:
                try:
                    self.store.upsert_attempt_values(all_rows(item))
                except Exception as e:
                    self._log_once(e, "could not write run history to %s", getattr(self.store, "path", self.store))

    def _log_once(self, error: BaseException, message: str, *args) -> None:
        if getattr(self, "_last_error_type", None) is not type(error):
            log.exception(message, *args)
        self._last_error_type = type(error)
        self._report(error)

    def _write_batch(self, batch: Batch) -> None:
        """Through the writer process when there is one, or the batch is big enough to start it;
        otherwise, or when the process fails, through the store."""
        rows, successes, executors = batch
        proc = self.process
        if (proc is None and self.process_min_rows is not None
                and len(rows) + len(successes) >= self.process_min_rows):
            proc = self._start_process()
        if proc is None:
            self.store.upsert_attempt_values(all_rows(batch))
            return
        try:
            try:
                # as they are: the child makes the successes' rows and encodes plain outputs itself
                refused = proc.write(rows, [e[1:] for e in successes], executors)
                if refused:  # outputs it could not encode (numpy values): encoded here, filled in
                    every = all_rows(batch)
                    proc.write(encode_attempt_values([every[i] for i in refused]))
            except RowsNotPlain:  # values marshal refuses: all encoded here
                proc.write(encode_attempt_values(all_rows(batch)))
            return
        except HistoryWriteError as e:
            log.warning("the history writer process could not write %d rows (%s): writing them from here",
                        len(rows) + len(successes), e)
        except HistoryWriterGone as e:
            self._lose_process(e)
        self.store.upsert_attempt_values(all_rows(batch))

    def _hash_workflow(self, job: _WorkflowHash) -> None:
        """The child makes it when the entries are plain; otherwise (numpy values, say) this thread."""
        proc = self.process
        if proc is not None:
            try:
                if proc.workflow_hash(job.run_id, job.entries):
                    return
            except HistoryWriterGone as e:
                self._lose_process(e)
        self.store.set_workflow_hash(job.run_id, workflow_hash_of(list(job.entries)))

    def _lose_process(self, why: HistoryWriterGone) -> None:
        log.warning("%s: the run history is written from this process from now on", why)
        self.process, self.process_min_rows = None, None

    def _start_process(self) -> HistoryWriterProcess | None:
        path = getattr(self.store, "path", None)
        if not isinstance(path, os.PathLike):  # ":memory:": no file another process could open
            self.process_min_rows = None
            return None
        try:
            self.process = HistoryWriterProcess(path)
        except HistoryWriterGone as e:
            log.warning("%s: the run history is written from this process", e)
            self.process_min_rows = None
        return self.process

    def _end_run(self, end: RunEnd) -> None:
        """One more try for rows a write failed for, then the run's row finished (and the store's
        promise kept, if it was given one)."""
        try:
            if self._failed:
                again = self._take_failed()
                try:
                    self.store.upsert_attempt_values(again)
                except Exception as err:  # kept for a later batch
                    self._log_once(err, "could not write run history to %s", getattr(self.store, "path", self.store))
                    self._failed.extendleft(reversed(again))
            try:
                self.store.finish_run(end.run_id, end.state, end.time)
            except Exception as err:
                log.exception("could not record the end of run %s", end.run_id)
                self._report(err)
        finally:
            if end.ticket is not None:
                self.store.promise_kept(end.ticket)


@atexit.register
def _finish_writers() -> None:
    """At the interpreter's exit (before daemon threads are stopped), let every writer thread
    write what it holds: a run's end may still be on its way to the history file."""
    for thread, q in list(_WRITERS.items()):
        q.put(None)  # (one left open by a recorder never closed; a second stop is never read)
        thread.join(EXIT_PATIENCE_S)
