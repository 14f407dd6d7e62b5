"""Bring the loopback Slurm cluster + sshd of packaging/ci/ up and down from tests.

Plain functions, no pytest fixtures::

    from tests import slurm_env            # or: import slurm_env (tests/ on sys.path)

    ok, why = slurm_env.can_run()
    if not ok:
        pytest.skip(why)
    env = slurm_env.bring_up(state_dir)    # dict from STATE_DIR/env.json
    try:
        client = slurm_env.ssh_client(env) # paramiko, key + known_hosts, RejectPolicy
        ...
    finally:
        slurm_env.tear_down(state_dir)

env.json keys: ssh_host, ssh_port, ssh_user, ssh_key, known_hosts, partition,
cluster, slurm_conf, node, cpus, slurm_version, remote_workdir, state_dir,
pid_files (daemon name -> pid file, only for the daemons this STATE_DIR started).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
CI_DIR = REPO_ROOT / "packaging" / "ci"
UP_SCRIPT = CI_DIR / "slurm-up.sh"
DOWN_SCRIPT = CI_DIR / "slurm-down.sh"

# What slurm-up.sh needs when it cannot install packages itself.
_REQUIRED = (
    "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol", "scancel",
    "munged", "munge", "unmunge", "sshd", "ssh", "ssh-keygen", "ssh-keyscan",
)
_SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _which(cmd: str) -> str | None:
    return shutil.which(cmd, path=os.environ.get("PATH", "") + os.pathsep + _SBIN_PATH)


def can_run() -> tuple[bool, str]:
    """Whether slurm-up.sh can work on this machine; the reason is meant for pytest.skip."""
    if os.name != "posix" or not hasattr(os, "geteuid"):
        return False, "the loopback Slurm cluster needs Linux"
    if _which("bash") is None:
        return False, "bash not found"
    if not UP_SCRIPT.is_file():
        return False, f"{UP_SCRIPT} is missing"
    if os.geteuid() != 0:
        return False, ("the loopback Slurm cluster needs root (it starts munged, slurmctld, "
                       "slurmd and sshd, and creates user nfuser); CI runs the tests as root")
    missing = [c for c in _REQUIRED if _which(c) is None]
    if not missing:
        return True, "Slurm, munge and OpenSSH are installed"
    if _which("apt-get") is not None:
        return True, f"apt-get will install what is missing ({', '.join(missing)})"
    return False, ("not a Debian/apt system and Slurm/munge/OpenSSH are not installed "
                   f"(missing: {', '.join(missing)})")


def _run(script: Path, state_dir: str | os.PathLike[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(script), os.fspath(state_dir)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )


def bring_up(state_dir: str | os.PathLike[str], timeout: float = 900) -> dict[str, Any]:
    """Run packaging/ci/slurm-up.sh STATE_DIR and return STATE_DIR/env.json as a dict.

    Idempotent (running daemons are reused). Raises RuntimeError with the
    script's output when it fails or times out.
    """
    try:
        proc = _run(UP_SCRIPT, state_dir, timeout)
    except subprocess.TimeoutExpired as exc:
        out = exc.output.decode(errors="replace") if isinstance(exc.output, bytes) else (exc.output or "")
        raise RuntimeError(f"slurm-up.sh {state_dir} timed out after {timeout} s\n{out}") from None
    if proc.returncode != 0:
        raise RuntimeError(f"slurm-up.sh {state_dir} failed (exit {proc.returncode}):\n{proc.stdout}")
    env_file = Path(state_dir) / "env.json"
    try:
        return json.loads(env_file.read_text())
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"slurm-up.sh succeeded but {env_file} is unreadable: {exc}\n{proc.stdout}") from exc


def tear_down(state_dir: str | os.PathLike[str], timeout: float = 300) -> str:
    """Run packaging/ci/slurm-down.sh STATE_DIR (stops only what bring_up started).

    Returns the script's output; raises RuntimeError if it fails.
    """
    try:
        proc = _run(DOWN_SCRIPT, state_dir, timeout)
    except subprocess.TimeoutExpired as exc:
        out = exc.output.decode(errors="replace") if isinstance(exc.output, bytes) else (exc.output or "")
        raise RuntimeError(f"slurm-down.sh {state_dir} timed out after {timeout} s\n{out}") from None
    if proc.returncode != 0:
        raise RuntimeError(f"slurm-down.sh {state_dir} failed (exit {proc.returncode}):\n{proc.stdout}")
    return proc.stdout


def ssh_client(env: dict[str, Any], timeout: float = 10):
    """A connected paramiko.SSHClient for env (from bring_up): key auth, known_hosts, RejectPolicy."""
    import paramiko

    client = paramiko.SSHClient()
    client.load_host_keys(env["known_hosts"])
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        env["ssh_host"],
        port=int(env["ssh_port"]),
        username=env["ssh_user"],
        key_filename=env["ssh_key"],
        look_for_keys=False,
        allow_agent=False,
        timeout=timeout,
    )
    return client
