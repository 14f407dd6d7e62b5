"""A small synchronous client for the nodeflow server API (httpx).

``ServerClient`` maps each route to a method returning protocol models or
plain JSON, and turns failures into two exceptions:

* ``ServerUnavailable`` — the server could not be reached, or answered 502,
  503 or 504: worth retrying with back-off;
* ``RemoteError`` — the server said no (4xx, or a 500): ``status`` and the
  server's ``detail`` message.

One client per thread (``clone()`` makes another with the same address and
token): long-polls of one thread then never queue behind requests of another.
"""
from __future__ import annotations

from typing import Any

import httpx

from .. import __version__
from .protocol import (API_PREFIX, CancelRequest, Heartbeat, HeartbeatReply, LeaseRequest, LeaseResponse,
                       RunnerRegister, RunnerRegistered, StatusRequest, StatusResponse, SubmitRequest,
                       SubmitResponse, TaskSubmit, TaskWatch)


class RemoteError(Exception):
    def __init__(self, status: int, detail: Any, url: str = ""):
        self.status = status
        self.detail = detail
        self.url = url
        super().__init__(f"{status}: {_detail_text(detail)}")


class ServerUnavailable(RemoteError):
    pass


def _detail_text(detail: Any) -> str:
    if isinstance(detail, list):  # pydantic validation errors
        parts = []
        for d in detail[:5]:
            if isinstance(d, dict):
                loc = ".".join(str(x) for x in d.get("loc", ()) if x != "body")
                parts.append(f"{loc}: {d.get('msg')}" if loc else str(d.get("msg")))
            else:
                parts.append(str(d))
        return "; ".join(parts)
    return str(detail)


class ServerClient:
    def __init__(self, url: str, token: str | None = None, *, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        headers = {"User-Agent": f"nodeflow/{__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=self.url + API_PREFIX, headers=headers, timeout=timeout)

    def clone(self) -> "ServerClient":
        return ServerClient(self.url, self.token, timeout=self.timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- plumbing ---------------------------------------------------------------------------
    def request(self, method: str, path: str, *, json: Any = None, params: dict | None = None,
                timeout: float | None = None, raw: bool = False) -> Any:
        try:
            r = self._http.request(method, path, json=json, params=params,
                                   timeout=self.timeout if timeout is None else timeout)
        except httpx.TransportError as e:
            raise ServerUnavailable(0, f"cannot reach {self.url}: {type(e).__name__}: {e}", self.url) from None
        if r.status_code in (502, 503, 504):
            raise ServerUnavailable(r.status_code, r.text[:200] or r.reason_phrase, self.url)
        if r.status_code >= 400:
            try:
                detail = r.json().get("detail", r.text)
            except ValueError:
                detail = r.text[:500] or r.reason_phrase
            raise RemoteError(r.status_code, detail, self.url)
        if raw:
            return r.content
        if r.status_code == 204 or not r.content:
            return None
        return r.json()

    def _post_model(self, path: str, body, out_model, timeout: float | None = None):
        data = self.request("POST", path, json=body.model_dump(mode="json"), timeout=timeout)
        return out_model.model_validate(data)

    # -- general ----------------------------------------------------------------------------
    def status(self) -> dict:
        return self.request("GET", "/status")

    def me(self) -> dict:
        return self.request("GET", "/me")

    # -- workflows --------------------------------------------------------------------------
    def publish(self, name: str, content: str, message: str = "") -> dict:
        return self.request("POST", f"/workflows/{name}", json={"content": content, "message": message})

    def workflows(self) -> list[dict]:
        return self.request("GET", "/workflows")

    def workflow(self, name: str, version: str | int | None = None, owner: str | None = None) -> dict:
        return self.request("GET", f"/workflows/{name}", params=_params(version=version, owner=owner))

    def history(self, name: str, owner: str | None = None) -> list[dict]:
        return self.request("GET", f"/workflows/{name}/history", params=_params(owner=owner))

    def diff(self, name: str, a: str | int, b: str | int, owner: str | None = None) -> dict:
        return self.request("GET", f"/workflows/{name}/diff", params=_params(a=a, b=b, owner=owner))

    def delete_workflow(self, name: str) -> None:
        self.request("DELETE", f"/workflows/{name}")

    def share(self, name: str, user: str) -> None:
        self.request("POST", f"/workflows/{name}/shares", json={"user": user})

    def execute(self, name: str, version: str | int | None = None, owner: str | None = None,
                failure_policy: str | None = None) -> dict:
        body = {"version": None if version is None else str(version), "failure_policy": failure_policy}
        return self.request("POST", f"/workflows/{name}/execute", json=body, params=_params(owner=owner))

    # -- runs and timers --------------------------------------------------------------------
    def runs(self) -> list[dict]:
        return self.request("GET", "/runs")

    def run(self, run_id: str) -> dict:
        return self.request("GET", f"/runs/{run_id}")

    def run_events(self, run_id: str, after: int = 0, wait_s: float = 0.0) -> dict:
        return self.request("GET", f"/runs/{run_id}/events", params={"after": after, "wait": wait_s},
                            timeout=self.timeout + wait_s)

    def cancel_run(self, run_id: str) -> dict:
        return self.request("POST", f"/runs/{run_id}/cancel")

    def timers(self) -> list[dict]:
        return self.request("GET", "/timers")

    def add_timer(self, workflow: str, cron: str, owner: str | None = None, version: str | None = None) -> dict:
        return self.request("POST", "/timers", json={"workflow": workflow, "cron": cron, "owner": owner,
                                                     "version": version})

    def timer_action(self, timer_id: int, action: str) -> dict | None:
        if action == "delete":
            return self.request("DELETE", f"/timers/{timer_id}")
        return self.request("POST", f"/timers/{timer_id}/{action}")

    # -- runners (the agent's side) ---------------------------------------------------------
    def runners(self) -> list[dict]:
        return self.request("GET", "/runners")

    def register_runner(self, reg: RunnerRegister) -> RunnerRegistered:
        return self._post_model("/runners/register", reg, RunnerRegistered)

    def lease(self, runner_id: int, req: LeaseRequest) -> LeaseResponse:
        return self._post_model(f"/runners/{runner_id}/lease", req, LeaseResponse, timeout=self.timeout + req.wait_s)

    def heartbeat(self, runner_id: int, hb: Heartbeat) -> HeartbeatReply:
        return self._post_model(f"/runners/{runner_id}/heartbeat", hb, HeartbeatReply)

    def shutdown_runner(self, runner_id: int) -> None:
        self.request("POST", f"/runners/{runner_id}/shutdown")

    # -- tasks (the submitting side) --------------------------------------------------------
    def submit(self, client: str, tasks: list[TaskSubmit]) -> list[int]:
        return self._post_model("/tasks", SubmitRequest(client=client, tasks=tasks), SubmitResponse).ids

    def task_status(self, client: str | None, watches: list[TaskWatch], wait_s: float = 0.0,
                    since: int | None = None) -> StatusResponse:
        req = StatusRequest(client=client, tasks=watches, wait_s=wait_s, since=since)
        return self._post_model("/tasks/status", req, StatusResponse, timeout=self.timeout + wait_s)

    def cancel_tasks(self, ids: list[int]) -> list[int]:
        return self.request("POST", "/tasks/cancel", json=CancelRequest(ids=ids).model_dump())["cancelled"]


def _params(**kw) -> dict:
    return {k: str(v) for k, v in kw.items() if v is not None}


class HttpTaskService:
    """The runner executor's ``TaskService`` over HTTP; one connection per thread that uses it."""

    def __init__(self, client):
        self._send = client
        self._watch = client.clone()

    def submit(self, client: str, tasks: list) -> list[int]:
        return self._send.submit(client, tasks)

    def changes(self, client: str, since: int, wait_s: float) -> tuple[list, int]:
        r = self._watch.task_status(client, [], wait_s, since=since)
        return r.tasks, (since if r.cursor is None else r.cursor)

    def status(self, client: str, watches: list, wait_s: float) -> list:
        return self._watch.task_status(client, watches, wait_s).tasks

    def cancel(self, ids: list[int]) -> None:
        self._send.cancel_tasks(ids)

    def close(self) -> None:
        self._send.close()
        self._watch.close()
