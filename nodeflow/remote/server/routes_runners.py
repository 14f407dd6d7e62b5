"""Routes: runners — register, list, shutdown, and the runner's own two
calls: ``lease`` (a long-poll for up to N tasks, handing in results) and
``heartbeat`` (renew leases, send logs/progress/results, hear about cancels
and shutdown). Runner tokens may use exactly these (plus ``/me``)."""
from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from ..protocol import (Heartbeat, HeartbeatReply, LeaseRequest, LeaseResponse, RunnerInfo, RunnerRegister,
                        RunnerRegistered)
from .auth import Principal, principal, user
from .routes_misc import server

router = APIRouter(tags=["runners"])

RunnerId = Annotated[int, Path(ge=1, le=2 ** 53)]


@router.post("/runners/register", response_model=RunnerRegistered, status_code=201,
             summary="Register a runner process (user or runner token); returns its id and timings")
def register(body: RunnerRegister, s=Depends(server), p: Principal = Depends(principal)):
    rid = s.runners.register(p, body.name, body.tags, body.slots, body.host, body.version)
    o = s.options
    return RunnerRegistered(id=rid, lease_timeout_s=o.lease_timeout_s,
                            heartbeat_s=min(o.heartbeat_s, o.lease_timeout_s / 3))


@router.get("/runners", response_model=list[RunnerInfo],
            summary="Runners you can use: tags, slots, state, last heartbeat, running tasks")
def list_runners(s=Depends(server), p: Principal = Depends(user)):
    return [RunnerInfo(**r) for r in s.runners.list(p)]


@router.post("/runners/{runner_id}/shutdown", status_code=204,
             summary="Ask a runner to drain and exit (its owner or an admin); it hears at its next heartbeat")
def shutdown(runner_id: RunnerId, s=Depends(server), p: Principal = Depends(user)):
    s.runners.shutdown(p, runner_id)


@router.post("/runners/{runner_id}/lease", response_model=LeaseResponse,
             summary="Hand in results and lease up to max_tasks tasks whose tags the runner has; "
                     "with wait_s, hold the request until there is work")
async def lease(runner_id: RunnerId, body: LeaseRequest, s=Depends(server), p: Principal = Depends(principal)):
    # The hot path: each attempt is a few short statements under the write lock (see ServerState.call);
    # the waiting in between is asynchronous.
    runner = await s.call(s.runners.check, p, runner_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(body.wait_s, s.options.max_wait_s)
    accepted: list[int] = []
    while True:
        gen = s.notifier.gen("queue")
        tasks, acc = await s.call(s.queue.lease, runner, body)
        accepted += acc
        if body.results:
            body = body.model_copy(update={"results": []})  # handed in once
        remaining = deadline - loop.time()
        if tasks or remaining <= 0 or s.closing or body.max_tasks == 0:
            return LeaseResponse(tasks=tasks, accepted=accepted)
        await s.notifier.wait("queue", gen, remaining)
        runner = await s.call(s.runners.check, p, runner_id)


@router.post("/runners/{runner_id}/heartbeat", response_model=HeartbeatReply,
             summary="Renew the leases listed, take logs, progress, results and given-back tasks; "
                     "answers which tasks to cancel and whether to shut down")
async def heartbeat(runner_id: RunnerId, body: Heartbeat, s=Depends(server), p: Principal = Depends(principal)):
    runner = await s.call(s.runners.check, p, runner_id)
    return await s.call(s.queue.heartbeat, runner, body)
