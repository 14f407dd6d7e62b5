"""Helpers the built-in nodes share: checking input values and turning errors into NodeErrors.

Nothing here imports numpy at module level; ``np()`` imports it on first use.
"""
from __future__ import annotations

import math
import os
from contextlib import contextmanager
from typing import Any, Iterator

from ..types import NodeError


def np():
    import numpy  # lazily: importing the library must not import numpy

    return numpy


def is_numpy(value: Any) -> bool:
    """True for numpy arrays and numpy scalars, without importing numpy."""
    return type(value).__module__ == "numpy"


def as_list(value: Any) -> list:
    """A multiinput value as a list (the engine always gives one; be lenient anyway)."""
    if isinstance(value, list):
        return value
    if isinstance(value, tuple):
        return list(value)
    return [] if value is None else [value]


def describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def number(label: str, name: str, value: Any) -> Any:
    """``value`` as a number or a numeric numpy array; NodeError if it is neither.

    Numeric text (``"2.5"``) is read as a number; lists of numbers (how saved
    files hold arrays) become arrays.
    """
    if value is None:
        raise NodeError(f"{label}: {name!r} has no value")
    if isinstance(value, (bool, int, float)):
        return value
    if is_numpy(value):
        kind = getattr(getattr(value, "dtype", None), "kind", "")
        if kind not in ("b", "i", "u", "f"):
            raise NodeError(f"{label}: {name!r} must hold numbers, got an array of {value.dtype}")
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            raise NodeError(f"{label}: {name!r} must be a number, got the text {describe(value)}") from None
    if isinstance(value, (list, tuple)):
        try:
            arr = np().asarray(value)
        except ValueError as e:
            raise NodeError(f"{label}: {name!r} is a list that is not a regular array of numbers ({e})") from None
        if arr.dtype.kind not in ("b", "i", "u", "f"):
            raise NodeError(f"{label}: {name!r} must be a list of numbers, got {describe(value)}")
        return arr
    raise NodeError(f"{label}: {name!r} must be a number or an array, got {type(value).__name__} "
                    f"{describe(value)}")


def numbers(label: str, name: str, value: Any) -> list:
    """A multiinput terminal's values, each checked with ``number``."""
    vals = as_list(value)
    return [number(label, f"{name}[{i}]" if len(vals) > 1 else name, v) for i, v in enumerate(vals)]


def whole(label: str, name: str, value: Any, minimum: int | None = None) -> int:
    """``value`` as an int (2.0 is fine, 2.5 is not)."""
    v = number(label, name, value)
    if is_numpy(v):
        if getattr(v, "ndim", 0) != 0:
            raise NodeError(f"{label}: {name!r} must be a single whole number, got an array")
        v = v.item()
    if isinstance(v, float) and (not math.isfinite(v) or v != int(v)):
        raise NodeError(f"{label}: {name!r} must be a whole number, got {v!r}")
    v = int(v)
    if minimum is not None and v < minimum:
        raise NodeError(f"{label}: {name!r} must be at least {minimum}, got {v}")
    return v


def scalar(label: str, name: str, value: Any) -> float | int:
    """A single real number (not an array)."""
    v = number(label, name, value)
    if is_numpy(v):
        if getattr(v, "ndim", 0) != 0:
            raise NodeError(f"{label}: {name!r} must be a single number, got an array")
        v = v.item()
    return v


def text(label: str, name: str, value: Any, *, allow_empty: bool = True) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise NodeError(f"{label}: {name!r} must be text, got {type(value).__name__} {describe(value)}")
    if not allow_empty and not value:
        raise NodeError(f"{label}: {name!r} is empty")
    return value


@contextmanager
def arithmetic(label: str, *values: Any) -> Iterator[None]:
    """Run arithmetic, turning division by zero, overflow and bad operands into NodeErrors.

    When numpy values take part, numpy's floating-point warnings are raised
    as errors too (an array divided by zero fails the node instead of giving inf).
    """
    try:
        if any(is_numpy(v) for v in values):
            with np().errstate(divide="raise", over="raise", invalid="raise"):
                yield
        else:
            yield
    except ZeroDivisionError:
        raise NodeError(f"{label}: division by zero") from None
    except FloatingPointError as e:
        msg = str(e)
        if "divide by zero" in msg:
            msg = "division by zero"
        raise NodeError(f"{label}: {msg}") from None
    except OverflowError:
        raise NodeError(f"{label}: the result is too large to represent") from None
    except (TypeError, ValueError) as e:
        raise NodeError(f"{label}: {e}") from None


def real(label: str, value: Any) -> Any:
    """Refuse complex results (Python gives one for (-8) ** 0.5)."""
    if isinstance(value, complex) or (is_numpy(value) and getattr(value.dtype, "kind", "") == "c"):
        raise NodeError(f"{label}: the result is not a real number")
    return value


def plain(value: Any) -> Any:
    """A numpy scalar as the matching Python number; arrays and Python values unchanged."""
    if is_numpy(value) and getattr(value, "ndim", 1) == 0 and hasattr(value, "item"):
        return value.item()
    return value
