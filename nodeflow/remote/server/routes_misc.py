"""Routes: ``/status`` (public), ``/me``, users and tokens, the queue's
status and clearing, and admin cancel-all."""
from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from ... import __version__
from ..protocol import (Cleared, Me, QueueStatus, ServerStatus, TokenCreate, TokenCreated, TokenOut, UserCreate,
                        UserCreated, UserOut)
from .auth import Principal, admin, principal, user
from .errors import NotFound

router = APIRouter()


async def server(request: Request):
    return request.app.state.server


@router.get("/status", response_model=ServerStatus, tags=["server"], summary="Server status (no token needed)")
def status(s=Depends(server)):
    counts = s.queue.counts()
    return ServerStatus(version=__version__, time=time.time(), queued=counts.get("queued", 0),
                        running=counts.get("running", 0), runners_online=s.runners.online_count())


@router.get("/me", response_model=Me, tags=["users"], summary="Who this token belongs to")
def me(p: Principal = Depends(principal)):
    return Me(name=p.name, admin=p.admin, token_kind=p.kind)


@router.get("/users", response_model=list[UserOut], tags=["users"], summary="All users (admin)")
def list_users(s=Depends(server), _p: Principal = Depends(admin)):
    return [UserOut(name=u["name"], admin=bool(u["admin"]), created_at=u["created_at"]) for u in s.auth.users()]


@router.post("/users", response_model=UserCreated, status_code=201, tags=["users"],
             summary="Create a user and its first token (admin); the token is shown once")
def create_user(body: UserCreate, s=Depends(server), _p: Principal = Depends(admin)):
    u, token = s.auth.create_user(body.name, body.admin)
    return UserCreated(**u, token=token)


@router.get("/tokens", response_model=list[TokenOut], tags=["users"], summary="Your tokens (never their values)")
def list_tokens(s=Depends(server), p: Principal = Depends(user)):
    return [TokenOut(**t) for t in s.auth.tokens(p.user_id)]


@router.post("/tokens", response_model=TokenCreated, status_code=201, tags=["users"],
             summary="A new token for you: kind 'user', or 'runner' (may only run tasks)")
def create_token(body: TokenCreate, s=Depends(server), p: Principal = Depends(user)):
    t, token = s.auth.create_token(p.user_id, body.kind, body.label)
    return TokenCreated(**t, token=token)


@router.delete("/tokens/{token_id}", status_code=204, tags=["users"], summary="Revoke one of your tokens")
def revoke_token(token_id: Annotated[int, Path(ge=1, le=2 ** 53)], s=Depends(server), p: Principal = Depends(user)):
    if not s.auth.revoke(p.user_id, token_id):
        raise NotFound(f"no token {token_id} of yours")


@router.get("/queue", response_model=QueueStatus, tags=["queue"], summary="Tasks per state and tag set (admin)")
def queue_status(s=Depends(server), _p: Principal = Depends(admin)):
    return QueueStatus(**s.queue.queue_status())


@router.post("/queue/clear", response_model=Cleared, tags=["queue"], summary="Cancel every queued task (admin)")
def queue_clear(s=Depends(server), p: Principal = Depends(admin)):
    return Cleared(cancelled_tasks=len(s.queue.cancel(p, None, only_queued=True)))


@router.post("/admin/cancel-all", response_model=Cleared, tags=["queue"],
             summary="Cancel every server run and every queued or running task (admin)")
async def cancel_all(s=Depends(server), p: Principal = Depends(admin)):
    runs = await run_in_threadpool(s.runs.cancel_all)
    n = await run_in_threadpool(s.queue.cancel, p, None)
    return Cleared(cancelled_tasks=len(n), cancelled_runs=runs)
