"""nodeflow: a node editor with an embedded scheduler for MFiX Nodeworks workflows.

The package top offers the file API; importing it never imports Qt::

    wf = nodeflow.load("flow.nc")
    for problem in nodeflow.validate(wf):
        print(problem)
    nodeflow.save(wf, "copy.nc")
"""
from __future__ import annotations

from .model import (Connection, Node, Problem, Terminal, Workflow, WorkflowFileError, dumps, load, loads,
                    save)
from .model import validate as _validate_model

__version__ = "0.1.0"


def validate(workflow: Workflow, *, registry=None) -> list[Problem]:
    """Problems of ``workflow``, node types checked against ``registry``.

    Without a registry, the built-in node library plus installed plug-ins is used.
    """
    from .library import default_registry  # the library imports the model, not the other way round

    from .engine.params import unknown_parameter_problems
    from .engine.settings import SettingsError, WorkflowSettings

    reg = registry if registry is not None else default_registry()
    try:
        params = WorkflowSettings.of(workflow).parameters
    except SettingsError:
        params = {}
    rules = [*reg.validation_rules(), lambda wf: unknown_parameter_problems(wf, params)]
    return _validate_model(workflow, known_types=reg.known_paths(), extra_rules=rules)


__all__ = ["Connection", "Node", "Problem", "Terminal", "Workflow", "WorkflowFileError", "__version__",
           "dumps", "load", "loads", "save", "validate"]
