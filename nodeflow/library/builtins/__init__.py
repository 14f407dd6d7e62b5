"""Built-in node types, one module per library folder (types, math, numpy, plot, command, files)."""
from __future__ import annotations


def all_types():
    from . import math_nodes, types_nodes

    return [*types_nodes.TYPES, *math_nodes.TYPES]
