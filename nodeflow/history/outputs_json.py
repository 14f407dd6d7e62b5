"""A node's output values as the history stores them: JSON text (``model.values.encode``
with arrays inline), so rerun-failed can reuse them. Plain values (the usual) go straight
through one C encoder made once; anything else takes the walk through ``encode``."""
from __future__ import annotations

import json
from typing import Any, Callable

from ..model.values import encode, json_default

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


def _plain_encoder() -> Callable[[Any], str]:
    """``json.dumps`` for plain values, raising ``_NotPlain`` for anything else (numpy …).

    Builds the C encoder once instead of once per call, which is most of the
    cost for the small output dicts nodes usually have."""
    from json import encoder as je

    if je.c_make_encoder is None:  # pragma: no cover - CPython always has it
        return json.JSONEncoder(separators=(",", ":"), default=_refuse).encode
    # no circular-reference markers: a cyclic value ends in RecursionError, caught below
    c_encode = je.c_make_encoder(None, _refuse, je.encode_basestring_ascii, None, ":", ",", False, False, True)

    def dumps(value: Any) -> str:
        return "".join(c_encode(value, 0))

    return dumps


_dumps_plain = _plain_encoder()
