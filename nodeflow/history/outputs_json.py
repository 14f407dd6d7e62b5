"""A node's output values as the history stores them: JSON text (``model.values.encode``
with arrays inline), so rerun-failed can reuse them. Plain values (the usual) go straight
through one C encoder made once; anything else takes the walk through ``encode``."""
from __future__ import annotations

import json
from typing import Any

from ..model.values import encode, json_default
from .sqlwrite import compact_json_encoder

__all__ = ["encode_outputs"]


class _NotPlain(Exception):
    pass


def _refuse(value: Any) -> Any:
    raise _NotPlain


def encode_outputs(outputs: Any) -> str | None:
    """``outputs`` as the JSON text of the ``outputs`` column; None when there are none or they
    cannot be stored (the attempt is still recorded, its outputs just cannot be reused)."""
    if outputs is None:
        return None
    try:  # the common case, plain JSON values: no walk through encode() needed
        return _dumps_plain(outputs)
    except _NotPlain:
        pass
    except (TypeError, ValueError, RecursionError):
        return None
    try:
        return json.dumps(encode(outputs), default=json_default, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        return None  # not storable: the attempt is recorded, its outputs just can't be reused


#: json.dumps for plain values, raising _NotPlain for anything else (numpy …); the writer process
#: encodes with the same encoder (sqlwrite.compact_json_encoder), so both give the same text
_dumps_plain = compact_json_encoder(_refuse)
