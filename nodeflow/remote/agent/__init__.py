"""The runner agent (``nodeflow runner``): leases tasks from a nodeflow server
and runs them with the local executor. ``agent`` holds the loop, ``guard``
the wrapper that ties command nodes' lives to the agent's.
"""
from .agent import AgentSettings, RunnerAgent

__all__ = ["AgentSettings", "RunnerAgent"]
