"""Things going wrong on the real loopback cluster: cancel, a killed SSH connection, a killed nodeflow process."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from nodeflow.engine import EventCollector, EventKind, NodeState, RunState, run_workflow
from nodeflow.library import builtin_registry
from nodeflow.model import Workflow, save

from .conftest import profile_dict, squeue_states
from .test_slurm_run import add, on

pytestmark = pytest.mark.slurm


def wait_for(pred, timeout=30.0, interval=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(interval)
    return pred()


def pids_with_arg(marker: str) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if marker.encode() in (d / "cmdline").read_bytes().split(b"\0"):
                    out.append(int(d.name))
            except OSError:
                pass
    return out


def start_run(wf, reg, tmp_path, executors, **kw):
    ev = EventCollector()
    box: dict = {}

    def go():
        box["result"] = run_workflow(wf, registry=reg, executors=executors, observers=[ev],
                                     runs_dir=tmp_path / "runs", on_scheduler=lambda s: box.setdefault("s", s), **kw)

    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t, ev, box


def test_cancel_scancels_the_job_and_its_process_goes(make_executor, slurm_env, tmp_path):
    reg = builtin_registry()
    marker = f"nodeflow-cancel-{uuid.uuid4().hex}"
    wf = Workflow()
    on(add(wf, reg, ("shell", "Command"), "long", command=sys.executable,
           args=["-c", "import time; time.sleep(120)", marker]))
    ex = make_executor()
    t, ev, box = start_run(wf, reg, tmp_path, {"slurm:test": ex})
    assert wait_for(lambda: pids_with_arg(marker) and ev.of(EventKind.NODE_STARTED, "long")), "it never started"
    box["s"].cancel()
    t.join(timeout=30)
    res = box["result"]
    assert res.state == RunState.CANCELLED and res.nodes["long"].state == NodeState.CANCELLED
    job = ev.of(EventKind.NODE_SUBMITTED, "long")[0].data["job_id"]
    assert squeue_states(slurm_env, res.run_id) == {job: "CANCELLED"}
    assert wait_for(lambda: not pids_with_arg(marker), timeout=15), "the job's process outlived scancel"


def sshd_children_serving(env, client_port: int) -> list[int]:
    """The processes of the test sshd holding the TCP connection whose client side is ``client_port``."""
    ssh_port = int(env["ssh_port"])
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        local, remote, inode = f[1], f[2], f[9]
        if int(local.split(":")[1], 16) == ssh_port and int(remote.split(":")[1], 16) == client_port:
            inodes.add(f"socket:[{inode}]")
    daemon = int(Path(env["pid_files"]["sshd"]).read_text().split()[0]) if "sshd" in env["pid_files"] else None
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            links = {os.readlink(fd) for fd in (d / "fd").iterdir()}
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if links & inodes and (daemon is None or _descends_from(int(d.name), daemon)):
            pids.append(int(d.name))
    return pids


def _descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            return False
    return False


def test_the_run_finishes_when_its_ssh_connection_is_killed(make_executor, slurm_env, tmp_path):
    reg = builtin_registry()
    wf = Workflow()
    for n in ("a", "b", "c"):
        on(add(wf, reg, ("shell", "Command"), n, command="sh", args=["-c", f"sleep 4; echo {n}"]))
    on(add(wf, reg, ("shell", "Command"), "join", command="echo"))
    for n in ("a", "b", "c"):
        wf.connect((n, "stdout"), ("join", "args"))
    ex = make_executor()
    t, ev, box = start_run(wf, reg, tmp_path, {"slurm:test": ex})
    assert wait_for(lambda: len(ev.of(EventKind.NODE_STARTED)) == 3), "the jobs never started"
    port = ex.transport.local_port()
    victims = sshd_children_serving(slurm_env, port)
    assert victims, f"no sshd process serves client port {port}"
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: not ex.transport.connected, timeout=10), "the connection survived its sshd"
    t.join(timeout=90)
    res = box["result"]
    assert res.state == RunState.SUCCEEDED, {n: r.error for n, r in res.nodes.items()}
    assert res.nodes["join"].outputs["stdout"].split() == ["a", "b", "c"]
    assert ex.transport.reconnects >= 1 and ex.transport.local_port() != port
    assert len(squeue_states(slurm_env, res.run_id)) == 4  # nothing submitted twice


def _nodeflow(args, home: Path, **kw):
    env = {**os.environ, "NODEFLOW_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-m", "nodeflow.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kw)


def write_config(home: Path, profile: dict) -> None:
    from nodeflow.config import Config

    cfg = Config()
    cfg.slurm["test"] = profile
    cfg.save(home / "config" / "config.toml")


def test_a_killed_nodeflow_is_finished_by_attach_without_submitting_twice(slurm_env, tmp_path):
    from nodeflow.history.store import HistoryStore

    home = tmp_path / "home"
    write_config(home, profile_dict(slurm_env))
    reg = builtin_registry()
    wf = Workflow()
    on(add(wf, reg, ("shell", "Command"), "a", command="sh", args=["-c", "sleep 5; printf A"]), None)
    on(add(wf, reg, ("shell", "Command"), "b", command="sh", args=["-c", "sleep 1; printf B"]), None)
    on(add(wf, reg, ("types", "Float"), "f", float=4.0), None)
    on(add(wf, reg, ("math", "Root"), "root", degree=2.0), None)
    on(add(wf, reg, ("shell", "Command"), "c", command="echo"), None)
    wf.connect(("f", "float"), ("root", "radicand"))
    wf.connect(("a", "stdout"), ("c", "args"))
    wf.connect(("b", "stdout"), ("c", "args"))
    wf.connect(("root", "result"), ("c", "args"))
    path = tmp_path / "wf.nc"
    save(wf, path)

    first = _nodeflow(["run", str(path), "--executor", "slurm:test", "--plain"], home)
    history = home / "data" / "history.sqlite"

    def journaled():
        if not history.exists():
            return None
        with HistoryStore(history) as store:
            run_id = store.latest_run_id()
            return (run_id, {j["node"] for j in store.jobs(run_id)}) if run_id else None

    # kill it once a, b, f are submitted (c waits for a, so it cannot have been submitted yet)
    assert wait_for(lambda: (journaled() or (None, set()))[1] >= {"a", "b", "f"}, timeout=60), \
        first.communicate(timeout=5)[0] if first.poll() is not None else "nothing journaled"
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    run_id, nodes = journaled()
    assert "c" not in nodes

    second = _nodeflow(["run", str(path), "--attach", run_id, "--plain", "--results", str(tmp_path / "r.json")],
                       home)
    out, _ = second.communicate(timeout=120)
    assert second.returncode == 0, out
    import json

    results = json.loads((tmp_path / "r.json").read_text())
    assert results["run_id"] == run_id and results["state"] == "succeeded"
    assert results["nodes"]["c"]["outputs"]["stdout"] == "A B 2.0\n"
    assert results["nodes"]["a"]["reused"] is False  # still running when nodeflow died: taken over, not redone
    states = squeue_states(slurm_env, run_id)
    assert len(states) == 5 and set(states.values()) == {"COMPLETED"}, states  # one job per node, ever
    with HistoryStore(history) as store:
        assert {j["node"] for j in store.jobs(run_id)} == {"a", "b", "f", "root", "c"}


def test_a_submission_cut_off_by_a_timeout_is_settled_without_submitting_twice(slurm_env, tmp_path):
    """sbatch can sleep for minutes when slurmctld is full; the submit script outlives our timeout."""
    import slurm_env as env_mod

    from nodeflow.executors.slurm import SlurmExecutor, SlurmProfile, SSHTransport
    from nodeflow.executors.slurm.errors import CommandTimeout

    class CutOff(SSHTransport):
        def __init__(self, profile):
            super().__init__(profile)
            self.thread = None

        def run(self, script, *, timeout=None):
            if "nf_submit" not in script or self.thread is not None:
                return super().run(script, timeout=timeout)

            def slow_script():  # the same script, started for real, slowed down while it holds the lock
                client = env_mod.ssh_client(slurm_env)
                stdin, out, _ = client.exec_command("/bin/sh -s")
                stdin.write(script.replace("nf_run=", "sleep 3\nnf_run=", 1))
                stdin.channel.shutdown_write()
                out.read()
                client.close()

            self.thread = threading.Thread(target=slow_script, daemon=True)
            self.thread.start()
            time.sleep(1.0)
            raise CommandTimeout("a command took longer than 1 s (simulated)")

    profile = SlurmProfile.from_dict("test", profile_dict(slurm_env))
    ex = SlurmExecutor(profile, transport=CutOff(profile))
    reg = builtin_registry()
    wf = Workflow()
    for n in ("x", "y", "z"):
        on(add(wf, reg, ("shell", "Command"), n, command="printf", args=[n]))
    on(add(wf, reg, ("shell", "Command"), "join", command="echo"))
    for n in ("x", "y", "z"):
        wf.connect((n, "stdout"), ("join", "args"))
    ev = EventCollector()
    try:
        res = run_workflow(wf, registry=reg, executors={"slurm:test": ex}, observers=[ev], runs_dir=tmp_path / "r")
    finally:
        ex.close()
    assert res.state == RunState.SUCCEEDED, {n: r.error for n, r in res.nodes.items()}
    assert res.nodes["join"].outputs["stdout"] == "x y z\n"
    assert ex.stats["unresolved"] == 3 and ex.stats["resolved"] == 3
    assert not ev.of(EventKind.NODE_SUBMITTED, "x")  # no job id when submit() returned: not journaled
    states = squeue_states(slurm_env, res.run_id)
    assert len(states) == 4 and set(states.values()) == {"COMPLETED"}
