"""Host keys and the ``nodeflow slurm`` command against the real loopback sshd."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nodeflow.engine import EventCollector, EventKind, RunState, run_workflow
from nodeflow.library import builtin_registry
from nodeflow.model import Workflow

from .conftest import profile_dict
from .test_slurm_failures import write_config
from .test_slurm_run import add, on

pytestmark = pytest.mark.slurm


def host_fingerprint(env) -> str:
    pub = Path(env["state_dir"]) / "ssh_host_ed25519_key.pub"
    return subprocess.run(["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True, check=True).stdout.split()[1]


def one_node_run(ex, tmp_path):
    reg = builtin_registry()
    wf = Workflow()
    on(add(wf, reg, ("shell", "Command"), "hello", command="echo", args=["hi"]))
    ev = EventCollector()
    res = run_workflow(wf, registry=reg, executors={"slurm:test": ex}, observers=[ev], runs_dir=tmp_path / "runs")
    return res, ev


def test_an_unknown_host_key_is_refused_with_how_to_trust_it(make_executor, slurm_env, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    res, ev = one_node_run(make_executor(known_hosts=str(empty)), tmp_path)
    assert res.state == RunState.FAILED
    err = res.nodes["hello"].error
    assert "nodeflow slurm trust test" in err and host_fingerprint(slurm_env) in err
    assert ev.of(EventKind.NODE_FAILED, "hello")[0].data["reason"] == "hostkey"
    assert empty.read_text() == ""  # nothing was added behind the user's back


def test_a_changed_host_key_is_refused_as_a_possible_attack(make_executor, slurm_env, tmp_path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    other = (tmp_path / "other.pub").read_text().split()
    kh = tmp_path / "known_hosts"
    kh.write_text(f"[{slurm_env['ssh_host']}]:{slurm_env['ssh_port']} {other[0]} {other[1]}\n")
    res, _ = one_node_run(make_executor(known_hosts=str(kh)), tmp_path)
    assert "HOST KEY MISMATCH" in res.nodes["hello"].error
    # `nodeflow slurm trust` never offers a changed key either, and leaves known_hosts as it was
    home = tmp_path / "home"
    write_config(home, profile_dict(slurm_env, known_hosts=str(kh)))
    before = kh.read_text()
    r = nodeflow(["slurm", "trust", "test"], home, stdin="y\n")
    assert r.returncode == 1 and "This may be an attack" in r.stderr and kh.read_text() == before


def nodeflow(args, home, stdin=""):
    env = {**os.environ, "NODEFLOW_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "nodeflow.cli", *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=60)


def test_slurm_trust_test_and_profiles_commands(slurm_env, tmp_path):
    home = tmp_path / "home"
    kh = tmp_path / "ssh" / "known_hosts"
    write_config(home, profile_dict(slurm_env, known_hosts=str(kh), colour="blue"))
    fp = host_fingerprint(slurm_env)

    r = nodeflow(["slurm", "test", "test"], home)
    assert r.returncode == 1 and "nodeflow slurm trust test" in r.stderr
    r = nodeflow(["slurm", "trust", "test"], home, stdin="n\n")
    assert r.returncode == 1 and fp in r.stdout and not kh.exists()
    r = nodeflow(["slurm", "trust", "test", "--fingerprint", "SHA256:not-it"], home)
    assert r.returncode == 1 and not kh.exists()
    r = nodeflow(["slurm", "trust", "test"], home, stdin="y\n")
    assert r.returncode == 0, r.stdout + r.stderr
    assert kh.read_text().startswith(f"[{slurm_env['ssh_host']}]:{slurm_env['ssh_port']} ssh-ed25519 ")
    r = nodeflow(["slurm", "trust", "test"], home)
    assert r.returncode == 0 and "trusted already" in r.stdout

    r = nodeflow(["slurm", "test", "test"], home)
    assert r.returncode == 0, r.stderr
    assert slurm_env["partition"] in r.stdout and "OK" in r.stderr  # sinfo's table, over the connection

    r = nodeflow(["slurm", "profiles"], home)
    assert r.returncode == 0 and "slurm:test" in r.stdout and "colour" in r.stdout
