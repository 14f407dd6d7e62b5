"""Fingerprints: what a node computed from, and what a workflow computes, as short hashes.

Rerun-failed compares them: a node whose fingerprint matches the one its
earlier run recorded reuses that run's outputs. ``engine.plan.input_hash``
fingerprints any inputs (numpy values by their bytes); the history may
fingerprint plain inputs itself, later, when the scheduler hands it the
values instead of the hash (NODE_SUCCEEDED's ``hash_inputs``).

The workflow hash (``workflow_fingerprint``) is made from one entry per node
(``engine.plan`` gathers them while planning): history and ETA recognise a
workflow by it when its file moved.

This file is bare on purpose — the standard library only, no imports from
nodeflow — because the history writer process (``history/sqlwrite.py`` run
as a bare script) loads it by its path and makes both there, off the run's
thread, when the values are plain. Both sides then make the same text: for a
node, the type, then the inputs as JSON (C encoder, ", " and ": " separators,
non-ASCII kept, dict order as given), then the resources' JSON if any; for a
workflow, a format line and the entries sorted by name as ``json.dumps``
gives them.
"""
from __future__ import annotations

import hashlib
import json
from json import encoder as _je
import operator
from typing import Any, Callable, Mapping

__all__ = ["WORKFLOW_HASH_FORMAT", "input_fingerprint", "make_encoder", "plain_encoder", "workflow_fingerprint"]

#: the first line of a workflow hash's text: a different way to make it gets a new one
#: (2: connections as each node's input sources in connection order, no longer a sorted list of all)
WORKFLOW_HASH_FORMAT = "nodeflow workflow hash 2\n"

#: ``encode(value, 0)`` -> an iterable of JSON text pieces
Encoder = Callable[[Any, int], Any]


def _refuse(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def make_encoder(default: Callable[[Any], Any] | None = None) -> Encoder:
    """The C JSON encoder, made once (``JSONEncoder.encode`` builds a new one per call, which is
    most of the cost of a node's few inputs). The same text as ``json.dumps(value,
    ensure_ascii=False, default=default)``."""
    if _je.c_make_encoder is None:  # pragma: no cover - CPython always has it
        enc = json.JSONEncoder(default=default or _refuse, check_circular=False, ensure_ascii=False)
        return lambda value, _level: enc.iterencode(value)
    return _je.c_make_encoder(None, default or _refuse, _je.encode_basestring, None, ": ", ", ",
                              False, False, True)


#: the encoder for plain values (numbers, text, None, lists and dicts of them)
plain_encoder = make_encoder()


def input_fingerprint(type_name: str, inputs: Mapping[str, Any], resources_json: str | None = None,
                      encode: Encoder = plain_encoder) -> str:
    """The fingerprint of a node of type ``type_name`` ("math/Add") given ``inputs``
    (``{terminal: value}`` in plan order; no sorting needed to be stable), plus its resources'
    JSON (sorted keys) when it declares any."""
    text = type_name + "".join(encode(inputs, 0))
    if resources_json:
        text += resources_json
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def workflow_fingerprint(entries: list, dumps: Callable[[Any], str] | None = None) -> str:
    """The workflow hash of its per-node ``entries`` — ``(name, path, {terminal: value}, settings,
    {input: upstream ends})`` — sorted here by name, in place. ``dumps`` as ``json.dumps`` (the
    engine's knows numpy values; without one, only plain values)."""
    entries.sort(key=_first)
    text = WORKFLOW_HASH_FORMAT + (dumps(entries) if dumps is not None else json.dumps(entries, check_circular=False))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


_first = operator.itemgetter(0)
