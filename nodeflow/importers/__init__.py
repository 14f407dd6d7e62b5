"""Importers: other tools' DAG definitions turned into Nodeworks workflows of command nodes.

``daggy`` (Daggy's DAG-run JSON) and ``donut`` (donut-dagger's YAML/JSON
workflows). Each returns a Workflow laid out by ``model.layout``; dependencies
become connections from the upstream command's ``exitcode`` to the
downstream command's ``after`` terminal. A definition with a cycle or a
dangling reference raises DefinitionError naming the tasks.
"""
from __future__ import annotations


class DefinitionError(ValueError):
    """An import file that cannot become a workflow (cycle, dangling reference, bad field)."""
