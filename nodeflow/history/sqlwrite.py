"""Writing attempt rows to the history file: shared by the store and the writer process.

``upsert_rows`` is the one place that sends rows to SQLite (many rows per
statement). ``HistoryStore`` calls it inside its own transaction; run as a
script (``python sqlwrite.py DB``) this module is the history writer process
(see ``writer_process.py``), which calls it for batches that arrive on stdin.

This file imports nothing from nodeflow, so the writer process starts without
loading the package (its start-up is that of a bare interpreter).

Wire format, both directions over the child's stdin/stdout: a frame is a
4-byte little-endian length and a ``marshal`` payload (plain values only:
str, int, float, None, lists, tuples, dicts). The parent sends first
``(sql_many, sql_one, rows_per_statement, outputs_column)`` and then one list
of rows per batch; the child answers each batch with ``None`` (written,
committed), the error's text (nothing of the batch written) or a list of row
indexes (written, but those rows' outputs could not be encoded here and were
left NULL). A row's ``outputs_column`` holds JSON text, None, or the outputs
themselves as plain values, which the child encodes (``encode_plain_outputs``:
the same text the parent's encoder gives them) — the encoding then costs the
run nothing. marshal turns numpy arrays and scalars into bytes (it takes any
buffer); JSON refuses bytes, so such rows come back by index, and the parent
encodes their outputs itself and sends them again (the upsert fills them in).
"""
from __future__ import annotations

import json
import marshal
import sqlite3
import struct
import sys
from typing import Any, BinaryIO, Callable, Sequence

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


def compact_json_encoder(default: Callable[[Any], Any] | None = None) -> Callable[[Any], str]:
    """``json.dumps(value, separators=(",", ":"))`` (ASCII, NaN allowed) through the C encoder
    built once: ``json.dumps`` with any argument, and ``JSONEncoder.encode``, build a new one per
    call — most of the cost for the small dicts of node outputs. ``default`` as in json.dumps;
    no check for circular references (a cyclic value ends in RecursionError)."""
    from json import encoder as je

    if je.c_make_encoder is None:  # pragma: no cover - CPython always has it
        return json.JSONEncoder(separators=(",", ":"), default=default, check_circular=False).encode

    def refuse(value: Any) -> Any:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    c_encode = je.c_make_encoder(None, default or refuse, je.encode_basestring_ascii, None, ":", ",",
                                 False, False, True)

    def dumps(value: Any) -> str:
        return "".join(c_encode(value, 0))

    return dumps


def encode_plain_outputs(rows: Sequence[list[Any]], column: int) -> list[int]:
    """JSON text, in place, for outputs sent as plain values (compact separators, ASCII: what
    the store's ``encode_outputs`` gives plain values). Outputs it cannot encode become None;
    returns the indexes of those rows."""
    dumps = _dumps_compact
    refused = []
    for i, row in enumerate(rows):
        value = row[column]
        if value is not None and value.__class__ is not str:
            try:
                row[column] = dumps(value)
            except (TypeError, ValueError, RecursionError):
                row[column] = None
                refused.append(i)
    return refused


_dumps_compact = compact_json_encoder()


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
            sql_many, sql_one, per_statement, outputs_column = receive(inp)
        except EOFError:
            return
        while True:
            try:
                rows = receive(inp)
            except EOFError:
                return
            try:
                refused = encode_plain_outputs(rows, outputs_column)
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
                send(out, refused or None)
    finally:
        db.close()


if __name__ == "__main__":
    try:
        serve(sys.argv[1], sys.stdin.buffer, sys.stdout.buffer)
    except BrokenPipeError:  # the parent went away: nothing left to answer
        pass
