"""Routes: server-side runs (list, state, events as a long-poll, cancel) and
timers (list, create, pause, resume, delete)."""
from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from starlette.concurrency import run_in_threadpool

from ..protocol import RunEvents, RunInfo, TimerCreate, TimerInfo
from .auth import Principal, user
from .routes_misc import server

router = APIRouter()

RunId = Annotated[str, Path(max_length=100)]
TimerId = Annotated[int, Path(ge=1, le=2 ** 53)]
FINAL = ("succeeded", "failed", "cancelled")


@router.get("/runs", response_model=list[RunInfo], tags=["runs"], summary="Your server runs, newest first")
def list_runs(limit: Annotated[int, Query(ge=1, le=1000)] = 100, s=Depends(server), p: Principal = Depends(user)):
    return [RunInfo(**r) for r in s.runs.list(p, limit)]


@router.get("/runs/{run_id}", response_model=RunInfo, tags=["runs"], summary="A run's state, counts, node states")
def get_run(run_id: RunId, s=Depends(server), p: Principal = Depends(user)):
    return RunInfo(**s.runs.row(p, run_id))


@router.get("/runs/{run_id}/events", response_model=RunEvents, tags=["runs"],
            summary="Events after `after`; with `wait`, hold the request until there are some (long-poll)")
async def run_events(run_id: RunId, after: Annotated[int, Query(ge=0)] = 0,
                     wait: Annotated[float, Query(ge=0, le=60)] = 0.0,
                     limit: Annotated[int, Query(ge=1, le=10000)] = 2000,
                     s=Depends(server), p: Principal = Depends(user)):
    row = await run_in_threadpool(s.runs.row, p, run_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(wait, s.options.max_wait_s)
    topic = f"run:{run_id}"
    while True:
        gen = s.notifier.gen(topic)
        events, nxt = await run_in_threadpool(s.runs.events, run_id, after, limit)
        remaining = deadline - loop.time()
        if events or row["state"] in FINAL or remaining <= 0 or s.closing:
            break
        await s.notifier.wait(topic, gen, remaining)
        row = await run_in_threadpool(s.runs.row, p, run_id)
    return RunEvents(run_id=run_id, state=row["state"], events=events, next=nxt)


@router.post("/runs/{run_id}/cancel", response_model=RunInfo, tags=["runs"], summary="Cancel a server run")
def cancel_run(run_id: RunId, s=Depends(server), p: Principal = Depends(user)):
    s.runs.row(p, run_id)  # yours?
    s.runs.cancel(run_id)
    return RunInfo(**s.runs.row(p, run_id))


@router.get("/timers", response_model=list[TimerInfo], tags=["timers"], summary="Your timers")
def list_timers(s=Depends(server), p: Principal = Depends(user)):
    return [TimerInfo(**t) for t in s.timers.list(p)]


@router.post("/timers", response_model=TimerInfo, status_code=201, tags=["timers"],
             summary="Run a workflow on a cron schedule (5 fields, or 6 with seconds last)")
def create_timer(body: TimerCreate, s=Depends(server), p: Principal = Depends(user)):
    wf = s.store.find(p, body.workflow, body.owner)
    return TimerInfo(**s.timers.create(p, wf, body.cron, body.version))


@router.post("/timers/{timer_id}/pause", response_model=TimerInfo, tags=["timers"], summary="Pause a timer")
def pause_timer(timer_id: TimerId, s=Depends(server), p: Principal = Depends(user)):
    return TimerInfo(**s.timers.set_paused(p, timer_id, True))


@router.post("/timers/{timer_id}/resume", response_model=TimerInfo, tags=["timers"], summary="Resume a timer")
def resume_timer(timer_id: TimerId, s=Depends(server), p: Principal = Depends(user)):
    return TimerInfo(**s.timers.set_paused(p, timer_id, False))


@router.delete("/timers/{timer_id}", status_code=204, tags=["timers"], summary="Delete a timer")
def delete_timer(timer_id: TimerId, s=Depends(server), p: Principal = Depends(user)):
    s.timers.delete(p, timer_id)
