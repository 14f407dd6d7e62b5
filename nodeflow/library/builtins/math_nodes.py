"""math/*: arithmetic on numbers (and numpy arrays, element-wise)."""
from __future__ import annotations

from ..types import ANY, FLOAT, NodeType, inp, out

TYPES = [
    NodeType(("math", "Power"), (inp("base", FLOAT, 1.0, "doublespinbox"), inp("exponent", FLOAT, 1.0, "doublespinbox"),
                                 out("result", FLOAT)),
             function=lambda i, ctx: {"result": i["base"] ** i["exponent"]}),
    NodeType(("math", "Multiply"), (inp("input", FLOAT, 1.0, "doublespinbox", multiinput=True), out("result", FLOAT)),
             function=lambda i, ctx: {"result": _product(i["input"])}),
]


def _product(values):
    vals = values if isinstance(values, list) else [values]
    r = 1
    for v in vals:
        r = r * v
    return r
