"""Writing attempt rows to the history file: shared by the store and the writer process.

``upsert_rows`` is the one place that sends rows to SQLite (many rows per
statement). ``HistoryStore`` calls it inside its own transaction; run as a
script (``python sqlwrite.py DB``) this module is the history writer process
(see ``writer_process.py``), which calls it for batches that arrive on stdin.

This file imports nothing from nodeflow, so the writer process starts without
loading the package (its start-up is that of a bare interpreter).

It also makes the row of a succeeded attempt from its NODE_SUCCEEDED event
(``success_row``): the recorder hands such events over as they are, and the
rows (input fingerprints included: ``hash_inputs``) are made where they are
written — in the writer process when there is one, so that work is off the
run's thread too.

Wire format, both directions over the child's stdin/stdout: a frame is a
4-byte little-endian length and a ``marshal`` payload (plain values only:
str, int, float, None, lists, tuples, dicts). The parent sends first
``(sql_many, sql_one, rows_per_statement, fingerprint_module_path)`` and then
one ``(rows, successes, executors)`` per batch: rows in ``ATTEMPT_COLUMNS``
order, then succeeded attempts as ``(run_id, time, node, attempt, data)``
(a NODE_SUCCEEDED event without its kind) with ``executors`` giving each
run's executor for events that name none. The child writes the rows, then the
successes' rows, in one transaction, and answers ``None`` (written,
committed), the error's text (nothing of the batch written) or a list of
indexes into rows + successes (written, but those outputs could not be encoded
here and were left NULL). Outputs go as plain values, which the child encodes
(``encode_plain_outputs``: the same text the parent's encoder gives them) —
the encoding then costs the run nothing. marshal turns numpy arrays and
scalars into bytes (it takes any buffer); JSON refuses bytes, so such rows
come back by index, and the parent encodes their outputs itself and sends them
again (the upsert fills them in). A frame may instead be
``{"workflow_hash": run_id, "entries": [...]}``: the child makes the run's
workflow hash (``fingerprint.workflow_fingerprint``) and fills it in its row,
answering ``None`` or why it could not (the parent then makes it).
"""
from __future__ import annotations

import json
import marshal
import os
import sqlite3
import struct
import sys
from typing import Any, BinaryIO, Callable, Mapping, Sequence

_LEN = struct.Struct("<I")

#: the attempts table's columns, in the order rows are made and written (the schema is store.py's)
ATTEMPT_COLUMNS = ("run_id", "node", "attempt", "node_type", "executor", "host", "queued_at", "started_at",
                   "finished_at", "state", "exit_code", "error", "reason", "stdout_path", "stderr_path", "job_id",
                   "input_hash", "outputs", "reused")
OUTPUTS_COLUMN = ATTEMPT_COLUMNS.index("outputs")
#: fills in a run's workflow hash, made after the run began (the store's and this process's)
SET_WORKFLOW_HASH_SQL = "UPDATE runs SET workflow_hash = ? WHERE run_id = ?"

#: ``fingerprint(type_name, inputs)`` -> the input hash (engine/fingerprint.py's input_fingerprint)
Fingerprint = Callable[[str, Mapping[str, Any]], str]


# -- values bound for the attempts table ---------------------------------------------------

def text(value: Any) -> Any:
    """A value bound for a TEXT column: str or None (enums give their value, paths their text)."""
    if value is None or value.__class__ is str:
        return value
    value = getattr(value, "value", value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


def int_or_none(value: Any) -> int | None:
    if value is None or value.__class__ is int:
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def type_path(value: Any) -> Any:
    """A node type as text: a path tuple joined by "/"."""
    if isinstance(value, (list, tuple)):
        return "/".join(value)
    return text(value)


def input_hash_of(data: Mapping[str, Any], node_type: Any, fingerprint: Fingerprint) -> str | None:
    """NODE_SUCCEEDED's ``input_hash``, or else the fingerprint of its ``hash_inputs`` (None if
    it has neither, or they cannot be fingerprinted)."""
    ih = data.get("input_hash")
    if ih is not None:
        return ih if ih.__class__ is str else text(ih)
    inputs = data.get("hash_inputs")
    if inputs is None or node_type is None:
        return None
    try:
        return fingerprint(node_type, inputs)
    except (TypeError, ValueError, RecursionError):
        return None


def success_row(run_id: str, time: float, node: str, attempt: int, data: Mapping[str, Any],
                default_type: str | None, default_executor: str | None, fingerprint: Fingerprint) -> list[Any]:
    """The whole ``ATTEMPT_COLUMNS`` row of a succeeded attempt from its NODE_SUCCEEDED event,
    which carries the attempt record (RUN_STARTED's ``attempt_records``); ``default_type`` and
    ``default_executor`` stand in for a record that names none. Outputs stay raw."""
    g = data.get
    nt, ex, host, job = g("node_type"), g("executor"), g("host"), g("job_id")
    nt = default_type if nt is None else nt if nt.__class__ is str else type_path(nt)
    ex = default_executor if ex is None else ex if ex.__class__ is str else text(ex)
    code, out, err = g("exit_code"), g("stdout_path"), g("stderr_path")
    return [run_id, node, attempt, nt, ex, host if host is None or host.__class__ is str else text(host),
            g("queued_at"), g("started_at"), time, "succeeded",
            code if code is None or code.__class__ is int else int_or_none(code), None, None,
            out if out is None or out.__class__ is str else text(out),
            err if err is None or err.__class__ is str else text(err),
            job if job is None or job.__class__ is str else text(job),
            input_hash_of(data, nt, fingerprint), g("outputs"), 1 if g("reused") else 0]


def success_rows(successes: Sequence[Sequence[Any]], executors: Mapping[str, Any],
                 fingerprint: Fingerprint) -> list[list[Any]]:
    """``success_row`` of each ``(run_id, time, node, attempt, data)``; ``executors``: run -> its executor."""
    return [success_row(r, t, n, a, d, None, executors.get(r), fingerprint) for r, t, n, a, d in successes]


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


def load_fingerprints(path: str):
    """engine/fingerprint.py, loaded by its path (a bare module: this process imports nothing of
    nodeflow)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("nodeflow_fingerprint", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fill_workflow_hash(db: sqlite3.Connection, message: dict, workflow_fingerprint) -> str | None:
    """Make ``{"workflow_hash": run_id, "entries": [...]}``'s hash and fill it in the run's row;
    None when done, else why not (the parent then makes it: values JSON refuses, say)."""
    try:
        value = workflow_fingerprint(message["entries"])
        db.execute(SET_WORKFLOW_HASH_SQL, (value, message["workflow_hash"]))
    except Exception as e:
        return f"{type(e).__name__}: {e}"
    return None


def serve(path: str, inp: BinaryIO, out: BinaryIO, busy_timeout_s: float = 10.0) -> None:
    """The writer process: write each batch from ``inp`` in a transaction of its own, answer on ``out``."""
    import gc

    # every batch is tens of thousands of small containers that die together, without cycles: the
    # cyclic GC would walk them again and again (measured: it tripled the time to unmarshal a batch)
    gc.disable()
    db = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout_s)
    try:
        db.execute("PRAGMA synchronous=NORMAL")  # as the store's own connection (the file is in WAL mode)
        try:
            sql_many, sql_one, per_statement, fingerprint_path = receive(inp)
        except EOFError:
            return
        fingerprints = load_fingerprints(fingerprint_path)
        fingerprint = fingerprints.input_fingerprint
        while True:
            try:
                message = receive(inp)
            except EOFError:
                return
            if message.__class__ is dict:  # a run's workflow hash to make
                send(out, _fill_workflow_hash(db, message, fingerprints.workflow_fingerprint))
                continue
            rows, successes, executors = message
            try:
                if successes:
                    rows += success_rows(successes, executors, fingerprint)
                refused = encode_plain_outputs(rows, OUTPUTS_COLUMN)
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
