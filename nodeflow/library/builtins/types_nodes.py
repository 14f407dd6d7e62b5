"""types/*: constant nodes whose only terminal is an output holding the value set in its widget."""
from __future__ import annotations

from ..types import BOOL, FLOAT, INT, STR, NodeType, TerminalSpec


def _constant(name: str, terminal: str, dtype: str, default, widget: str) -> NodeType:
    spec = TerminalSpec(terminal, "out", dtype, default, widget)

    def run(inputs, ctx, _t=terminal):
        return {_t: inputs[_t]}

    return NodeType(("types", name), (spec,), function=run, description=f"a constant {name.lower()}",
                    quick=True)


TYPES = [
    _constant("Integer", "int", INT, 0, "spinbox"),
    _constant("Float", "float", FLOAT, 0.0, "doublespinbox"),
    _constant("String", "string", STR, "", "lineedit"),
    _constant("Boolean", "bool", BOOL, False, "checkbox"),
]
