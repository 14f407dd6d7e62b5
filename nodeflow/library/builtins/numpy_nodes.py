"""numpy/*: arrays — Range (like numpy.arange), Linspace, Trig, Sum, Mean.

numpy is imported inside the functions, never when the library is imported.
"""
from __future__ import annotations

import math

from ..types import ANY, ARRAY, FLOAT, INT, STR, NodeError, NodeType, inp, out
from ._values import arithmetic, is_numpy, np, number, plain, scalar, whole

RANGE_TYPES = ("int", "int8", "int16", "int32", "int64", "float", "float16", "float32", "float64")
TRIG_OPERATIONS = ("sin", "sinh", "cos", "cosh", "tan", "tanh")
#: more elements than this is refused (a typo in step should not eat the memory)
MAX_ELEMENTS = 100_000_000


def _range(i, ctx):
    label = "Range"
    start, stop, step = (scalar(label, n, i.get(n)) for n in ("start", "stop", "step"))
    type_name = i.get("type") or "float"
    if type_name not in RANGE_TYPES:
        raise NodeError(f"{label}: unknown type {type_name!r}; choose one of {', '.join(RANGE_TYPES)}")
    if step == 0:
        raise NodeError(f"{label}: step must not be 0")
    if not all(math.isfinite(v) for v in (start, stop, step)):
        raise NodeError(f"{label}: start, stop and step must be finite numbers")
    n = math.ceil((stop - start) / step)
    if n > MAX_ELEMENTS:
        raise NodeError(f"{label}: {n} elements is too many (at most {MAX_ELEMENTS}); check start, stop and step")
    numpy = np()
    dtype = numpy.dtype(type_name)
    if dtype.kind in "iu":
        for name, v in (("start", start), ("step", step)):
            if float(v) != int(v):
                raise NodeError(f"{label}: an {type_name} range needs a whole-number {name}, got {v!r}")
        start, step = int(start), int(step)
        if n > 0:
            info = numpy.iinfo(dtype)
            last = start + (n - 1) * step
            if not (info.min <= min(start, last) and max(start, last) <= info.max):
                raise NodeError(f"{label}: values from {start} to {last} do not fit in {type_name} "
                                f"({info.min}..{info.max})")
    with arithmetic(label):
        return {"range": numpy.arange(start, stop, step, dtype=dtype)}


def _array(label: str, name: str, value):
    """A float array from a number, a list or an array."""
    v = number(label, name, value)
    numpy = np()
    return numpy.asarray(v, dtype=float) if not (is_numpy(v) and v.dtype.kind == "f") else numpy.asarray(v)


def _trig(i, ctx):
    op = i.get("operation") or "sin"
    if op not in TRIG_OPERATIONS:
        raise NodeError(f"Trig: unknown operation {op!r}; choose one of {', '.join(TRIG_OPERATIONS)}")
    a = _array("Trig", "input", i.get("input"))
    with arithmetic("Trig", a):
        return {"array": getattr(np(), op)(a)}


def _linspace(i, ctx):
    start, stop = scalar("Linspace", "start", i.get("start")), scalar("Linspace", "stop", i.get("stop"))
    num = whole("Linspace", "num", i.get("num"), minimum=0)
    if num > MAX_ELEMENTS:
        raise NodeError(f"Linspace: {num} elements is too many (at most {MAX_ELEMENTS})")
    with arithmetic("Linspace", start, stop):
        return {"array": np().linspace(start, stop, num)}


def _sum(i, ctx):
    a = number("Sum", "input", i.get("input"))
    with arithmetic("Sum", a):
        return {"result": plain(np().sum(a))}


def _mean(i, ctx):
    a = number("Mean", "input", i.get("input"))
    if is_numpy(a) and a.size == 0:
        raise NodeError("Mean: the input is empty")
    with arithmetic("Mean", a):
        return {"result": plain(np().mean(a))}


def _t(name, terminals, fn, description):
    return NodeType(("numpy", name), tuple(terminals), function=fn, description=description)


TYPES = [
    _t("Range", (inp("start", FLOAT, 0.0, "doublespinbox"), inp("stop", FLOAT, 10.0, "doublespinbox"),
                 inp("step", FLOAT, 1.0, "doublespinbox"),
                 inp("type", STR, "float", "combobox", items=RANGE_TYPES), out("range", ARRAY)),
       _range, "evenly spaced values from start up to (not including) stop, like numpy.arange"),
    _t("Trig", (inp("input", ANY, 0.0, "doublespinbox"),
                inp("operation", STR, "sin", "combobox", items=TRIG_OPERATIONS), out("array", ARRAY)),
       _trig, "a trigonometric or hyperbolic function, element-wise"),
    _t("Linspace", (inp("start", FLOAT, 0.0, "doublespinbox"), inp("stop", FLOAT, 1.0, "doublespinbox"),
                    inp("num", INT, 50, "spinbox", min=0), out("array", ARRAY)),
       _linspace, "num evenly spaced values from start to stop (inclusive), like numpy.linspace"),
    _t("Sum", (inp("input", ANY, 0.0, "doublespinbox"), out("result", FLOAT)), _sum, "the sum of all elements"),
    _t("Mean", (inp("input", ANY, 0.0, "doublespinbox"), out("result", FLOAT)), _mean,
       "the mean of all elements"),
]
