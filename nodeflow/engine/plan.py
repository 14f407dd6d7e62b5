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
from typing import Any, NamedTuple

import networkx as nx

from ..library import NodeRegistry, NodeType
from ..model import Adjacency, Node, Problem, Workflow, topological_order
from ..model.graph import CycleError
from ..model import validate as validate_model
from ..model.gcpause import paused_gc
from ..model.values import json_default
from .fingerprint import input_fingerprint, make_encoder, workflow_fingerprint
from .settings import DEFAULT_NODE_SETTINGS, SETTINGS_PATH, NodeSettings, SettingsError, WorkflowSettings

_NO_MULTI: frozenset[str] = frozenset()
#: widgets whose value is the node's own data even on an output terminal (constants)
_DISPLAY_WIDGETS = (None, "display")


class PlanError(ValueError):
    """The workflow cannot run; ``problems`` lists why (validation errors etc.)."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        self.problems = problems or []
        super().__init__(message)


class PlannedNode(NamedTuple):
    """One node of the plan, resolved (immutable; a named tuple: the plan makes one per node)."""

    name: str
    node: Node
    type: NodeType | None  # None: unknown type (skipped)
    settings: NodeSettings
    #: input terminal → list of (upstream node, upstream terminal), in connection order (the
    #: adjacency's own dict, read-only: the plan and its workflow hash share it)
    sources: dict[str, list[tuple[str, str]]]
    upstream: tuple[str, ...] = ()  # in connection order
    downstream: tuple[str, ...] = ()
    #: terminals whose own value is passed to the function (unconnected inputs, constants' outputs)
    own_values: tuple[str, ...] = ()
    multi: frozenset[str] = frozenset()
    #: ``"math/Add"``: the path joined, once
    type_name: str = ""
    #: runs as a process of its own (a command, or isolated): has log files
    in_subprocess: bool = False
    #: a quick type (``NodeType.quick``) with no timeout, not isolated, not a generator: may run on
    #: the scheduler's thread when its executor offers ``run_inline`` and its inputs are plain
    inline: bool = False


_new_planned = tuple.__new__  # PlannedNode(...) goes through a Python-level __new__; made per node


def _type_facts(ntype: NodeType | None, path: tuple[str, ...], settings: NodeSettings) -> tuple:
    """(type_name, in_subprocess, inline) of a node of ``ntype`` with ``settings`` (see PlannedNode)."""
    return ("/".join(path),
            ntype is not None and (ntype.kind == "command" or ntype.isolate or settings.isolate),
            ntype is not None and ntype.quick and ntype.function is not None
            and not (ntype.isolate or settings.isolate or settings.generator) and settings.timeout_s is None)


class RunPlan:
    def __init__(self, workflow: Workflow, registry: NodeRegistry, nodes: dict[str, PlannedNode],
                 order: list[str], adjacency: Adjacency, settings: WorkflowSettings, skipped: dict[str, str],
                 external: set[str], hash_entries: list | None = None):
        self.workflow = workflow
        self.registry = registry
        self.nodes = nodes
        self.order = order
        #: node-level dependencies of the planned workflow (the settings node left out)
        self.adjacency = adjacency
        self.settings = settings
        #: nodes that will not run, with the reason (unknown type and its downstream)
        self.skipped = skipped
        #: nodes outside a partial run whose stored output values feed it
        self.external = external
        self._hash_entries = hash_entries  # gathered while planning: see workflow_hash

    @functools.cached_property
    def graph(self) -> nx.DiGraph:
        """The dependencies as a networkx DiGraph, made when first asked for."""
        return self.adjacency.to_networkx()

    @functools.cached_property
    def workflow_hash(self) -> str:
        """``workflow_hash`` of the planned workflow, computed once (the run record and the ETA both need it)."""
        entries, self._hash_entries = self._hash_entries, None
        if entries is None:
            return workflow_hash(self.workflow)
        return workflow_hash_of(entries)

    @property
    def workflow_hash_known(self) -> bool:
        """Whether ``workflow_hash`` was computed already (the ETA asks for it before a run)."""
        return "workflow_hash" in self.__dict__

    def hash_entries(self) -> list[tuple]:
        """The per-node entries ``workflow_hash`` is made of (``fingerprint.workflow_fingerprint``),
        for someone else to make it: the history's writer process does for a big run."""
        if self._hash_entries is None:
            sources = self.adjacency.sources
            return [_hash_entry(name, node, sources.get(name)) for name, node in self.workflow.nodes.items()]
        return list(self._hash_entries)

    @classmethod
    def build(cls, workflow: Workflow, registry: NodeRegistry, *, skip_unknown: bool = False,
              only: Iterable[str] | None = None) -> "RunPlan":
        with paused_gc():  # tens of thousands of small objects, no cycles among them
            return cls._build(workflow, registry, skip_unknown, only)

    @classmethod
    def _build(cls, workflow: Workflow, registry: NodeRegistry, skip_unknown: bool,
               only: Iterable[str] | None) -> "RunPlan":
        graph = Adjacency(workflow)
        try:  # first: a workflow that has an order is acyclic, and validation need not check that again
            full_order = topological_order(workflow, graph)
        except CycleError:
            full_order = None  # validation names the cycle
        problems = validate_model(workflow, known_types=registry.known_paths(),
                                  extra_rules=registry.validation_rules(), graph=graph)
        errs = [p for p in problems if p.is_error]
        if errs:
            raise PlanError("the workflow has errors:\n" + "\n".join(f"  {p}" for p in errs), errs)
        if full_order is None:  # validation reports every cycle; this is a safety net
            raise PlanError("the workflow has a cycle")
        try:
            wsettings = WorkflowSettings.of(workflow)
        except SettingsError as e:
            raise PlanError(str(e)) from None

        settings_nodes = [n for n, node in workflow.nodes.items() if node.path == SETTINGS_PATH]  # is_settings_node
        for n in settings_nodes:
            graph.remove(n)
        order = full_order if not settings_nodes else [n for n in full_order if n not in settings_nodes]

        external: set[str] = set()
        if only is not None:
            wanted = set(only)
            missing = wanted - set(order)
            if missing:
                raise PlanError(f"no such node: {', '.join(sorted(missing))}")
            for n in list(wanted):
                wanted |= graph.descendants(n)
            external = {u for n in wanted for u in graph.pred[n]} - wanted
            order = [n for n in order if n in wanted]

        all_sources = graph.sources
        in_plan = set(order) if only is not None else None  # otherwise every node in the graph is planned
        preds, succs = graph.pred, graph.succ
        get_type, settings_of, default_settings = registry.get, NodeSettings.of, DEFAULT_NODE_SETTINGS
        #: node path -> (its type, and _type_facts with default settings): most nodes share a few types
        by_path: dict[tuple[str, ...], tuple] = {}
        nodes: dict[str, PlannedNode] = {}
        unknown: list[str] = []
        entries: list[tuple] = []  # workflow_hash's per-node entries, gathered on the way
        add_entry = entries.append
        wf_nodes = workflow.nodes
        for name in order:  # once per node: terminal opts are read directly, not through properties
            node = wf_nodes[name]
            path = node.path
            known = by_path.get(path)
            if known is None:
                ntype = get_type(path)
                known = by_path[path] = (ntype, _type_facts(ntype, path, default_settings))
            ntype, facts = known
            if ntype is None:
                unknown.append(name)
            own_settings = node.settings
            if own_settings:
                try:
                    settings = settings_of(node)
                except SettingsError as e:
                    raise PlanError(str(e)) from None
                facts = _type_facts(ntype, path, settings)
            else:
                settings = default_settings
            # (the adjacency's own dict: validation refused connections into anything but inputs)
            sources: dict[str, list[tuple[str, str]]] = all_sources.get(name) or {}
            own: list[str] = []
            multi: list[str] = []
            values: dict[str, Any] = {}
            for tname, term in node.terminals.items():
                opts = term.opts
                if opts.get("in"):
                    values[tname] = term.value
                    if tname not in sources:
                        own.append(tname)
                    if opts.get("multiinput"):
                        multi.append(tname)
                elif opts.get("widget") not in _DISPLAY_WIDGETS:
                    values[tname] = term.value
                    own.append(tname)
            add_entry((name, path, values, own_settings, _in_terminal_order(sources, node.terminals)))
            down = succs[name]
            if in_plan is not None:
                down = [s for s in down if s in in_plan]
            nodes[name] = _new_planned(PlannedNode, (
                name, node, ntype, settings, sources, tuple(preds[name]),
                tuple(down) if len(down) < 2 else tuple(sorted(down)),
                tuple(own), frozenset(multi) if multi else _NO_MULTI, *facts))

        skipped: dict[str, str] = {}
        if unknown:
            if not skip_unknown:
                lines = [f"  {n}: unknown node type {workflow.nodes[n].type_name!r}" for n in unknown]
                raise PlanError("cannot run: the workflow uses node types this installation does not have "
                                "(use --skip-unknown to run the rest):\n" + "\n".join(lines))
            for n in unknown:
                skipped[n] = f"unknown node type {workflow.nodes[n].type_name!r}"
                for d in graph.descendants(n):
                    if d in nodes:
                        skipped.setdefault(d, f"depends on {n!r}, whose node type is unknown")
        if len(entries) != len(workflow.nodes):  # the settings node, nodes outside a partial run
            entries.extend(_hash_entry(n, node, all_sources.get(n)) for n, node in workflow.nodes.items()
                           if n not in nodes)
        return cls(workflow, registry, nodes, order, graph, wsettings, skipped, external, entries)

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
            got = [results[u].get(ut) for u, ut in srcs]
            values[t] = got if t in pn.multi else got[0]
        return values


def input_hash(path: tuple[str, ...] | str, inputs: Mapping[str, Any], settings: NodeSettings | None = None) -> str:
    """A fingerprint of what a node computes from: its type (path, or path joined by "/") and input
    values (``fingerprint.input_fingerprint``; numpy values by their bytes)."""
    resources = (json.dumps(settings.resources, sort_keys=True, default=str)
                 if settings is not None and settings.resources else None)
    return input_fingerprint(path if path.__class__ is str else "/".join(path), inputs, resources, _encode_for_hash)


def _hash_default(v: Any) -> Any:  # noqa: D401 - json ``default`` hook
    if type(v).__module__ == "numpy" and hasattr(v, "tobytes"):
        return {"dtype": str(v.dtype), "shape": list(getattr(v, "shape", ())),
                "sha": hashlib.blake2b(v.tobytes(), digest_size=16).hexdigest()}
    return json_default(v)


def workflow_hash(wf: Workflow) -> str:
    """Identity of what a workflow computes: each node's type, the values of its inputs and
    constants, its settings, and where each of its inputs comes from, in connection order (the
    order of a multiinput's values matters).

    Positions and computed output values are left out, so moving a node or
    saving results does not make it a different workflow for history and ETA.
    """
    sources = Adjacency(wf).sources
    return workflow_hash_of([_hash_entry(name, node, sources.get(name)) for name, node in wf.nodes.items()])


def _hash_entry(name: str, node: Node, sources: Mapping[str, list] | None) -> tuple:
    """(name, path, {terminal: value} of inputs and constants, settings, {input: upstream ends});
    RunPlan gathers the same."""
    values = {t: term.value for t, term in node.terminals.items()
              if term.opts.get("in") or term.opts.get("widget") not in _DISPLAY_WIDGETS}
    return (name, node.path, values, node.settings, _in_terminal_order(sources or {}, node.terminals))


def _in_terminal_order(sources: Mapping[str, list], terminals: Mapping[str, Any]) -> Mapping[str, list]:
    """A node's input sources keyed in its terminals' order (the adjacency keys them in the order
    of the first connection into each, which redrawing a connection changes)."""
    if len(sources) < 2:  # the usual node: nothing to order
        return sources
    return {t: sources[t] for t in terminals if t in sources}


def workflow_hash_of(entries: list[tuple]) -> str:
    """The workflow hash of per-node entries as RunPlan gathers them (``RunPlan.hash_entries``);
    sorts ``entries`` in place."""
    return workflow_fingerprint(entries, _dumps_for_hash)


def _dumps_for_hash(value: Any) -> str:
    """``json.dumps`` as the workflow hash makes its text (numpy values by their bytes)."""
    return json.dumps(value, default=_hash_default, check_circular=False)


#: the fingerprints' encoder, with numpy values by their bytes (``_hash_default``)
_encode_for_hash = make_encoder(_hash_default)
