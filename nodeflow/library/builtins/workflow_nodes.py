"""nodeflow/*: sub-workflows and the terminals a workflow exposes to its parents.

* ``nodeflow/Sub-workflow``: references another workflow (``workflow``: a file
  path relative to this file, or ``server:NAME[@VERSION]``). Its other
  terminals are the child's exposed ones: one input per ``Workflow Input``
  node of the child, one output per ``Workflow Output``, named by their
  ``name``. It never runs itself: at run start the child is snapshotted and
  inlined (see nodeflow.engine.subworkflows).
* ``nodeflow/Workflow Input`` / ``Workflow Output``: pass ``value`` through to
  ``output``. Inside a parent, the Input's ``value`` receives what is
  connected to the parent node's terminal of that name.
"""
from __future__ import annotations

from ..types import ANY, STR, NodeError, NodeType, inp, out

SUBWORKFLOW_PATH = ("nodeflow", "Sub-workflow")
INPUT_PATH = ("nodeflow", "Workflow Input")
OUTPUT_PATH = ("nodeflow", "Workflow Output")


def _pass(inputs, ctx):
    return {"output": inputs.get("value")}


def _not_inlined(inputs, ctx):
    raise NodeError("a sub-workflow node runs only after its workflow was inlined (nodeflow.engine.subworkflows)")


TYPES = [
    NodeType(SUBWORKFLOW_PATH, (inp("workflow", STR, "", "browse", browsetype="file"),), function=_not_inlined,
             description="runs another workflow inside this one; its exposed inputs and outputs become terminals"),
    NodeType(INPUT_PATH, (inp("name", STR, "input", "lineedit"), inp("value", ANY, None, "lineedit"),
                          out("output", ANY)), function=_pass,
             description="a value this workflow takes from a parent that uses it as a sub-workflow"),
    NodeType(OUTPUT_PATH, (inp("name", STR, "output", "lineedit"), inp("value", ANY, None),
                           out("output", ANY)), function=_pass,
             description="a value this workflow gives to a parent that uses it as a sub-workflow"),
]
