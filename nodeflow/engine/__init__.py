"""The engine: run plans, the scheduler loop (sole owner of run state), events.

Executors are injected (DESIGN rule 3); the engine imports only their
protocol. ``run_workflow`` wires plan, executors, history and scheduler.
"""
from .clock import ManualClock, SystemClock
from .events import CallbackObserver, EventCollector, EventKind, RunEvent, RunObserver
from .plan import PlanError, RunPlan
from .runner import run_workflow
from .results import NodeResult, RunResult
from .scheduler import Scheduler
from .states import NodeState, RunState

__all__ = ["CallbackObserver", "EventCollector", "EventKind", "ManualClock", "NodeResult", "NodeState", "PlanError",
           "RunEvent", "RunObserver", "RunPlan", "RunResult", "RunState", "Scheduler", "SystemClock",
           "run_workflow"]
