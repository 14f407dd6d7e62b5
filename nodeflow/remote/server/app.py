"""The server application: ``create_app(data_dir, db_url=None, ...)``.

``ServerState`` holds the parts — database, auth, the workflow repository,
the runner registry, the task queue, server-side runs, timers, the notifier —
and ``open()``/``close()`` them (``nodeflow server add-user`` uses it without
the web app). ``create_app`` wires the routes (``routes_*``), the upload
limit, the error answers and a lifespan that starts and stops the
background work: lease expiry every few seconds, the run-event flusher, the
timer thread, and the re-attaching of runs a previous process left running.

Data folder: ``server.sqlite`` (unless ``db_url`` says otherwise), ``repo/``
(git), ``runs/`` (run folders of server-side runs), ``history.sqlite``.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ... import __version__
from ..protocol import API_PREFIX
from .auth import Auth
from .db import Database, sqlite_url
from .errors import ApiError
from .notify import Notifier
from .queue import TaskQueue
from .runners import RunnerRegistry
from .runs import RunManager
from .timers import Timers
from .workflows import WorkflowStore


@dataclass
class ServerOptions:
    lease_timeout_s: float = 60.0  # a runner silent this long loses its tasks
    heartbeat_s: float = 5.0  # what runners are asked to keep
    max_retries: int = 3  # lost-runner retries per task
    max_body_bytes: int = 32 * 1024 * 1024
    max_log_lines: int = 200_000  # per task
    max_wait_s: float = 60.0  # cap on any long-poll
    keep_tasks_days: float = 7.0  # finished tasks (and their logs) are forgotten after this
    run_timers: bool = True
    resume_runs: bool = True


class ServerState:
    def __init__(self, data_dir: str | os.PathLike, db_url: str | None = None, options: ServerOptions | None = None):
        self.data_dir = Path(data_dir)
        self.options = options or ServerOptions()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(db_url or sqlite_url(self.data_dir))
        self.db.create_all()
        self.notifier = Notifier()
        self.auth = Auth(self.db)
        self.store = WorkflowStore(self.db, self.data_dir / "repo")
        o = self.options
        self.runners = RunnerRegistry(self.db, lease_timeout_s=o.lease_timeout_s)
        self.queue = TaskQueue(self.db, self.notifier, self.runners, lease_timeout_s=o.lease_timeout_s,
                               max_retries=o.max_retries, max_log_lines=o.max_log_lines)
        self.runs = RunManager(self.db, self.queue, self.notifier, self.store, self.data_dir)
        self.timers = Timers(self.db, self.store, self.runs)
        self.closing = False
        self._started = False
        self._pruned = float("-inf")

    def start(self) -> None:
        """Background work: leases get a grace period, runs resume, timers tick."""
        self.queue.grace()
        self.runs.start()
        self._started = True
        if self.options.resume_runs:
            self.runs.resume()
        if self.options.run_timers:
            self.timers.start()

    async def call(self, fn, *args):
        """Run a short database call for a hot route: straight on the event loop with SQLite (a few
        hundred microseconds; a thread hop would cost more), in the thread pool for a database over
        the network (the loop must not wait on the wire)."""
        if self.db.is_sqlite:
            return fn(*args)
        return await run_in_threadpool(fn, *args)

    def maintain(self) -> None:
        """Every few seconds: leases that ran out; once an hour: old tasks and runners."""
        self.queue.expire()
        now = time.monotonic()
        if now - self._pruned > 3600:
            self._pruned = now
            self.runners.prune()
            self.queue.prune(self.options.keep_tasks_days * 86400)

    def close(self) -> None:
        self.closing = True
        self.notifier.close()
        if self._started:
            self.timers.close()
            self.runs.close()
        self.store.close()
        self.db.close()


def create_app(data_dir: str | os.PathLike, db_url: str | None = None, *, options: ServerOptions | None = None,
               **option_values) -> FastAPI:
    """The FastAPI app; ``option_values`` are ``ServerOptions`` fields (e.g. ``lease_timeout_s=5``)."""
    if options is None:
        options = ServerOptions(**option_values)
    state = ServerState(data_dir, db_url, options)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        await run_in_threadpool(state.start)
        task = asyncio.create_task(_maintenance(state))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await run_in_threadpool(state.close)

    app = FastAPI(title="nodeflow server", version=__version__, lifespan=lifespan,
                  description="Workflows with git history, a runner queue, server-side runs and timers. "
                              "Send `Authorization: Bearer <token>` (only `/status` is public).")
    app.state.server = state
    app.state.auth = state.auth

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError):
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    from . import routes_misc, routes_runners, routes_runs, routes_tasks, routes_workflows

    for mod in (routes_misc, routes_workflows, routes_runs, routes_runners, routes_tasks):
        app.include_router(mod.router, prefix=API_PREFIX)
    app.add_middleware(BodyLimit, max_bytes=options.max_body_bytes)
    return app


async def _maintenance(state: ServerState) -> None:
    every = max(0.2, min(5.0, state.options.lease_timeout_s / 4))
    while True:
        await asyncio.sleep(every)
        try:
            await run_in_threadpool(state.maintain)
        except Exception as e:  # keep going; the next round may work
            print(f"maintenance failed: {type(e).__name__}: {e}", flush=True)


class BodyLimit:
    """ASGI middleware: request bodies over ``max_bytes`` get 413 before any route sees them."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = None
        for k, v in scope.get("headers", ()):
            if k == b"content-length":
                try:
                    length = int(v)
                except ValueError:
                    return await _send_json(send, 400, "bad Content-Length header")
        if length is not None:
            if length > self.max_bytes:
                return await _send_json(send, 413, f"request body of {length} bytes is over the server's limit "
                                                   f"of {self.max_bytes} bytes")
            return await self.app(scope, receive, send)
        # no length given (chunked): read it all here, within the limit, then replay
        chunks, size = [], 0
        while True:
            msg = await receive()
            if msg["type"] != "http.request":
                break
            body = msg.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                return await _send_json(send, 413, f"request body is over the server's limit of "
                                                   f"{self.max_bytes} bytes")
            chunks.append(body)
            if not msg.get("more_body"):
                break
        data = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": data, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


async def _send_json(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
