"""The workflow model: data classes, Nodeworks files, validation and graph views.

Nothing here imports Qt or any other part of nodeflow.
"""
from .errors import WorkflowFileError
from .graph import Adjacency, CycleError, dependency_graph, downstream, generations, topological_order, upstream
from .nodeworks import dumps, load, loads, save
from .validate import ERROR, WARNING, Problem, validate
from .workflow import Connection, Node, Terminal, Workflow

__all__ = [
    "Adjacency", "Connection", "CycleError", "ERROR", "Node", "Problem", "Terminal", "WARNING", "Workflow",
    "WorkflowFileError", "dependency_graph", "downstream", "dumps", "generations", "load", "loads",
    "save", "topological_order", "upstream", "validate",
]
