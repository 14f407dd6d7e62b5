"""The wire models of the nodeflow server API (``/api/v1``), shared by the
server, the runner agent and the desktop's runner executor.

Everything that crosses the network is JSON described here; nothing is
pickled. A TaskSpec travels as ``TaskSpec.to_json_dict()`` with arrays inline
(``model.values.encode`` without a sidecar folder); results travel as
``WireResult`` with outputs encoded the same way.

Task states on the server: ``queued`` → ``running`` (leased by a runner) →
``succeeded`` | ``failed`` | ``cancelled``. A running task whose lease
expires goes back to ``queued`` (one more retry) or, past the retry limit,
to ``failed`` with reason ``lost``.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

API_PREFIX = "/api/v1"
API_VERSION = 1

TASK_QUEUED = "queued"
TASK_RUNNING = "running"
TASK_SUCCEEDED = "succeeded"
TASK_FAILED = "failed"
TASK_CANCELLED = "cancelled"
TASK_FINAL = frozenset({TASK_SUCCEEDED, TASK_FAILED, TASK_CANCELLED})

#: names of users, workflows, runners: letters, digits, ``._-``; no slashes
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
Tag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:=+-]{0,63}$")]
ShortText = Annotated[str, StringConstraints(max_length=2000)]
#: database ids (bounded, so no value can overflow a 64-bit column)
Id = Annotated[int, Field(ge=1, le=2 ** 53)]
Count = Annotated[int, Field(ge=0, le=2 ** 53)]
LogLine = tuple[Literal["stdout", "stderr"], Annotated[str, StringConstraints(max_length=65536)]]


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


# -- status, users, tokens --------------------------------------------------------------

class ServerStatus(Model):
    server: str = "nodeflow"
    version: str
    api: int = API_VERSION
    time: float
    queued: int
    running: int
    runners_online: int


class Me(Model):
    name: str
    admin: bool
    token_kind: str


class UserCreate(Model):
    name: Name
    admin: bool = False


class UserOut(Model):
    name: str
    admin: bool
    created_at: float


class TokenCreate(Model):
    label: Annotated[str, StringConstraints(max_length=100)] = ""
    kind: Literal["user", "runner"] = "user"


class TokenOut(Model):
    id: int
    label: str
    kind: str
    created_at: float
    last_used_at: float | None = None


class TokenCreated(TokenOut):
    token: str  # shown once; the server keeps only its hash


class UserCreated(UserOut):
    token: str


# -- workflows ----------------------------------------------------------------------------

class WorkflowPublish(Model):
    content: Annotated[str, StringConstraints(min_length=2)]  # the .nc file's JSON text
    message: ShortText = ""


class Published(Model):
    name: str
    owner: str
    version: int
    commit: str


class WorkflowInfo(Model):
    name: str
    owner: str
    versions: int
    commit: str
    updated_at: float
    shared_with: list[str] = []
    schedule: str | None = None


class WorkflowVersion(Model):
    name: str
    owner: str
    version: int
    commit: str
    author: str
    time: float
    message: str
    content: str


class CommitInfo(Model):
    version: int
    commit: str
    author: str
    time: float
    message: str


class WorkflowDiff(Model):
    a: int
    b: int
    diff: str


class ShareRequest(Model):
    user: Name


class ExecuteRequest(Model):
    version: Annotated[str, StringConstraints(max_length=64)] | None = None  # number or commit; None: latest
    failure_policy: Literal["continue", "stop"] | None = None


# -- runs ---------------------------------------------------------------------------------

class RunInfo(Model):
    run_id: str
    owner: str
    workflow: str
    version: int
    commit: str
    state: str  # starting | running | succeeded | failed | cancelled
    trigger: str
    created_at: float
    finished_at: float | None = None
    error: str | None = None
    counts: dict[str, int] = {}
    nodes: dict[str, str] = {}


class RunEvents(Model):
    run_id: str
    state: str
    events: list[dict[str, Any]]
    next: int  # pass as ``after`` to get what follows


# -- timers -------------------------------------------------------------------------------

class TimerCreate(Model):
    workflow: Name
    cron: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    owner: Name | None = None  # a workflow shared with you
    version: Annotated[str, StringConstraints(max_length=64)] | None = None


class TimerInfo(Model):
    id: int
    owner: str
    workflow: str
    cron: str
    version: str | None
    paused: bool
    source: str  # "api" | "workflow" (the workflow's own schedule setting)
    next_fire: float | None
    last_fire: float | None
    last_run_id: str | None


# -- runners ------------------------------------------------------------------------------

class RunnerRegister(Model):
    name: Name
    tags: list[Tag] = Field(default_factory=list, max_length=64)
    slots: int = Field(1, ge=1, le=1024)
    host: Annotated[str, StringConstraints(max_length=255)] = ""
    version: Annotated[str, StringConstraints(max_length=64)] = ""


class RunnerRegistered(Model):
    id: int
    lease_timeout_s: float
    heartbeat_s: float


class RunnerInfo(Model):
    id: int
    name: str
    owner: str
    host: str
    tags: list[str]
    slots: int
    state: str  # online | draining | offline | shutdown
    last_heartbeat: float | None
    running_tasks: list[int]


class WireResult(Model):
    ok: bool
    outputs: dict[str, Any] = {}
    error: str | None = None
    exit_code: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    log: list[LogLine] = []


class TaskReport(Model):
    """A runner's final word on one task it leased."""
    task_id: Id
    lease: Annotated[str, StringConstraints(max_length=64)]
    state: Literal["succeeded", "failed", "cancelled"]
    reason: Annotated[str, StringConstraints(max_length=64)] | None = None
    result: WireResult


class LogChunk(Model):
    task_id: Id
    lease: Annotated[str, StringConstraints(max_length=64)]
    lines: list[LogLine] = Field(max_length=5000)


class ProgressReport(Model):
    task_id: Id
    lease: Annotated[str, StringConstraints(max_length=64)]
    fraction: float | None = Field(None, ge=0.0, le=1.0)
    message: Annotated[str, StringConstraints(max_length=500)] = ""


class LeaseRef(Model):
    task_id: Id
    lease: Annotated[str, StringConstraints(max_length=64)]


class LeaseRequest(Model):
    max_tasks: int = Field(1, ge=0, le=256)
    free_slots: int | None = Field(None, ge=0, le=1024)  # default: max_tasks
    wait_s: float = Field(0.0, ge=0.0, le=60.0)
    results: list[TaskReport] = Field(default_factory=list, max_length=1000)


class LeasedTask(Model):
    task_id: int
    lease: str
    spec: dict[str, Any]
    slots: int
    retries: int
    timeout_s: float | None = None


class LeaseResponse(Model):
    tasks: list[LeasedTask]
    accepted: list[int] = []  # task ids whose results were taken


class Heartbeat(Model):
    running: list[LeaseRef] = Field(default_factory=list, max_length=4096)
    results: list[TaskReport] = Field(default_factory=list, max_length=1000)
    logs: list[LogChunk] = Field(default_factory=list, max_length=1000)
    progress: list[ProgressReport] = Field(default_factory=list, max_length=1000)
    release: list[LeaseRef] = Field(default_factory=list, max_length=4096)  # given back, not run
    draining: bool = False


class HeartbeatReply(Model):
    cancel: list[int] = []  # kill these (cancelled, or the lease is no longer yours)
    shutdown: bool = False  # drain and exit
    accepted: list[int] = []  # task ids whose results were taken


# -- tasks (the submitting side) ----------------------------------------------------------

class TaskSubmit(Model):
    key: Annotated[str, StringConstraints(min_length=8, max_length=64)]  # idempotency key, unique per user
    spec: dict[str, Any]
    tags: list[Tag] = Field(default_factory=list, max_length=64)
    slots: int = Field(1, ge=1, le=1024)
    priority: int = Field(0, ge=-1000, le=1000)
    max_retries: int | None = Field(None, ge=0, le=100)


class SubmitRequest(Model):
    client: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    tasks: list[TaskSubmit] = Field(max_length=5000)


class SubmitResponse(Model):
    ids: list[int]


class TaskWatch(Model):
    id: Id
    version: Count = 0  # the last version seen (0: never)
    log_seq: Count = 0  # log chunks already seen


class StatusRequest(Model):
    """Either ``tasks`` (the versions you know of each; only changed ones come back) or, with
    ``client`` and ``since``, cursor mode: every task of that client changed after ``since``."""
    client: Annotated[str, StringConstraints(max_length=64)] | None = None
    tasks: list[TaskWatch] = Field(default_factory=list, max_length=20000)
    since: Count | None = None
    wait_s: float = Field(0.0, ge=0.0, le=60.0)


class TaskState(Model):
    id: int
    version: int
    state: str
    reason: str | None = None
    runner: str | None = None
    host: str | None = None
    retries: int = 0
    submitted_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    progress: float | None = None
    progress_message: str | None = None
    result: WireResult | None = None
    log: list[LogLine] = []
    log_seq: int = 0
    missing: bool = False  # the server does not know this task (or it is not yours)


class StatusResponse(Model):
    tasks: list[TaskState]
    cursor: int | None = None  # cursor mode: pass as ``since`` next time


class CancelRequest(Model):
    ids: list[Id] = Field(max_length=20000)


class CancelResponse(Model):
    cancelled: list[int]


class QueueStatus(Model):
    counts: dict[str, int]
    tag_sets: dict[str, int]  # queued tasks per required tag set ("a,b")
    oldest_queued_at: float | None


class Cleared(Model):
    cancelled_tasks: int
    cancelled_runs: int = 0


class Problem(Model):
    detail: Any
