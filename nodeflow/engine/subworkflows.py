"""Sub-workflows: snapshot the referenced workflows at run start and inline them.

A ``nodeflow/Sub-workflow`` node names a child (``workflow`` terminal: a file
path, relative to the parent's folder, or ``server:NAME[@VERSION]``). At run
start each reference is read once (later edits to the child don't change a
run already started) and its nodes are copied into the parent as
``PARENT/child-node``; the child's ``Workflow Input`` nodes receive what is
connected to the parent node's terminal of the same name (or that terminal's
own value), and what the parent node's output terminals fed is fed by the
child's ``Workflow Output`` nodes. The same child may be used several times.

Cycles across references are found by keeping the chain of workflows we are
inside: a reference already in the chain is an error naming the chain
(``main.nc -> prep.nc -> main.nc``); every child is checked for plain cycles
and other validation errors on its own, named by its chain.
"""
from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path

from ..library.builtins.workflow_nodes import INPUT_PATH, OUTPUT_PATH, SUBWORKFLOW_PATH
from ..model import Connection, Workflow, WorkflowFileError, load
from ..model import validate as validate_model

SEP = "/"

#: resolves a reference (as written in the node) seen from a base folder → (identity, display name, workflow)
Resolver = Callable[[str, str | None], tuple[str, str, Workflow]]


class SubworkflowError(ValueError):
    pass


def file_resolver(ref: str, base_dir: str | None) -> tuple[str, str, Workflow]:
    if ref.startswith("server:"):
        from ..remote.references import fetch_reference  # the shared server (server extra)

        return fetch_reference(ref)
    path = Path(os.path.expanduser(ref))
    if not path.is_absolute() and base_dir:
        path = Path(base_dir) / path
    path = path.resolve()
    if not path.exists():
        raise SubworkflowError(f"referenced workflow {ref!r} not found (looked for {path})")
    try:
        wf = load(path)
    except WorkflowFileError as e:
        raise SubworkflowError(f"referenced workflow {ref!r} cannot be read: {e}") from None
    return str(path), path.name, wf


def has_subworkflows(wf: Workflow) -> bool:
    return any(n.path == SUBWORKFLOW_PATH for n in wf.nodes.values())


def exposed_terminals(child: Workflow) -> tuple[list[str], list[str]]:
    """Names of the child's Workflow Input and Workflow Output nodes (what a parent node shows)."""
    ins = [str(n.terminals["name"].value) for n in child.nodes.values() if n.path == INPUT_PATH]
    outs = [str(n.terminals["name"].value) for n in child.nodes.values() if n.path == OUTPUT_PATH]
    return ins, outs


def inline(wf: Workflow, *, resolver: Resolver = file_resolver, registry=None,
           chain: tuple[tuple[str, str], ...] | None = None) -> Workflow:
    """``wf`` with every sub-workflow node replaced by the nodes of its child, recursively."""
    if not has_subworkflows(wf):
        return wf
    if chain is None:
        me = os.path.realpath(wf.source_path) if wf.source_path else "<this workflow>"
        chain = ((me, Path(wf.source_path).name if wf.source_path else "<this workflow>"),)
    base_dir = str(Path(wf.source_path).resolve().parent) if wf.source_path else None
    out = Workflow(key_order=wf.key_order, source_path=wf.source_path)
    #: (parent node, terminal) → (inlined node, terminal) for rewiring
    into: dict[tuple[str, str], tuple[str, str]] = {}
    outof: dict[tuple[str, str], tuple[str, str]] = {}
    for key, node in wf.nodes.items():
        if node.path != SUBWORKFLOW_PATH:
            out.nodes[key] = node
            continue
        ref = node.terminals["workflow"].value if "workflow" in node.terminals else None
        if not ref:
            raise SubworkflowError(f"{key}: no workflow given to run")
        try:
            ident, display, child = resolver(str(ref), base_dir)
        except SubworkflowError as e:
            raise SubworkflowError(f"{key}: {e}") from None
        names = [d for _i, d in chain]
        if ident in [i for i, _d in chain]:
            raise SubworkflowError(f"{key}: workflow reference cycle: {' -> '.join(names + [display])}")
        child = copy.deepcopy(child)
        here = chain + ((ident, display),)
        problems = [p for p in validate_model(child, known_types=registry.known_paths() if registry else None)
                    if p.is_error]
        if problems:
            raise SubworkflowError(f"{key}: {' -> '.join(d for _i, d in here)}: "
                                   + "; ".join(str(p) for p in problems))
        child = inline(child, resolver=resolver, registry=registry, chain=here)
        _merge_child(out, key, node, child, into, outof)
    for ckey, c in wf.connections.items():
        src = outof.get(c.input, c.input)
        dst = into.get(c.output, c.output)
        out.connections[ckey] = Connection(ckey, src, dst, c.name, c.line, c.controlpoints, c.feedback, None,
                                           c.extra)
    return out


def _merge_child(out: Workflow, key: str, node, child: Workflow, into: dict, outof: dict) -> None:
    prefix = key + SEP
    exposed_in: dict[str, str] = {}
    exposed_out: dict[str, str] = {}
    for ckey, cnode in child.nodes.items():
        if cnode.path == ("nodeflow", "Workflow Settings"):
            continue
        new = prefix + ckey
        cnode.uniquename = new
        cnode.stored_uniquename = None
        out.nodes[new] = cnode
        if cnode.path == INPUT_PATH:
            exposed_in[str(cnode.terminals["name"].value)] = new
        elif cnode.path == OUTPUT_PATH:
            exposed_out[str(cnode.terminals["name"].value)] = new
    for tname, term in node.terminals.items():
        if tname == "workflow":
            continue
        if term.is_input:
            target = exposed_in.get(tname)
            if target is None:
                raise SubworkflowError(f"{key}: terminal {tname!r} is not an input the child workflow exposes "
                                       f"(it has: {', '.join(sorted(exposed_in)) or 'none'})")
            into[(key, tname)] = (target, "value")
            if term.value is not None:
                out.nodes[target].terminals["value"].value = term.value
        elif term.is_output:
            source = exposed_out.get(tname)
            if source is None:
                raise SubworkflowError(f"{key}: terminal {tname!r} is not an output the child workflow exposes "
                                       f"(it has: {', '.join(sorted(exposed_out)) or 'none'})")
            outof[(key, tname)] = (source, "output")
    for ckey, c in child.connections.items():
        name = prefix + ckey
        out.connections[name] = Connection(name, (prefix + c.input[0], c.input[1]),
                                           (prefix + c.output[0], c.output[1]), c.name, c.line, c.controlpoints,
                                           c.feedback, None, c.extra)
