"""The run plan: what will run, in which order, fed by what.

``RunPlan.build`` checks the workflow before anything starts — validation
errors, unknown node types (refused, naming node and path, unless
``skip_unknown``), bad nodeflow settings — and resolves for every node its
type, settings, where each input comes from, and its downstream nodes.
``input_values`` gathers a node's inputs once its upstream results exist;
``input_hash`` fingerprints them for rerun-failed.
"""
from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from ..library import NodeRegistry, NodeType
from ..model import Node, Problem, Workflow, dependency_graph, topological_order
from ..model import validate as validate_model
from ..model.gcpause import paused_gc
from ..model.values import json_default
from .settings import NodeSettings, SettingsError, WorkflowSettings, is_settings_node

#: widgets whose value is the node's own data even on an output terminal (constants)
_DISPLAY_WIDGETS = (None, "display")


class PlanError(ValueError):
    """The workflow cannot run; ``problems`` lists why (validation errors etc.)."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        self.problems = problems or []
        super().__init__(message)


@dataclass(slots=True)
class PlannedNode:
    name: str
    node: Node
    type: NodeType | None  # None: unknown type (skipped)
    settings: NodeSettings
    #: input terminal → list of (upstream node, upstream terminal), in connection order
    sources: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    upstream: tuple[str, ...] = ()
    downstream: tuple[str, ...] = ()
    #: terminals whose own value is passed to the function (unconnected inputs, constants' outputs)
    own_values: tuple[str, ...] = ()
    multi: frozenset[str] = frozenset()

    @property
    def type_name(self) -> str:
        return self.node.type_name


class RunPlan:
    def __init__(self, workflow: Workflow, registry: NodeRegistry, nodes: dict[str, PlannedNode],
                 order: list[str], graph: nx.DiGraph, settings: WorkflowSettings, skipped: dict[str, str],
                 external: set[str]):
        self.workflow = workflow
        self.registry = registry
        self.nodes = nodes
        self.order = order
        self.graph = graph
        self.settings = settings
        #: nodes that will not run, with the reason (unknown type and its downstream)
        self.skipped = skipped
        #: nodes outside a partial run whose stored output values feed it
        self.external = external

    @functools.cached_property
    def workflow_hash(self) -> str:
        """``workflow_hash`` of the planned workflow, computed once (the run record and the ETA both need it)."""
        return workflow_hash(self.workflow)

    @classmethod
    def build(cls, workflow: Workflow, registry: NodeRegistry, *, skip_unknown: bool = False,
              only: Iterable[str] | None = None) -> "RunPlan":
        with paused_gc():  # tens of thousands of small objects, no cycles among them
            return cls._build(workflow, registry, skip_unknown, only)

    @classmethod
    def _build(cls, workflow: Workflow, registry: NodeRegistry, skip_unknown: bool,
               only: Iterable[str] | None) -> "RunPlan":
        graph = dependency_graph(workflow)
        problems = validate_model(workflow, known_types=registry.known_paths(),
                                  extra_rules=registry.validation_rules(), graph=graph)
        errs = [p for p in problems if p.is_error]
        if errs:
            raise PlanError("the workflow has errors:\n" + "\n".join(f"  {p}" for p in errs), errs)
        try:
            wsettings = WorkflowSettings.of(workflow)
        except SettingsError as e:
            raise PlanError(str(e)) from None

        for n in [n for n, node in workflow.nodes.items() if is_settings_node(node)]:
            graph.remove_node(n)
        order = topological_order(workflow, graph)

        external: set[str] = set()
        if only is not None:
            wanted = set(only)
            missing = wanted - set(order)
            if missing:
                raise PlanError(f"no such node: {', '.join(sorted(missing))}")
            for n in list(wanted):
                wanted |= nx.descendants(graph, n)
            external = {u for n in wanted for u in graph.predecessors(n)} - wanted
            order = [n for n in order if n in wanted]

        into = workflow.connections_into()
        in_plan = set(order)
        preds, succs = graph._pred, graph._succ  # raw adjacency dicts: the views are slow at this scale
        nodes: dict[str, PlannedNode] = {}
        unknown: list[str] = []
        for name in order:
            node = workflow.nodes[name]
            ntype = registry.get(node.path)
            if ntype is None:
                unknown.append(name)
            try:
                settings = NodeSettings.of(node)
            except SettingsError as e:
                raise PlanError(str(e)) from None
            sources: dict[str, list[tuple[str, str]]] = {}
            own: list[str] = []
            multi: set[str] = set()
            for tname, term in node.terminals.items():
                if term.is_input:
                    conns = into.get((name, tname))
                    if conns:
                        sources[tname] = [c.input for c in conns]
                    else:
                        own.append(tname)
                    if term.multiinput:
                        multi.add(tname)
                elif term.opts.get("widget") not in _DISPLAY_WIDGETS:
                    own.append(tname)
            nodes[name] = PlannedNode(name, node, ntype, settings, sources, tuple(sorted(preds[name])),
                                      tuple(sorted(s for s in succs[name] if s in in_plan)),
                                      tuple(own), frozenset(multi))

        skipped: dict[str, str] = {}
        if unknown:
            if not skip_unknown:
                lines = [f"  {n}: unknown node type {workflow.nodes[n].type_name!r}" for n in unknown]
                raise PlanError("cannot run: the workflow uses node types this installation does not have "
                                "(use --skip-unknown to run the rest):\n" + "\n".join(lines))
            for n in unknown:
                skipped[n] = f"unknown node type {workflow.nodes[n].type_name!r}"
                for d in nx.descendants(graph, n):
                    if d in nodes:
                        skipped.setdefault(d, f"depends on {n!r}, whose node type is unknown")
        return cls(workflow, registry, nodes, order, graph, wsettings, skipped, external)

    # -- feeding nodes ------------------------------------------------------
    def external_outputs(self) -> dict[str, dict[str, Any]]:
        """Stored output values of the nodes outside a partial run."""
        return {n: {t: term.value for t, term in self.workflow.nodes[n].outputs()} for n in self.external}

    def input_values(self, pn: PlannedNode, results: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        terms = pn.node.terminals
        values: dict[str, Any] = {}
        for t in pn.own_values:
            v = terms[t].value
            if t in pn.multi and not isinstance(v, list):
                v = [] if v is None else [v]
            values[t] = v
        for t, srcs in pn.sources.items():
            got = [results[u][ut] if ut in results[u] else None for u, ut in srcs]
            values[t] = got if t in pn.multi else got[0]
        return values


def input_hash(path: tuple[str, ...], inputs: Mapping[str, Any], settings: NodeSettings | None = None) -> str:
    """A fingerprint of what a node computes from: its type and input values."""
    h = hashlib.blake2b(digest_size=16)
    h.update("/".join(path).encode())
    # the inputs dict is built in plan order and values keep file order: no sorting needed to be stable
    h.update(_HASH_ENCODER.encode(inputs).encode())
    if settings is not None and settings.resources:
        h.update(json.dumps(settings.resources, sort_keys=True, default=str).encode())
    return h.hexdigest()


def _hash_default(v: Any) -> Any:  # noqa: D401 - json ``default`` hook
    if type(v).__module__ == "numpy" and hasattr(v, "tobytes"):
        return {"dtype": str(v.dtype), "shape": list(getattr(v, "shape", ())),
                "sha": hashlib.blake2b(v.tobytes(), digest_size=16).hexdigest()}
    return json_default(v)


def workflow_hash(wf: Workflow) -> str:
    """Identity of what a workflow computes: types, values of inputs, connections.

    Positions and computed output values are left out, so moving a node or
    saving results does not make it a different workflow for history and ETA.
    """
    nodes = []
    for name in sorted(wf.nodes):
        node = wf.nodes[name]
        ins = {t: term.value for t, term in node.terminals.items()
               if term.opts.get("in") or term.opts.get("widget") not in _DISPLAY_WIDGETS}
        nodes.append((name, node.path, ins, node.settings))
    conns = sorted((c.input, c.output) for c in wf.connections.values())
    text = json.dumps([nodes, conns], default=_hash_default, check_circular=False)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


# one encoder for all fingerprints: json.dumps(..., default=...) would build a new one per call
_HASH_ENCODER = json.JSONEncoder(default=_hash_default, check_circular=False, ensure_ascii=False)
