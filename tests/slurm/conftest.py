"""The real loopback Slurm cluster + sshd for tests/slurm (packaging/ci/slurm-up.sh).

``slurm_env`` (session): brings the cluster up in a temporary state dir and
down at the end (only what it started). It skips with ``can_run()``'s reason
only where the cluster cannot run; where it can (root on Debian, CI), a
failure to bring it up is an error, never a skip.

Python nodes run on the cluster as the test user ``nfuser`` with THIS
interpreter (``sys.executable``, nodeflow installed). When that interpreter
lives under a folder other users cannot enter (pyenv under /root, mode 700),
the fixture grants search permission (``o+x``, no listing) on exactly the
folders in the way, and restores their modes at the end.

``profile_dict(env, **overrides)`` gives a ``[slurm.test]`` table for it;
``timeout_run`` starts, at the session's first Slurm test, the one slow test
(a real Slurm TIMEOUT needs ≥ 1 min: Slurm's time limits are whole minutes
and slurmctld checks them every 30 s) in the background, so it overlaps the rest.
"""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import slurm_env as _slurm_env  # noqa: E402  (tests/slurm_env.py)


def _remote_python_works(user: str) -> bool:
    r = subprocess.run(["runuser", "-u", user, "--", sys.executable, "-c", "import nodeflow.worker, numpy"],
                       cwd="/", capture_output=True)
    return r.returncode == 0


def _grant_search(user: str) -> list[tuple[Path, int]]:
    """Let ``user`` run this interpreter and import nodeflow: o+x on the folders that block it."""
    if _remote_python_works(user):
        return []
    import nodeflow

    changed: list[tuple[Path, int]] = []
    targets = {Path(sys.executable).resolve(), Path(sys.executable), Path(nodeflow.__file__).resolve().parent,
               Path(sys.prefix).resolve(), Path(os.__file__).resolve().parent}
    for target in targets:
        for d in [*reversed(target.parents), target]:
            if not d.is_dir():
                continue
            mode = d.stat().st_mode
            if not mode & stat.S_IXOTH and d not in [c[0] for c in changed]:
                os.chmod(d, stat.S_IMODE(mode) | stat.S_IXOTH)
                changed.append((d, stat.S_IMODE(mode)))
    if not _remote_python_works(user):
        _restore(changed)
        raise RuntimeError(f"user {user} cannot run {sys.executable} with nodeflow even after o+x on "
                           f"{[str(c[0]) for c in changed]}")
    return changed


def _restore(changed: list[tuple[Path, int]]) -> None:
    for d, mode in reversed(changed):
        try:
            os.chmod(d, mode)
        except OSError:
            pass


def job_slots_left() -> tuple[int, int]:
    """(jobs slurmctld holds now, MaxJobCount): finished jobs stay MinJobAge seconds and count too."""
    conf = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True).stdout
    limit = next((int(line.split("=")[1]) for line in conf.splitlines() if line.startswith("MaxJobCount")), 10000)
    held = len(subprocess.run(["squeue", "-h", "-t", "all", "-o", "%i"], capture_output=True, text=True).stdout.split())
    return held, limit


def wait_for_job_slots(needed: int, patience_s: float = 120.0) -> None:
    """sbatch sleeps and retries for minutes when slurmctld is full: say so instead of hanging."""
    import time

    end = time.monotonic() + patience_s
    while True:
        held, limit = job_slots_left()
        if limit - held >= needed or time.monotonic() > end:
            break
        time.sleep(5)
    if limit - held < needed:
        raise RuntimeError(f"slurmctld holds {held} jobs of its MaxJobCount={limit}; finished jobs stay for "
                           f"MinJobAge (see {_slurm_env.UP_SCRIPT.name}) before their slots free up. These tests "
                           f"need {needed} slots: wait a while, or restart the test cluster.")


@pytest.fixture(scope="session")
def slurm_env(tmp_path_factory):
    ok, why = _slurm_env.can_run()
    if not ok:
        pytest.skip(why)
    state = tmp_path_factory.mktemp("slurm-state")
    env = _slurm_env.bring_up(state)
    changed = []
    try:
        wait_for_job_slots(100)
        changed = _grant_search(env["ssh_user"])
        env["test_workdir"] = f"{env['remote_workdir']}/nodeflow-tests/{uuid.uuid4().hex[:8]}"
        yield env
    finally:
        _restore(changed)
        subprocess.run(["runuser", "-u", env["ssh_user"], "--", "rm", "-rf", env.get("test_workdir", "/nonexistent")],
                       cwd="/", capture_output=True)
        _slurm_env.tear_down(state)


def profile_dict(env, **overrides) -> dict:
    d = {"host": env["ssh_host"], "port": int(env["ssh_port"]), "user": env["ssh_user"], "key_file": env["ssh_key"],
         "known_hosts": env["known_hosts"], "workdir": env["test_workdir"], "python": sys.executable,
         "partition": env["partition"], "poll_min_s": 0.25, "poll_cap_s": 2.0}
    d.update(overrides)
    return {k: v for k, v in d.items() if v is not None}


@pytest.fixture
def make_executor(slurm_env):
    """``make_executor(**profile overrides)`` → a SlurmExecutor named slurm:test, closed after the test."""
    from nodeflow.executors.slurm import SlurmExecutor

    made = []

    def make(name="test", transport=None, **overrides):
        ex = SlurmExecutor.from_profile(name, profile_dict(slurm_env, **overrides), transport=transport)
        made.append(ex)
        return ex

    yield make
    for ex in made:
        ex.close()


def squeue_states(env, run_id: str) -> dict[str, str]:
    """{job id: STATE} of every job named ``run_id`` that slurmctld remembers (asked as the test user)."""
    r = subprocess.run(["runuser", "-u", env["ssh_user"], "--", "squeue", "-h", "-r", "-t", "all",
                        f"--name={run_id}", "-o", "%i|%T"], capture_output=True, text=True, cwd="/", check=True)
    return dict(line.split("|", 1) for line in r.stdout.split())


class TimeoutRun:
    """A one-node workflow whose job sleeps past ``--time=1``; run in a thread from the session's start."""

    def __init__(self, env, tmp: Path):
        self.env, self.tmp = env, tmp
        self.result = self.error = None
        self.events = None
        self.run_id = None
        self.executor = None
        self.thread = threading.Thread(target=self._run, name="slurm-timeout-test", daemon=True)

    def _run(self):
        import time

        from nodeflow.engine import EventCollector, run_workflow
        from nodeflow.executors.slurm import SlurmExecutor
        from nodeflow.library import builtin_registry
        from nodeflow.model import Workflow

        reg = builtin_registry()
        wf = Workflow()
        node = reg.get(("shell", "Command")).create_node(wf)
        node.uniquename = "sleeper"
        wf.add_node(node)
        node.terminals["command"].value = "sleep"
        node.terminals["args"].value = ["300"]
        node.set_settings({"resources": {"time_limit": "1"}})
        self.executor = SlurmExecutor.from_profile("test", profile_dict(self.env, poll_cap_s=4.0))
        self.events = EventCollector()
        self.started = time.monotonic()
        try:
            self.result = run_workflow(wf, registry=reg, executors={"slurm:test": self.executor},
                                       default_executor="slurm:test", observers=[self.events],
                                       runs_dir=self.tmp / "runs",
                                       on_scheduler=lambda s: setattr(self, "run_id", s.run_id))
        except BaseException as e:  # reported by the test
            self.error = e
        finally:
            self.elapsed = time.monotonic() - self.started
            self.executor.close()


@pytest.fixture(scope="session")
def timeout_run(slurm_env, tmp_path_factory):
    run = TimeoutRun(slurm_env, tmp_path_factory.mktemp("slurm-timeout"))
    run.thread.start()
    yield run
    if run.thread.is_alive() and run.run_id:  # the test was deselected: don't leave the job behind
        subprocess.run(["runuser", "-u", slurm_env["ssh_user"], "--", "scancel", f"--name={run.run_id}"], cwd="/")
    run.thread.join(timeout=10)


@pytest.fixture(autouse=True)
def _start_the_slow_test_early(request):
    """The TIMEOUT test's job starts with the first Slurm test, so its minute overlaps the others."""
    if request.node.get_closest_marker("slurm") is not None and "no_timeout_run" not in request.keywords:
        request.getfixturevalue("timeout_run")
