"""Real processes for the server tests: ``nodeflow server`` under uvicorn on a
free loopback port with a temporary data folder, and ``nodeflow runner``
agents — started with argument lists, stopped by their own pids."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from nodeflow.library import builtin_registry
from nodeflow.model import Workflow, dumps

PY = sys.executable
os.environ.setdefault("NODEFLOW_NO_KEYRING", "1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout: float = 15.0, interval: float = 0.05, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class ServerProc:
    def __init__(self, data: Path, *extra: str, port: int | None = None):
        self.data = data
        self.port = port or free_port()
        self.extra = list(extra)
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = data.parent / f"server-{self.port}.log"

    def start(self) -> "ServerProc":
        argv = [PY, "-m", "nodeflow.cli", "server", "--port", str(self.port), "--data", str(self.data),
                *self.extra]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        wait_until(self._up, 20, what=f"the server on port {self.port} (log: {self.log})")
        return self

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
        try:
            return httpx.get(self.url + "/api/v1/status", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)

    def _db_args(self) -> list[str]:
        return ["--db", self.extra[self.extra.index("--db") + 1]] if "--db" in self.extra else []

    def add_user(self, name: str, admin: bool = False) -> str:
        argv = [PY, "-m", "nodeflow.cli", "server", "add-user", name, "--data", str(self.data), *self._db_args()]
        out = subprocess.run(argv + (["--admin"] if admin else []), capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def add_token(self, user: str, runner: bool = False) -> str:
        argv = [PY, "-m", "nodeflow.cli", "server", "add-token", user, "--data", str(self.data), *self._db_args()]
        out = subprocess.run(argv + (["--runner"] if runner else []), capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def client(self, token: str):
        from nodeflow.remote.client import ServerClient

        return ServerClient(self.url, token, timeout=10)


class RunnerProc:
    def __init__(self, server: ServerProc, token: str, tmp: Path, name: str, tags: str = "", slots: int = 1,
                 *extra: str):
        self.name = name
        self.workdir = tmp / f"work-{name}"
        token_file = tmp / f"token-{name}"
        token_file.write_text(token)
        os.chmod(token_file, 0o600)
        self.log = tmp / f"runner-{name}.log"
        self.argv = [PY, "-m", "nodeflow.cli", "runner", "--server", server.url, "--token-file", str(token_file),
                     "--tags", tags, "--slots", str(slots), "--workdir", str(self.workdir), "--name", name,
                     "--lease-wait", "5", *extra]
        self.proc: subprocess.Popen | None = None

    def start(self) -> "RunnerProc":
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        wait_until(lambda: "ready" in self.log.read_text(), 20, what=f"runner {self.name} (log: {self.log})")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def tasks_run(self) -> list[str]:
        """Task folders this runner made: '<node>-t<id>'."""
        if not self.workdir.exists():
            return []
        return sorted(p.name for run in self.workdir.iterdir() if run.is_dir() for p in run.iterdir())


# -- workflows --------------------------------------------------------------------------------

REG = builtin_registry()


def node(wf: Workflow, path, name: str, tags=(), executor: str | None = "runner:test", **values):
    n = REG.create_node(path, wf)
    n.uniquename = name
    wf.add_node(n)
    for k, v in values.items():
        n.terminals[k].value = v
    settings = {}
    if executor:
        settings["executor"] = executor
    if tags:
        settings["tags"] = list(tags)
    if settings:
        n.set_settings(settings)
    return n


def tagged_workflow() -> Workflow:
    """a (tag a) and b (tag b) → m = a*b (tag a) → s: ``echo m`` (tag b)."""
    wf = Workflow()
    node(wf, ("types", "Float"), "a", ["a"], float=3.0)
    node(wf, ("types", "Float"), "b", ["b"], float=4.0)
    node(wf, ("math", "Multiply"), "m", ["a"])
    wf.connect(("a", "float"), ("m", "input"))
    wf.connect(("b", "float"), ("m", "input"))
    node(wf, ("shell", "Command"), "s", ["b"], command="echo")
    wf.connect(("m", "result"), ("s", "args"))  # echo 12.0
    return wf


def counting_command(wf: Workflow, name: str, counter: Path, seconds: float, tags=(), upstream: str | None = None,
                     executor: str | None = "runner:test"):
    """A command node appending 'start' at once and 'done' after ``seconds`` to ``counter``."""
    code = ("import sys, time; f = sys.argv[1]; open(f, 'a').write('start\\n'); time.sleep(float(sys.argv[2])); "
            "open(f, 'a').write('done\\n'); print('slept', sys.argv[2])")
    n = node(wf, ("shell", "Command"), name, tags, executor=executor, command=PY,
             args=["-c", code, str(counter), str(seconds)])
    if upstream:
        wf.connect((upstream, "stdout"), (name, "after"))  # order only
    return n


def workflow_text(wf: Workflow) -> str:
    return dumps(wf)


def runner_executor(server: ServerProc, token: str, **settings):
    from nodeflow.executors.runner import RunnerExecutor

    cfg = {"url": server.url, "token": token, "wait_s": 5.0, **settings}
    return RunnerExecutor.from_server("test", cfg)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One server with an admin (alice), a user (bob) and two runners: tags a and b, 2 slots each."""
    tmp = tmp_path_factory.mktemp("shared")
    srv = ServerProc(tmp / "data", "--lease-timeout", "10", "--heartbeat", "1").start()
    alice = srv.add_user("alice", admin=True)  # the CLI, once; the rest through the API
    with srv.client(alice) as c:
        bob = c.request("POST", "/users", json={"name": "bob"})["token"]
        runner_token = c.request("POST", "/tokens", json={"kind": "runner", "label": "runners"})["token"]
    ra = RunnerProc(srv, runner_token, tmp, "ra", "a", 2)
    rb = RunnerProc(srv, runner_token, tmp, "rb", "b,linux", 2)
    for r in (ra, rb):
        r.start()

    class Shared:
        pass

    s = Shared()
    s.server, s.alice, s.bob, s.runner_token, s.ra, s.rb, s.tmp = srv, alice, bob, runner_token, ra, rb, tmp
    yield s
    for r in (ra, rb):
        r.stop()
    srv.kill(signal.SIGTERM)
