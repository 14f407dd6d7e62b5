"""Terminal values to and from JSON.

Terminal values are plain JSON values, except numpy arrays and scalars that
nodes compute. Three encodings are offered, each for one purpose:

* ``to_plain``: what Nodeworks writes into a saved file (arrays as lists).
* ``encode`` / ``decode`` with a ``sidecar`` folder: TaskSpecs and worker
  results, arrays written as ``.npy`` files beside the JSON.
* ``encode`` / ``decode`` without a folder: arrays inline (base64 of the
  ``.npy`` bytes), for the history store.
"""
from __future__ import annotations

import base64
import io
import os
from pathlib import Path
from typing import Any

ARRAY_KEY = "__ndarray__"


def _np():
    import numpy  # imported lazily: plain workflows never need it

    return numpy


def _is_numpy(value: Any) -> bool:
    return type(value).__module__ == "numpy"


def to_plain(value: Any) -> Any:
    """numpy arrays and scalars become lists and Python numbers, recursively."""
    if _is_numpy(value):
        return value.tolist()
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value


def json_default(value: Any) -> Any:
    """``default=`` hook for ``json.dumps``: numpy to plain, sets to lists."""
    if _is_numpy(value):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"value of type {type(value).__name__} cannot be stored in a workflow")


def encode(value: Any, sidecar: str | os.PathLike | None = None, _counter: list[int] | None = None) -> Any:
    """A JSON-able form of ``value`` that ``decode`` turns back into the same value."""
    counter = _counter if _counter is not None else [0]
    if _is_numpy(value):
        np = _np()
        if isinstance(value, np.ndarray):
            if sidecar is not None:
                name = f"array{counter[0]}.npy"
                counter[0] += 1
                np.save(Path(sidecar) / name, value, allow_pickle=False)
                return {ARRAY_KEY: name}
            buf = io.BytesIO()
            np.save(buf, value, allow_pickle=False)
            return {ARRAY_KEY: base64.b64encode(buf.getvalue()).decode("ascii"), "inline": True}
        return value.item()
    if isinstance(value, dict):
        return {k: encode(v, sidecar, counter) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v, sidecar, counter) for v in value]
    return value


def decode(value: Any, sidecar: str | os.PathLike | None = None) -> Any:
    if isinstance(value, dict):
        if ARRAY_KEY in value:
            np = _np()
            if value.get("inline"):
                return np.load(io.BytesIO(base64.b64decode(value[ARRAY_KEY])), allow_pickle=False)
            if sidecar is None:
                raise ValueError("an array stored beside the file needs its folder to be read")
            name = value[ARRAY_KEY]
            if "/" in name or "\\" in name or name.startswith("."):
                raise ValueError(f"bad array file name {name!r}")
            return np.load(Path(sidecar) / name, allow_pickle=False)
        return {k: decode(v, sidecar) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v, sidecar) for v in value]
    return value
