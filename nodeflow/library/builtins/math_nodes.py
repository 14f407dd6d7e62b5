"""math/*: arithmetic on numbers and numpy arrays (element-wise).

Terminal names follow Nodeworks: Power (base, exponent), Root (radicand,
degree), Subtract (minuend, subtrahend), Divide and Modulo (dividend,
divisor); Add, Multiply, Minimum and Maximum take a multiinput ``input``;
every node gives ``result``. Bad inputs fail the node with a NodeError.
"""
from __future__ import annotations

import functools
import math
import operator

from ..types import BOOL, FLOAT, STR, NodeError, NodeType, inp, out
from ._values import arithmetic, calculate, is_numpy, np, number, numbers, plain, real

#: a Power whose exact integer result would have more bits than this is refused
_MAX_INT_BITS = 1_000_000

COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
            ">=": operator.ge}


def _num(name: str, default: float = 0.0, **kw):
    return inp(name, FLOAT, default, "doublespinbox", **kw)


def _result():
    return out("result", FLOAT)


def _reduce(label: str, fn, values, empty):
    vals = numbers(label, "input", values)
    if not vals:
        if empty is None:
            raise NodeError(f"{label}: no input values")
        return empty
    return calculate(label, vals, functools.reduce, fn, vals)


def _add(i, ctx):
    return {"result": _reduce("Add", operator.add, i.get("input"), 0)}


def _multiply(i, ctx):
    return {"result": _reduce("Multiply", operator.mul, i.get("input"), 1)}


def _minimum(i, ctx):
    return {"result": _reduce("Minimum", _elementwise(min, "minimum"), i.get("input"), None)}


def _maximum(i, ctx):
    return {"result": _reduce("Maximum", _elementwise(max, "maximum"), i.get("input"), None)}


def _elementwise(builtin, ufunc: str):
    def pick(a, b):
        if is_numpy(a) or is_numpy(b):
            return getattr(np(), ufunc)(a, b)
        return builtin(a, b)

    return pick


def _subtract(i, ctx):
    a, b = number("Subtract", "minuend", i.get("minuend")), number("Subtract", "subtrahend", i.get("subtrahend"))
    return {"result": calculate("Subtract", (a, b), operator.sub, a, b)}


def _check_divisor(label: str, divisor) -> None:
    if not is_numpy(divisor) and divisor == 0:
        raise NodeError(f"{label}: division by zero (the divisor is 0)")
    if is_numpy(divisor) and bool((divisor == 0).any()):
        raise NodeError(f"{label}: division by zero (the divisor holds 0)")


def _divide(i, ctx):
    a, b = number("Divide", "dividend", i.get("dividend")), number("Divide", "divisor", i.get("divisor"))
    _check_divisor("Divide", b)
    return {"result": calculate("Divide", (a, b), operator.truediv, a, b)}


def _modulo(i, ctx):
    a, b = number("Modulo", "dividend", i.get("dividend")), number("Modulo", "divisor", i.get("divisor"))
    _check_divisor("Modulo", b)
    return {"result": calculate("Modulo", (a, b), operator.mod, a, b)}


def _power(i, ctx):
    base, exponent = number("Power", "base", i.get("base")), number("Power", "exponent", i.get("exponent"))
    if (isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1
            and exponent * math.log2(abs(base)) > _MAX_INT_BITS):
        raise NodeError(f"Power: {base} ** {exponent} is too large to compute")
    with arithmetic("Power", base, exponent):
        if is_numpy(base) or is_numpy(exponent):
            a = np().asarray(base)
            if a.dtype.kind in "iub" and bool((np().asarray(exponent) < 0).any()):
                base = a.astype(float)  # numpy refuses integers to negative integer powers
        r = base ** exponent
    return {"result": plain(real("Power", r))}


def _root(i, ctx):
    radicand = number("Root", "radicand", i.get("radicand"))
    degree = number("Root", "degree", i.get("degree"))
    if is_numpy(degree):
        if getattr(degree, "ndim", 0) != 0:
            raise NodeError("Root: 'degree' must be a single number")
        degree = degree.item()
    if degree == 0:
        raise NodeError("Root: the degree must not be 0")
    odd = float(degree).is_integer() and int(degree) % 2 == 1
    with arithmetic("Root", radicand, degree):
        if is_numpy(radicand):
            n = np()
            if odd:  # real odd roots of negative numbers, as a person expects: root(-8, 3) = -2
                r = n.sign(radicand) * n.abs(radicand) ** (1.0 / degree)
            else:
                if bool((n.asarray(radicand) < 0).any()):
                    raise NodeError(f"Root: a degree-{degree:g} root of a negative number is not real")
                r = n.asarray(radicand, dtype=float) ** (1.0 / degree)
        elif radicand < 0:
            if not odd:
                raise NodeError(f"Root: a degree-{degree:g} root of a negative number is not real")
            r = -((-radicand) ** (1.0 / degree))
        else:
            r = radicand ** (1.0 / degree)
    return {"result": plain(real("Root", r))}


def _absolute(i, ctx):
    v = number("Absolute", "input", i.get("input"))
    return {"result": calculate("Absolute", (v,), abs, v)}


def _negate(i, ctx):
    v = number("Negate", "input", i.get("input"))
    return {"result": calculate("Negate", (v,), operator.neg, v)}


def _compare(i, ctx):
    op = i.get("operation")
    if op not in _COMPARE:
        raise NodeError(f"Compare: unknown operation {op!r}; choose one of {', '.join(COMPARISONS)}")
    a, b = number("Compare", "a", i.get("a")), number("Compare", "b", i.get("b"))
    return {"result": calculate("Compare", (a, b), _COMPARE[op], a, b)}


def _t(name, terminals, fn, description):
    # quick: pure arithmetic; on plain numbers it takes microseconds (Power refuses huge integers)
    return NodeType(("math", name), tuple(terminals), function=fn, description=description, quick=True)


TYPES = [
    _t("Add", (_num("input", 0.0, multiinput=True), _result()), _add, "the sum of all inputs"),
    _t("Subtract", (_num("minuend"), _num("subtrahend"), _result()), _subtract, "minuend - subtrahend"),
    _t("Multiply", (_num("input", 1.0, multiinput=True), _result()), _multiply, "the product of all inputs"),
    _t("Divide", (_num("dividend"), _num("divisor", 1.0), _result()), _divide, "dividend / divisor"),
    _t("Power", (_num("base", 1.0), _num("exponent", 1.0), _result()), _power, "base ** exponent"),
    _t("Root", (_num("radicand", 1.0), _num("degree", 2.0), _result()), _root, "radicand ** (1 / degree)"),
    _t("Modulo", (_num("dividend"), _num("divisor", 1.0), _result()), _modulo,
       "the remainder of dividend / divisor"),
    _t("Absolute", (_num("input"), _result()), _absolute, "the absolute value"),
    _t("Negate", (_num("input"), _result()), _negate, "-input"),
    _t("Minimum", (_num("input", 0.0, multiinput=True), _result()), _minimum,
       "the smallest input (element-wise for arrays)"),
    _t("Maximum", (_num("input", 0.0, multiinput=True), _result()), _maximum,
       "the largest input (element-wise for arrays)"),
    _t("Compare", (_num("a"), inp("operation", STR, "==", "combobox", items=COMPARISONS), _num("b"),
                   out("result", BOOL)), _compare, "a compared with b (==, !=, <, <=, >, >=)"),
]
