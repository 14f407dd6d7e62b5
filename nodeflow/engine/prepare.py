"""What a workflow becomes just before it runs: sub-workflows inlined, parameters expanded.

``prepare`` is the one step between a Workflow as drawn and the RunPlan: it
snapshots every referenced child workflow, inlines it, substitutes
``{{NAME}}`` and expands list parameters. Errors become PlanError with the
same clear messages (a missing child file, a reference cycle with its chain,
an unknown parameter).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..model import Workflow
from .params import ParameterError, expand, has_placeholder, normalise
from .plan import PlanError
from .settings import SettingsError, WorkflowSettings
from .subworkflows import SubworkflowError, file_resolver, has_subworkflows, inline


def run_parameters(wf: Workflow, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The workflow's parameters with command-line overrides applied."""
    try:
        base = WorkflowSettings.of(wf).parameters
    except SettingsError as e:
        raise PlanError(str(e)) from None
    try:
        return normalise({**base, **(overrides or {})})
    except ParameterError as e:
        raise PlanError(str(e)) from None


def _uses_placeholders(wf: Workflow) -> bool:
    for n in wf.nodes.values():
        for t in n.terminals.values():
            v = t.value
            if v.__class__ is not float and has_placeholder(v):  # (a float, the usual, holds none)
                return True
    return False


def prepare(wf: Workflow, *, registry=None, params: Mapping[str, Any] | None = None,
            resolver=file_resolver) -> tuple[Workflow, dict[str, Any]]:
    """(the workflow to plan, the parameters in force). ``wf`` itself is not changed."""
    parameters = run_parameters(wf, params)
    out = wf
    if has_subworkflows(out):
        try:
            out = inline(out, resolver=resolver, registry=registry)
        except SubworkflowError as e:
            raise PlanError(f"cannot run: {e}") from None
    if parameters or _uses_placeholders(out):
        try:
            out = expand(out, parameters)
        except ParameterError as e:
            raise PlanError(f"cannot run: {e}") from None
    return out, parameters
