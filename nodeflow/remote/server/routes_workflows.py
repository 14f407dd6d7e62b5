"""Routes: workflows — publish, get (latest or a version), raw content,
list, history, diff, delete, sharing, and starting a server-side run."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from ..protocol import (CommitInfo, ExecuteRequest, Published, RunInfo, ShareRequest, WorkflowDiff, WorkflowInfo,
                        WorkflowPublish, WorkflowVersion)
from .auth import Principal, user
from .errors import BadRequest, Unprocessable
from .routes_misc import server

router = APIRouter(tags=["workflows"])

WfName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$", description="workflow name")]
Owner = Annotated[str | None, Query(max_length=100, description="whose workflow (default: yours, else the one "
                                                                 "shared with you)")]
Version = Annotated[str | None, Query(max_length=64, description="1-based number or commit id; default: latest")]


@router.get("/workflows", response_model=list[WorkflowInfo], summary="Your workflows and those shared with you")
def list_workflows(s=Depends(server), p: Principal = Depends(user)):
    return [WorkflowInfo(**w) for w in s.store.list(p)]


@router.post("/workflows/{name}", response_model=Published, status_code=201,
             summary="Publish a new version (a git commit authored by you)")
def publish(name: WfName, body: WorkflowPublish, s=Depends(server), p: Principal = Depends(user)):
    from ...engine.settings import SettingsError, WorkflowSettings
    from ...model import WorkflowFileError, loads
    from .timers import check_cron

    try:
        wf = loads(body.content)
        schedule = WorkflowSettings.of(wf).schedule
    except (WorkflowFileError, SettingsError) as e:
        raise BadRequest(f"not a usable workflow file: {e}") from None
    if schedule is not None:
        if not isinstance(schedule, str):
            raise Unprocessable(f"the workflow's schedule must be a cron string, got {schedule!r}")
        check_cron(schedule)
    out = s.store.publish(p, name, body.content.encode("utf-8"), body.message, schedule)
    s.timers.sync_workflow(p, {"id": out["id"]}, schedule)
    return Published(name=name, owner=p.name, version=out["version"], commit=out["commit"])


@router.get("/workflows/{name}", response_model=WorkflowVersion, summary="A version's file and its commit")
def get_workflow(name: WfName, version: Version = None, owner: Owner = None, s=Depends(server),
                 p: Principal = Depends(user)):
    wf = s.store.find(p, name, owner)
    v = s.store.version(wf, version)
    content = s.store.content(wf, v)
    return WorkflowVersion(name=wf["name"], owner=wf["owner"], content=content.decode("utf-8", "replace"), **v)


@router.get("/workflows/{name}/content", summary="A version's file, byte for byte",
            responses={200: {"content": {"application/json": {}}}})
def get_content(name: WfName, version: Version = None, owner: Owner = None, s=Depends(server),
                p: Principal = Depends(user)):
    wf = s.store.find(p, name, owner)
    v = s.store.version(wf, version)
    return Response(s.store.content(wf, v), media_type="application/json",
                    headers={"X-Nodeflow-Version": str(v["version"]), "X-Nodeflow-Commit": v["commit"]})


@router.get("/workflows/{name}/history", response_model=list[CommitInfo], summary="Versions, oldest first")
def history(name: WfName, owner: Owner = None, s=Depends(server), p: Principal = Depends(user)):
    return [CommitInfo(**v) for v in s.store.versions(s.store.find(p, name, owner))]


@router.get("/workflows/{name}/diff", response_model=WorkflowDiff, summary="Unified diff between two versions")
def diff(name: WfName, a: Annotated[str, Query(max_length=64)], b: Annotated[str, Query(max_length=64)],
         owner: Owner = None, s=Depends(server), p: Principal = Depends(user)):
    va, vb, text = s.store.diff(s.store.find(p, name, owner), a, b)
    return WorkflowDiff(a=va, b=vb, diff=text)


@router.delete("/workflows/{name}", status_code=204, summary="Delete (a commit removing it; git keeps the past)")
def delete_workflow(name: WfName, owner: Owner = None, s=Depends(server), p: Principal = Depends(user)):
    s.store.delete(p, s.store.find(p, name, owner))


@router.post("/workflows/{name}/shares", status_code=204, summary="Let another user see and run it")
def share(name: WfName, body: ShareRequest, s=Depends(server), p: Principal = Depends(user)):
    s.store.share(p, s.store.find(p, name, p.name), body.user, True)


@router.delete("/workflows/{name}/shares/{other}", status_code=204, summary="Stop sharing it with a user")
def unshare(name: WfName, other: Annotated[str, Path(max_length=100)], s=Depends(server),
            p: Principal = Depends(user)):
    s.store.share(p, s.store.find(p, name, p.name), other, False)


@router.post("/workflows/{name}/execute", response_model=RunInfo, status_code=202,
             summary="Run a published version on the server (its nodes go to the runners)")
async def execute(name: WfName, body: ExecuteRequest | None = None, owner: Owner = None, s=Depends(server),
                  p: Principal = Depends(user)):
    body = body or ExecuteRequest()

    def start():
        wf = s.store.find(p, name, owner)
        v = s.store.version(wf, body.version)
        run_id = s.runs.execute(p, wf, v, "api", body.failure_policy)
        return s.runs.row(p, run_id)

    return RunInfo(**await run_in_threadpool(start))
