"""Executors: where a node runs (local, slurm, runner), behind one protocol (see base)."""
from .base import Executor, TaskResult, TaskSpec, TaskStatus

__all__ = ["Executor", "TaskResult", "TaskSpec", "TaskStatus"]
