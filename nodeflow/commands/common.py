"""Steps several sub-commands share: reading a workflow file and planning it, with
the CLI's messages and exit codes (1: the file can't be read; 2: it can't run)."""
from __future__ import annotations

import functools
import sys


class CommandFailed(Exception):
    """Stop the command with ``code``; the message was printed already."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


def exit_code_on_failure(fn):
    """A command handler that may raise CommandFailed: it returns the failure's exit code instead."""
    @functools.wraps(fn)
    def handler(args) -> int:
        try:
            return fn(args)
        except CommandFailed as e:
            return e.code

    return handler


def load_workflow(path: str):
    from ..model import WorkflowFileError, load

    try:
        return load(path)
    except WorkflowFileError as e:
        print(str(e), file=sys.stderr)
    except OSError as e:
        print(f"{path}: {e.strerror or e}", file=sys.stderr)
    raise CommandFailed(1)


def plan_workflow(path: str, wf, registry, param_args: list[str], *, skip_unknown: bool):
    """(plan, parameters) as ``nodeflow run`` makes them: sub-workflows inlined, parameters expanded."""
    from ..engine import PlanError
    from ..engine.params import ParameterError, parse_cli_params
    from ..engine.runner import build_plan

    try:
        return build_plan(wf, registry, params=parse_cli_params(param_args), skip_unknown=skip_unknown)
    except (PlanError, ParameterError) as e:
        print(f"{path}: {e}", file=sys.stderr)
        raise CommandFailed(2) from None
