"""Helpers for the node-library tests: a registry, a context, and a tiny sequential evaluator.

The evaluator feeds nodes the way the engine does (unconnected inputs use their
own value, a multiinput terminal always gets a list, constants pass their output
value) so example workflows can be checked end to end without the scheduler.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from nodeflow.library import CommandResult, NodeContext, builtin_registry
from nodeflow.model import topological_order


@pytest.fixture
def registry():
    return builtin_registry()


@pytest.fixture
def ctx(tmp_path):
    return NodeContext("run-1", "node", tmp_path / "out", base_dir=tmp_path)


@pytest.fixture
def call(registry, ctx):
    """call(("math", "Power"), base=2, exponent=3) -> outputs of the type's function."""

    def _call(type_path, /, **inputs):
        return registry.get(type_path).function(inputs, ctx)

    return _call


def run_command(cmd, cwd: Path) -> CommandResult:
    env = {**os.environ, **cmd.env}
    p = subprocess.run(list(cmd.argv), env=env, cwd=cmd.cwd or cwd, capture_output=True, text=True, timeout=60)
    return CommandResult(p.returncode, p.stdout, p.stderr)


def _evaluate(wf, registry, folder: Path) -> dict[str, dict]:
    """Run every node of ``wf`` in order; returns {uniquename: outputs}."""
    into = wf.connections_into()
    results: dict[str, dict] = {}
    for name in topological_order(wf):
        node = wf.nodes[name]
        t = registry.get(node.path)
        inputs = {}
        for tname, term in node.terminals.items():
            if term.is_input:
                conns = into.get((name, tname))
                if conns:
                    got = [results[c.input[0]][c.input[1]] for c in conns]
                    inputs[tname] = got if term.multiinput else got[0]
                else:
                    v = term.value
                    if term.multiinput and not isinstance(v, list):
                        v = [] if v is None else [v]
                    inputs[tname] = v
            elif term.opts.get("widget") not in (None, "display"):
                inputs[tname] = term.value
        ctx = NodeContext("run", name, folder / "nodes" / name, base_dir=folder)
        if t.kind == "command":
            results[name] = t.collect(run_command(t.command(inputs), folder), inputs)
        else:
            results[name] = t.function(inputs, ctx)
    return results


@pytest.fixture
def evaluate():
    """evaluate(workflow, registry, folder) -> {uniquename: outputs}."""
    return _evaluate
