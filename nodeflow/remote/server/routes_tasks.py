"""Routes: tasks, the submitting side — submit a batch (idempotent by key),
watch many in one long-poll, one task's state and log, cancel."""
from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from ..protocol import (CancelRequest, CancelResponse, StatusRequest, StatusResponse, SubmitRequest, SubmitResponse,
                        TaskState, TaskWatch)
from .auth import Principal, user
from .errors import NotFound, Unprocessable
from .routes_misc import server

router = APIRouter(tags=["tasks"])

TaskId = Annotated[int, Path(ge=1, le=2 ** 53)]
_KINDS = ("python", "command")


def _check_spec(i: int, spec: dict) -> None:
    path = spec.get("path")
    if spec.get("kind") not in _KINDS:
        raise Unprocessable(f"tasks[{i}].spec.kind must be one of {_KINDS}")
    if not isinstance(path, list) or not path or not all(isinstance(x, str) for x in path):
        raise Unprocessable(f"tasks[{i}].spec.path must be a non-empty list of strings")
    if not isinstance(spec.get("node"), str) or not isinstance(spec.get("run_id"), str):
        raise Unprocessable(f"tasks[{i}].spec needs 'node' and 'run_id' strings")
    argv = spec.get("argv")
    if spec["kind"] == "command" and (not isinstance(argv, list) or not argv
                                      or not all(isinstance(x, str) for x in argv)):
        raise Unprocessable(f"tasks[{i}].spec.argv must be a non-empty list of strings for a command")


@router.post("/tasks", response_model=SubmitResponse, status_code=201,
             summary="Queue TaskSpecs for runners (same key again: the same task, never a second one)")
def submit(body: SubmitRequest, s=Depends(server), p: Principal = Depends(user)):
    for i, t in enumerate(body.tasks):
        _check_spec(i, t.spec)
    return SubmitResponse(ids=s.queue.submit(p, body.client, body.tasks))


@router.post("/tasks/status", response_model=StatusResponse,
             summary="Tasks that changed: those listed (since the versions given) or, with client and since, "
                     "every task of that client after that cursor; with wait_s, hold the request until one of "
                     "this client's tasks changes")
async def status(body: StatusRequest, s=Depends(server), p: Principal = Depends(user)):
    topic = f"client:{body.client}" if body.client else "tasks"
    cursor_mode = body.since is not None and bool(body.client)

    def look():
        if cursor_mode:
            return s.queue.changes(p, body.client, body.since)
        return s.queue.status(p, body.tasks), None

    gen = s.notifier.gen(topic)
    states, cursor = await s.call(look)  # short reads (see ServerState.call)
    if not states and body.wait_s > 0 and not s.closing:
        if await s.notifier.wait(topic, gen, min(body.wait_s, s.options.max_wait_s)):
            await asyncio.sleep(0.005)  # let a burst of changes land together
            states, cursor = await s.call(look)
    if cursor_mode and cursor is None:
        cursor = body.since
    return StatusResponse(tasks=states, cursor=cursor if cursor_mode else None)


@router.get("/tasks/{task_id}", response_model=TaskState, summary="One task's state and result")
def get_task(task_id: TaskId, s=Depends(server), p: Principal = Depends(user)):
    st = s.queue.status(p, [TaskWatch(id=task_id, version=0, log_seq=0)])
    if not st or st[0].missing:
        raise NotFound(f"no task {task_id}")
    st[0].log = []
    return st[0]


@router.get("/tasks/{task_id}/logs", summary="Log lines after chunk `after`: {lines, next}")
def task_logs(task_id: TaskId, after: Annotated[int, Query(ge=0, le=2 ** 53)] = 0, s=Depends(server),
              p: Principal = Depends(user)):
    lines, nxt = s.queue.logs(p, task_id, after)
    return {"lines": lines, "next": nxt}


@router.post("/tasks/cancel", response_model=CancelResponse,
             summary="Cancel tasks: queued ones at once, running ones at their runner's next heartbeat")
def cancel(body: CancelRequest, s=Depends(server), p: Principal = Depends(user)):
    return CancelResponse(cancelled=s.queue.cancel(p, body.ids))
