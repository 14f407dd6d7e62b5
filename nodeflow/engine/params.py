"""Workflow parameters: ``{{NAME}}`` substitution and expansion into instances.

A workflow has named parameters (workflow settings ``parameters``; the CLI's
``-p NAME=VALUE`` overrides, ``NAME=a,b,c`` for a list). ``{{NAME}}`` in a
terminal value — a string, or strings inside lists and dicts, such as a
command's arguments — is substituted. A node that uses a list-valued
parameter becomes one node per value (the cartesian product when it uses
several), named ``node[NAME=value,…]``; as in Daggy, connections follow the
template name: every instance gets the template's incoming connections, and
what the template fed is fed by every instance — except between two
instances expanded over a shared parameter, which are joined value by value
(``a[D=1] → b[D=1]``), so per-value pipelines stay separate.
An unknown ``{{NAME}}`` is a validation error naming it.
"""
from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Mapping
from typing import Any

from ..model import Connection, Node, Problem, Workflow
from ..model.validate import ERROR

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*\}\}")

ParamValue = str | list[str]


class ParameterError(ValueError):
    pass


def parse_cli_params(items: list[str] | None) -> dict[str, ParamValue]:
    """``["A=x", "B=a,b,c"]`` → ``{"A": "x", "B": ["a", "b", "c"]}``."""
    out: dict[str, ParamValue] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name or not PLACEHOLDER.fullmatch("{{" + name + "}}"):
            raise ParameterError(f"-p takes NAME=VALUE (NAME=a,b,c for a list), got {item!r}")
        out[name] = value.split(",") if "," in value else value
    return out


def normalise(params: Mapping[str, Any]) -> dict[str, ParamValue]:
    norm: dict[str, ParamValue] = {}
    for k, v in params.items():
        if isinstance(v, (list, tuple)):
            if not v:
                raise ParameterError(f"parameter {k!r} is an empty list")
            norm[k] = [str(x) for x in v]
        else:
            norm[k] = str(v)
    return norm


def names_used(value: Any, found: set[str] | None = None) -> set[str]:
    found = set() if found is None else found
    if isinstance(value, str):
        if "{{" in value:
            found.update(m.group(1) for m in PLACEHOLDER.finditer(value))
    elif isinstance(value, list):
        for v in value:
            names_used(v, found)
    elif isinstance(value, dict):
        for v in value.values():
            names_used(v, found)
    return found


def has_placeholder(value: Any) -> bool:
    """Whether ``value`` (text, or lists and dicts of it) holds a ``{{...}}``: ``names_used`` without
    collecting them, asked of every terminal value before a run."""
    c = value.__class__
    if c is str:
        return "{{" in value and PLACEHOLDER.search(value) is not None
    if c is float or c is int or value is None or c is bool:
        return False
    if isinstance(value, str):
        return bool(names_used(value))
    if isinstance(value, list):
        return any(has_placeholder(v) for v in value)
    if isinstance(value, dict):
        return any(has_placeholder(v) for v in value.values())
    return False


def substitute(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        if "{{" not in value:
            return value
        return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [substitute(v, values) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, values) for k, v in value.items()}
    return value


def node_params(node: Node) -> set[str]:
    used: set[str] = set()
    for term in node.terminals.values():
        names_used(term.value, used)
    return used


def unknown_parameter_problems(wf: Workflow, params: Mapping[str, Any]) -> list[Problem]:
    """Validation rule: every ``{{NAME}}`` must name a parameter."""
    problems = []
    for key, node in wf.nodes.items():
        for tname, term in node.terminals.items():
            for name in sorted(names_used(term.value) - set(params)):
                problems.append(Problem(ERROR, key, f"terminal {tname!r} uses unknown parameter {{{{{name}}}}}",
                                        "unknown-parameter", (key,)))
    return problems


def instance_count(node: Node, params: Mapping[str, Any]) -> int:
    """How many nodes ``node`` expands to (the editor shows it)."""
    n = 1
    for name in node_params(node):
        v = params.get(name)
        if isinstance(v, (list, tuple)):
            n *= len(v)
    return n


def expand(wf: Workflow, params: Mapping[str, Any]) -> Workflow:
    """A new workflow with parameters substituted and list parameters expanded."""
    params = normalise(params)
    problems = unknown_parameter_problems(wf, params)
    if problems:
        raise ParameterError("; ".join(f"{p.uniquename}: {p.message}" for p in problems))
    out = Workflow(key_order=(), source_path=wf.source_path)
    # template name → list of (instance name, {list param: value})
    instances: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for key, node in wf.nodes.items():
        used = node_params(node)
        if not used:
            out.nodes[key] = node
            instances[key] = [(key, {})]
            continue
        scalars = {k: params[k] for k in used if isinstance(params[k], str)}
        lists = sorted(k for k in used if isinstance(params[k], list))
        combos = itertools.product(*(params[k] for k in lists)) if lists else [()]
        instances[key] = []
        for combo in combos:
            chosen = dict(zip(lists, combo))
            name = key if not lists else f"{key}[{','.join(f'{k}={v}' for k, v in chosen.items())}]"
            inst = copy.deepcopy(node)
            inst.uniquename = name
            inst.stored_uniquename = None
            values = {**scalars, **chosen}
            for term in inst.terminals.values():
                term.value = substitute(term.value, values)
            out.nodes[name] = inst
            instances[key].append((name, chosen))
    n = 0
    for key, c in wf.connections.items():
        src_insts, dst_insts = instances[c.input[0]], instances[c.output[0]]
        for (s, sv), (d, dv) in itertools.product(src_insts, dst_insts):
            shared = sv.keys() & dv.keys()
            if any(sv[k] != dv[k] for k in shared):
                continue
            name = key if len(src_insts) == len(dst_insts) == 1 else f"{key}#{n}"
            n += 1
            out.connections[name] = Connection(name, (s, c.input[1]), (d, c.output[1]), c.name, c.line,
                                               c.controlpoints, c.feedback, None, c.extra)
    return out
