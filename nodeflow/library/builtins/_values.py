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


#: values ``number`` passes through unchanged
_PLAIN_NUMBERS = frozenset({int, float, bool})


def numbers(label: str, name: str, value: Any) -> list:
    """A multiinput terminal's values, each checked with ``number``."""
    vals = as_list(value)
    for v in vals:
        if v.__class__ not in _PLAIN_NUMBERS:
            break
    else:  # all plain numbers already (the usual case): nothing to check or convert
        return vals
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


#: what arithmetic raises for bad operands (ArithmeticError: division by zero, overflow, numpy's FloatingPointError)
_ARITHMETIC_ERRORS = (ArithmeticError, TypeError, ValueError)


def arithmetic_error(label: str, e: BaseException) -> NodeError:
    """The NodeError a node reports for an arithmetic failure ``e``."""
    if isinstance(e, ZeroDivisionError):
        return NodeError(f"{label}: division by zero")
    if isinstance(e, FloatingPointError):
        msg = str(e)
        return NodeError(f"{label}: {'division by zero' if 'divide by zero' in msg else msg}")
    if isinstance(e, OverflowError):
        return NodeError(f"{label}: the result is too large to represent")
    return NodeError(f"{label}: {e}")


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
    except _ARITHMETIC_ERRORS as e:
        raise arithmetic_error(label, e) from None


def calculate(label: str, operands: Any, fn, *args: Any) -> Any:
    """``plain(fn(*args))`` under ``arithmetic(label, *operands)``, as a plain function call.

    The one-line math nodes use this: for plain Python numbers it is a try block
    around the call — the generator-based context manager cost several times the
    arithmetic itself, once per node run."""
    for v in operands:
        if v.__class__ not in _PLAIN_NUMBERS:
            with arithmetic(label, *operands):
                return plain(fn(*args))
    try:
        return fn(*args)
    except _ARITHMETIC_ERRORS as e:
        raise arithmetic_error(label, e) from None


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
