"""nodeflow's own settings inside a Nodeworks file, per node and per workflow.

Per node: ``customState["nodeflow"]`` (executor, max_retries, retry_interval_s,
resources, timeout_s, isolate). ``customState`` is Nodeworks' free-form
per-node object, so a key of our own there is carried along by Nodeworks and
ignored by its nodes.

Per workflow: a hidden node ``"nodeflow settings"`` of type
``["nodeflow", "Workflow Settings"]`` with no terminals, whose
``customState["nodeflow"]`` holds failure_policy, executor, jobs, parameters,
schedule. It is an ordinary Node entry with ``"hidden": true`` — the file
stays a well-formed Nodeworks file (every top-level value is a Node or a
Connection), Nodeworks does not draw hidden nodes, and one that lacks the
type treats it like any node of a plug-in it does not have. nodeflow's
library registers the type, never runs it, and the editor does not show it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..model import Node, Workflow

SETTINGS_NODE = "nodeflow settings"
SETTINGS_PATH = ("nodeflow", "Workflow Settings")
FAILURE_POLICIES = ("continue", "stop")


class SettingsError(ValueError):
    pass


def _num(d: dict, key: str, kind, default, node: str, minimum=0):
    v = d.get(key, default)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise SettingsError(f"{node}: setting {key!r} must be a number, got {v!r}")
    if v < minimum:
        raise SettingsError(f"{node}: setting {key!r} must be at least {minimum}, got {v!r}")
    return kind(v)


@dataclass(frozen=True, slots=True)
class NodeSettings:
    executor: str | None = None  # None: the run's default executor
    max_retries: int = 0
    retry_interval_s: float = 0.0
    resources: dict[str, Any] = field(default_factory=dict)
    timeout_s: float | None = None
    isolate: bool = False
    tags: tuple[str, ...] = ()  # runner tags a node needs
    generator: bool = False  # its output (JSON) adds nodes at run time (see engine.generators)

    @classmethod
    def of(cls, node: Node) -> "NodeSettings":
        s = node.settings
        if not s:
            return _DEFAULT_NODE_SETTINGS
        name = node.uniquename
        ex = s.get("executor")
        if ex is not None and not isinstance(ex, str):
            raise SettingsError(f"{name}: setting 'executor' must be a name, got {ex!r}")
        res = s.get("resources") or {}
        if not isinstance(res, dict):
            raise SettingsError(f"{name}: setting 'resources' must be an object, got {res!r}")
        timeout = s.get("timeout_s")
        tags = s.get("tags") or ()
        return cls(executor=ex or None,
                   max_retries=_num(s, "max_retries", int, 0, name),
                   retry_interval_s=_num(s, "retry_interval_s", float, 0.0, name),
                   resources=dict(res),
                   timeout_s=None if timeout is None else _num(s, "timeout_s", float, None, name, minimum=0.001),
                   isolate=bool(s.get("isolate", False)),
                   tags=tuple(str(t) for t in tags),
                   generator=bool(s.get("generator", False)))

    def to_state(self) -> dict[str, Any]:
        """The dict stored in customState (defaults left out)."""
        d: dict[str, Any] = {}
        if self.executor:
            d["executor"] = self.executor
        if self.max_retries:
            d["max_retries"] = self.max_retries
        if self.retry_interval_s:
            d["retry_interval_s"] = self.retry_interval_s
        if self.resources:
            d["resources"] = dict(self.resources)
        if self.timeout_s is not None:
            d["timeout_s"] = self.timeout_s
        if self.isolate:
            d["isolate"] = True
        if self.tags:
            d["tags"] = list(self.tags)
        if self.generator:
            d["generator"] = True
        return d


#: the settings of a node that sets none (one shared, frozen object)
DEFAULT_NODE_SETTINGS = _DEFAULT_NODE_SETTINGS = NodeSettings()


@dataclass(frozen=True, slots=True)
class WorkflowSettings:
    failure_policy: str = "continue"
    executor: str = "local"
    jobs: int | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    schedule: str | None = None

    @classmethod
    def of(cls, wf: Workflow) -> "WorkflowSettings":
        node = wf.nodes.get(SETTINGS_NODE)
        if node is None or node.path != SETTINGS_PATH:
            return cls()
        s = node.settings
        policy = s.get("failure_policy", "continue")
        if policy not in FAILURE_POLICIES:
            raise SettingsError(f"{SETTINGS_NODE}: failure_policy must be one of {FAILURE_POLICIES}, got {policy!r}")
        jobs = s.get("jobs")
        return cls(failure_policy=policy, executor=str(s.get("executor") or "local"),
                   jobs=None if jobs is None else _num(s, "jobs", int, None, SETTINGS_NODE, minimum=1),
                   parameters=dict(s.get("parameters") or {}), schedule=s.get("schedule"))

    def store(self, wf: Workflow) -> Node:
        """Write these settings into the workflow's hidden settings node (created if needed)."""
        node = wf.nodes.get(SETTINGS_NODE)
        if node is None:
            node = Node(uniquename=SETTINGS_NODE, path=SETTINGS_PATH, name="nodeflow settings", hidden=True)
            wf.add_node(node)
        d: dict[str, Any] = {"failure_policy": self.failure_policy, "executor": self.executor}
        if self.jobs is not None:
            d["jobs"] = self.jobs
        if self.parameters:
            d["parameters"] = dict(self.parameters)
        if self.schedule:
            d["schedule"] = self.schedule
        node.set_settings(d)
        return node


def is_settings_node(node: Node) -> bool:
    return node.path == SETTINGS_PATH
