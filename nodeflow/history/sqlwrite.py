"""Writing attempt rows to the history file: shared by the store and the writer process.

``upsert_rows`` is the one place that sends rows to SQLite (many rows per
statement). ``HistoryStore`` calls it inside its own transaction; run as a
script (``python sqlwrite.py DB``) this module is the history writer process
(see ``writer_process.py``), which calls it for batches that arrive on stdin.

This file imports nothing from nodeflow, so the writer process starts without
loading the package (its start-up is that of a bare interpreter).

Wire format, both directions over the child's stdin/stdout: a frame is a
4-byte little-endian length and a ``marshal`` payload (plain values only:
str, int, float, None, lists, tuples). The parent sends first
``(sql_many, sql_one, rows_per_statement)`` and then one list of rows per
batch; the child answers each batch with ``None`` (written, committed) or the
error's text (nothing of the batch written).
"""
from __future__ import annotations

import marshal
import sqlite3
import struct
import sys
from typing import Any, BinaryIO, Sequence

_LEN = struct.Struct("<I")


def upsert_rows(db: sqlite3.Connection, params: Sequence[Sequence[Any]], sql_many: str, sql_one: str,
                per_statement: int) -> None:
    """Execute the upsert for ``params`` (rows of plain values) on ``db``, ``per_statement`` rows
    per ``sql_many`` statement and the rest one by one with ``sql_one``. The caller owns the
    transaction. Many rows per statement: SQLite inserts them in one step with the GIL released."""
    whole = len(params) - len(params) % per_statement
    for i in range(0, whole, per_statement):
        db.execute(sql_many, [v for row in params[i:i + per_statement] for v in row])
    if whole < len(params):
        db.executemany(sql_one, params[whole:])


def frame(value: Any) -> bytes:
    """``value`` as one frame; ValueError if it holds anything but plain values."""
    data = marshal.dumps(value)
    return _LEN.pack(len(data)) + data


def send(stream: BinaryIO, value: Any) -> None:
    stream.write(frame(value))
    stream.flush()


def receive(stream: BinaryIO) -> Any:
    """The next frame's value; raises EOFError when the other side has gone."""
    head = stream.read(_LEN.size)
    if len(head) < _LEN.size:
        raise EOFError("the other side closed the pipe")
    (n,) = _LEN.unpack(head)
    data = stream.read(n)
    if len(data) < n:
        raise EOFError("the other side closed the pipe in the middle of a frame")
    return marshal.loads(data)


def serve(path: str, inp: BinaryIO, out: BinaryIO, busy_timeout_s: float = 10.0) -> None:
    """The writer process: write each batch from ``inp`` in a transaction of its own, answer on ``out``."""
    db = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout_s)
    try:
        db.execute("PRAGMA synchronous=NORMAL")  # as the store's own connection (the file is in WAL mode)
        try:
            sql_many, sql_one, per_statement = receive(inp)
        except EOFError:
            return
        while True:
            try:
                rows = receive(inp)
            except EOFError:
                return
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    upsert_rows(db, rows, sql_many, sql_one, per_statement)
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            except Exception as e:  # told to the parent, which keeps the rows and tries again later
                send(out, f"{type(e).__name__}: {e}")
            else:
                send(out, None)
    finally:
        db.close()


if __name__ == "__main__":
    try:
        serve(sys.argv[1], sys.stdin.buffer, sys.stdout.buffer)
    except BrokenPipeError:  # the parent went away: nothing left to answer
        pass
