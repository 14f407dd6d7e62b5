"""Generator nodes: a node whose output (JSON) adds nodes and connections at run time.

A node is a generator when its settings say ``"generator": true``. When it
succeeds, its JSON — a command node's ``stdout``, or a Python node's
``nodes`` output (or its only output) — is read as a Nodeworks fragment:

    {"calc_a": {"type": "Node", "path": ["shell", "Command"],
                "values": {"command": "calc", "args": ["a"]}},
     "c1": {"type": "Connection", "input": ["pull", "exitcode"], "output": ["calc_a", "after"]}}

A node may give full Nodeworks ``terminals`` or just ``values`` for the
terminals of its type (the rest from the library), and ``settings`` for
``customState.nodeflow``. Connections may join new nodes with each other and
with nodes of the run that have not started yet. What is added goes through
parameter expansion and the same validation as a file; output that is not
JSON, names unknown node types, clashes with an existing name, reaches into a
node that already started, or would create a cycle fails the generator with
a clear message and adds nothing.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..model import Connection, Node, Workflow, WorkflowFileError
from ..model.nodeworks import from_dict
from ..model.validate import validate as validate_model
from . import params as params_mod


class GeneratorError(ValueError):
    pass


@dataclass
class Additions:
    nodes: dict[str, Node]
    connections: dict[str, Connection]


def generator_json(kind: str, outputs: Mapping[str, Any]) -> Any:
    if kind == "command":
        text = outputs.get("stdout", "")
    elif "nodes" in outputs:
        text = outputs["nodes"]
    elif len(outputs) == 1:
        text = next(iter(outputs.values()))
    else:
        raise GeneratorError("a Python generator node must give its additions in an output named 'nodes'")
    if isinstance(text, (dict, list)):
        return text
    if not isinstance(text, str) or not text.strip():
        raise GeneratorError("its output is empty: a generator must print a JSON object of nodes to add")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise GeneratorError(f"its output is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None


def _complete_node(key: str, d: dict, registry) -> dict:
    """Fill a short node entry (path + values) into a full Nodeworks node from the library."""
    if not isinstance(d, dict):
        raise GeneratorError(f"{key!r} must be an object")
    if d.get("type", "Node") != "Node":
        return d
    path = d.get("path")
    if not isinstance(path, list) or not all(isinstance(p, str) for p in path):
        raise GeneratorError(f"{key!r}: 'path' must be the node type's path, e.g. [\"shell\", \"Command\"]")
    ntype = registry.get(path)
    if ntype is None:
        raise GeneratorError(f"{key!r} names unknown node type {'/'.join(path)!r}")
    full = dict(d)
    full["type"] = "Node"
    if "terminals" not in full:
        from ..model.nodeworks import terminal_to_dict

        node = ntype.create_node(uniquename=key)
        values = d.get("values") or {}
        if not isinstance(values, dict):
            raise GeneratorError(f"{key!r}: 'values' must be an object of terminal values")
        for t, v in values.items():
            if t not in node.terminals:
                raise GeneratorError(f"{key!r}: node type {'/'.join(path)} has no terminal {t!r}")
            node.terminals[t].value = v
        full["terminals"] = {t: terminal_to_dict(term) for t, term in node.terminals.items()}
        full.setdefault("name", ntype.name)
    full.pop("values", None)
    settings = full.pop("settings", None)
    if settings is not None:
        if not isinstance(settings, dict):
            raise GeneratorError(f"{key!r}: 'settings' must be an object")
        state = dict(full.get("customState") or {})
        state["nodeflow"] = settings
        full["customState"] = state
    return full


def parse_additions(data: Any, current: Workflow, registry, parameters: Mapping[str, Any],
                    started: set[str]) -> Additions:
    """Check a generator's fragment against the running workflow; raise GeneratorError if anything is off."""
    if not isinstance(data, dict):
        raise GeneratorError(f"its output must be a JSON object of nodes and connections, got {type(data).__name__}")
    if not data:
        return Additions({}, {})
    clash = sorted(k for k in data if k in current.nodes or k in current.connections)
    if clash:
        raise GeneratorError(f"it adds {', '.join(map(repr, clash))}, which already exist(s) in the run")
    entries = {k: _complete_node(k, v, registry) for k, v in data.items()}
    # read the fragment with the existing nodes in view, so connections can name them
    merged_raw = {**{k: {"type": "Node", "path": list(n.path), "terminals": {t: {} for t in n.terminals}}
                     for k, n in current.nodes.items()}, **entries}
    try:
        fragment = from_dict(merged_raw)
    except WorkflowFileError as e:
        raise GeneratorError(f"its output is not a valid workflow fragment: {e}") from None
    new_nodes = {k: fragment.nodes[k] for k in entries if k in fragment.nodes}
    new_conns = {k: fragment.connections[k] for k in entries if k in fragment.connections}
    for k, c in new_conns.items():
        if c.output[0] in current.nodes and c.output[0] in started:
            raise GeneratorError(f"connection {k!r} leads into {c.output[0]!r}, which has already started")
    for n in new_nodes.values():
        n.key_order = None  # new objects: written with all their fields
    try:
        expanded = params_mod.expand(Workflow(new_nodes, {}), parameters or {})
    except params_mod.ParameterError as e:
        raise GeneratorError(f"what it adds uses parameters badly: {e}") from None
    # rename connection ends that point at expanded templates: connect every instance
    instances: dict[str, list[str]] = {}
    for name in expanded.nodes:
        instances.setdefault(name.split("[", 1)[0] if name not in new_nodes else name, []).append(name)
    conns: dict[str, Connection] = {}
    for k, c in new_conns.items():
        srcs = instances.get(c.input[0], [c.input[0]])
        dsts = instances.get(c.output[0], [c.output[0]])
        i = 0
        for s in srcs:
            for d in dsts:
                name = k if len(srcs) == len(dsts) == 1 else f"{k}#{i}"
                i += 1
                conns[name] = Connection(name, (s, c.input[1]), (d, c.output[1]))
    trial = Workflow({**current.nodes, **expanded.nodes}, {**current.connections, **conns})
    problems = [p for p in validate_model(trial, known_types=registry.known_paths(),
                                          extra_rules=[lambda wf: params_mod.unknown_parameter_problems(
                                              Workflow(expanded.nodes, {}), parameters)])
                if p.is_error and (p.uniquename in expanded.nodes or p.uniquename in conns or p.code == "cycle")]
    if problems:
        raise GeneratorError("what it adds is not valid: " + "; ".join(str(p) for p in problems))
    return Additions(dict(expanded.nodes), conns)


def replan_with(plan, adds: Additions):
    """The running ``plan`` planned again with a generator's additions (already checked) in its
    workflow. If planning fails the workflow is put back as it was and GeneratorError raised."""
    from .plan import RunPlan

    wf = plan.workflow
    wf.nodes.update(adds.nodes)
    wf.connections.update(adds.connections)
    try:
        return RunPlan.build(wf, plan.registry)
    except Exception as e:
        for k in adds.nodes:
            wf.nodes.pop(k, None)
        for k in adds.connections:
            wf.connections.pop(k, None)
        wf.forget_name_hints()
        raise GeneratorError(str(e)) from None


def additions_event_data(by: str, adds: Additions) -> dict[str, Any]:
    """The NODES_ADDED event's data: what ``by`` added, as Nodeworks dicts."""
    from ..model.nodeworks import connection_to_dict, node_to_dict

    return {"by": by, "nodes": {k: node_to_dict(n) for k, n in adds.nodes.items()},
            "connections": {k: connection_to_dict(c) for k, c in adds.connections.items()}}
