"""``HistoryWriterProcess``: a child process that writes attempt rows to the history file.

Why a process: the history of a big run is written while the run goes on.
From a thread of the running process, each SQLite statement hands the GIL
back and forth with the scheduler and the workers, and a 10,000-node run was
measured 30-40 % slower with history than without. A process of its own
writes on another core and costs the run only sending its rows.

The child is ``sqlwrite.py`` run as a script with ``-I -S`` (a bare
interpreter: it imports nothing of nodeflow or site-packages) on the same
file, through its own SQLite connection (the file is in WAL mode, so the
store's connection in this process reads and writes alongside it).
``write(rows)`` hands it one batch and returns once the batch is
committed; the recorder's writer thread is the one caller, so batches are
written in order. Succeeded attempts may go as their events, of which the
child makes the rows, input fingerprints included (``sqlwrite.success_rows``).
Rows go as they are — outputs included, which the child
encodes as JSON (so this process does not). ``write`` returns the indexes of
rows whose outputs the child could not encode (numpy values: marshal sends
them as bytes), and raises ``RowsNotPlain`` for rows marshal refuses; either
way the caller encodes those itself (``encode_attempt_values``) and sends them
again.
``close()`` does not wait for the child to exit (every batch is committed by
then); a daemon thread reaps it.

Errors: a batch the child could not write raises ``HistoryWriteError`` (the
child lives on; the caller keeps the rows and tries again). A child that
cannot be started, has died, or speaks nonsense raises
``HistoryWriterGone``; the caller writes through the store instead.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import Any, Sequence

from ..engine import fingerprint
from . import sqlwrite
from .store import ROWS_PER_STATEMENT, UPSERT_ROW_SQL, UPSERT_ROWS_SQL

__all__ = ["HistoryWriteError", "HistoryWriterGone", "HistoryWriterProcess", "RowsNotPlain"]

#: how long the child may take to exit after close() before it is killed
CLOSE_TIMEOUT_S = 30.0


class HistoryWriteError(RuntimeError):
    """The writer process could not write a batch (nothing of it was written)."""


class RowsNotPlain(HistoryWriteError):
    """The rows hold values the wire cannot carry (nothing was sent)."""


class HistoryWriterGone(RuntimeError):
    """The writer process could not be started, or has stopped answering."""


class HistoryWriterProcess:
    """A started writer process for the history file at ``path``."""

    def __init__(self, path: str | os.PathLike, python: str | None = None):
        if python is None and (getattr(sys, "frozen", False) or not sys.executable):
            # a bundled application's executable is the application, not Python
            raise HistoryWriterGone("no Python interpreter to run the history writer with")
        argv = [python or sys.executable, "-I", "-S", sqlwrite.__file__, os.fspath(path)]
        try:
            # a session of its own: a Ctrl-C at the terminal (the CLI's cancel) must not kill the
            # writer while the run still writes its last rows; it ends when its stdin closes
            self._proc: subprocess.Popen | None = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True, start_new_session=True)
        except OSError as e:
            raise HistoryWriterGone(f"cannot start the history writer ({argv[0]}): {e.strerror or e}") from None
        self.pid = self._proc.pid
        _widen_pipe(self._proc.stdin)
        try:
            sqlwrite.send(self._proc.stdin, (UPSERT_ROWS_SQL, UPSERT_ROW_SQL, ROWS_PER_STATEMENT,
                                             fingerprint.__file__))
        except OSError as e:
            self._gone(f"the history writer stopped at once: {e}")

    def write(self, rows: Sequence[Sequence[Any]], successes: Sequence[tuple] = (),
              executors: dict[str, Any] | None = None) -> list[int]:
        """Write rows in ``ATTEMPT_COLUMNS`` order, then the rows the child makes of ``successes``
        (``(run_id, time, node, attempt, data)`` of NODE_SUCCEEDED events, ``executors`` giving
        each run's executor: ``sqlwrite.success_rows``), in one transaction of the child's: plain
        values, outputs raw or encoded (``encode_attempt_values``). Returns the indexes (into rows
        + successes) of rows written with their outputs left NULL because the child could not
        encode them."""
        self._open()
        try:
            data = sqlwrite.frame((rows if isinstance(rows, list) else list(rows),
                                   successes if isinstance(successes, list) else list(successes), executors or {}))
        except ValueError as e:  # marshal takes plain values only
            raise RowsNotPlain(f"rows the history writer cannot take: {e}") from None
        answer = self._ask(data)
        if answer is None:
            return []
        if isinstance(answer, list):
            return answer
        raise HistoryWriteError(str(answer))

    def workflow_hash(self, run_id: str, entries: list) -> bool:
        """Have the child make a run's workflow hash of its entries (``fingerprint.workflow_fingerprint``)
        and fill it in the run's row; False when it could not (values marshal or JSON refuse: the
        caller makes it)."""
        self._open()
        try:
            data = sqlwrite.frame({"workflow_hash": run_id, "entries": entries})
        except ValueError:
            return False
        return self._ask(data) is None

    def _open(self) -> subprocess.Popen:
        if self._proc is None:
            raise HistoryWriterGone("the history writer is closed")
        return self._proc

    def _ask(self, frame: bytes) -> Any:
        """Send one frame, return the child's answer (HistoryWriterGone if it stopped)."""
        proc = self._open()
        try:
            proc.stdin.write(frame)
            proc.stdin.flush()
            return sqlwrite.receive(proc.stdout)
        except (OSError, EOFError, ValueError) as e:  # (ValueError: a garbled answer)
            self._gone(f"the history writer (pid {self.pid}) stopped: {e}")

    def close(self) -> None:
        """Let the child exit (closing its stdin: every batch written is committed already). A
        daemon thread reaps it, killing it if it hangs: the run need not wait for an interpreter
        to shut down."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()
        except OSError:
            pass
        try:
            threading.Thread(target=_reap, args=(proc,), name="nodeflow-history-writer-reaper", daemon=True).start()
        except RuntimeError:  # the interpreter is shutting down (no new threads): the child is told, reap here
            _reap(proc)

    def _gone(self, message: str):
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait()
            for f in (proc.stdin, proc.stdout):
                try:
                    f.close()
                except OSError:
                    pass
        raise HistoryWriterGone(message)


#: the most a batch's pipe may hold (Linux caps it at /proc/sys/fs/pipe-max-size, 1 MiB by default)
PIPE_BYTES = 1 << 20


def _widen_pipe(stream) -> None:
    """Let the pipe to the child hold a whole batch (Linux; elsewhere a no-op). With the usual
    64 KiB, a batch went over in many writes, and after each one the writer thread waited its
    turn at the GIL behind the busy scheduler thread (up to the 5 ms switch interval): a 2,000-row
    batch took 80-90 ms to hand over instead of a few."""
    try:
        import fcntl
    except ImportError:  # not a POSIX system
        return
    setsz = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setsz is None:
        return
    for size in (PIPE_BYTES, PIPE_BYTES // 4):
        try:
            fcntl.fcntl(stream.fileno(), setsz, size)
            return
        except OSError:  # above the system's limit (or not allowed): try smaller, else keep the default
            continue


def _reap(proc: subprocess.Popen) -> None:
    try:
        proc.wait(timeout=CLOSE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.stdout.close()
