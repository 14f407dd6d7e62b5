"""Built-in node types, one module per library folder (types, math, numpy, plot, command, files).

``all_types()`` imports the modules on demand; none of them imports numpy or
matplotlib at import time.
"""
from __future__ import annotations

from ..types import NodeType

#: nodeflow's own hidden node holding per-workflow settings (see nodeflow.engine.settings)
WORKFLOW_SETTINGS_PATH = ("nodeflow", "Workflow Settings")


def _settings_type() -> NodeType:
    return NodeType(WORKFLOW_SETTINGS_PATH, (), function=lambda inputs, ctx: {}, hidden=True,
                    description="nodeflow's workflow settings (hidden; never runs)")


def all_types() -> list[NodeType]:
    from . import command_nodes, file_nodes, math_nodes, numpy_nodes, plot_nodes, types_nodes, workflow_nodes

    return [*types_nodes.TYPES, *math_nodes.TYPES, *numpy_nodes.TYPES, *plot_nodes.TYPES,
            *command_nodes.TYPES, *file_nodes.TYPES, *workflow_nodes.TYPES, _settings_type()]
