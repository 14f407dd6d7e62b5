"""Slurm executor benchmarks (issue 5) on the loopback cluster. Run as root: python tests/benchmarks/bench_slurm.py

Brings the cluster up with packaging/ci/slurm-up.sh (state dir: $NODEFLOW_BENCH_STATE or a temp dir; it is
torn down at the end unless NODEFLOW_BENCH_KEEP=1), then, with 100 independent trivial command nodes (`true`):

1. Submission cost per job: nodeflow's ``submit()`` of the 100 (ONE script writing the job files and running
   the sbatch calls) against raw ``sbatch --parsable --wrap true`` run 100 times over an already open paramiko
   connection (one exec channel each) — with paramiko's default socket, and with TCP_NODELAY as nodeflow's
   connection has it. Goal <= 1.2x. Also one node at a time (batches of 1), for honesty.
2. squeue queries per poll cycle during a whole 100-node run through ``run_workflow``, counted by an
   instrumented transport: must be 1 in every cycle, whatever the number of jobs.
3. Wall time, submit -> all 100 finished: nodeflow's run; the same 100 jobs submitted raw one by one
   (what nodeflow does); and as ONE job array ``--array=0-99`` — the most arrays could ever save.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import slurm_env  # noqa: E402  (tests/slurm_env.py)

from nodeflow.engine import run_workflow  # noqa: E402
from nodeflow.executors.base import TaskSpec  # noqa: E402
from nodeflow.executors.slurm import SlurmExecutor, SSHTransport  # noqa: E402
from nodeflow.library import builtin_registry  # noqa: E402
from nodeflow.model import Workflow  # noqa: E402

N = 100
REPEATS = 3
WALL_REPEATS = 3
JOBS_NEEDED = REPEATS * (3 * N + 20) + WALL_REPEATS * 3 * N


class CountingTransport(SSHTransport):
    """Counts the squeue invocations in every script it runs (one entry per exec)."""

    def __init__(self, profile):
        super().__init__(profile)
        self.squeue_per_script: list[int] = []

    def run(self, script, *, timeout=None):
        if "squeue" in script:
            self.squeue_per_script.append(script.count("squeue "))
        return super().run(script, timeout=timeout)


def profile(env, workdir: str) -> dict:
    return {"host": env["ssh_host"], "port": int(env["ssh_port"]), "user": env["ssh_user"], "key_file": env["ssh_key"],
            "known_hosts": env["known_hosts"], "workdir": workdir, "partition": env["partition"],
            "poll_min_s": 0.25, "poll_cap_s": 2.0}


def exec_(client, cmd: str) -> str:
    _, out, err = client.exec_command(cmd)
    text = out.read().decode()
    if out.channel.recv_exit_status() != 0:
        raise RuntimeError(f"{cmd}: {err.read().decode()}")
    return text


def wait_all_done(client, name: str, n: int) -> None:
    while True:
        states = exec_(client, f"squeue -h -r -t all --name={name} -o %T").split()
        if len(states) >= n and all(s in ("COMPLETED", "FAILED", "CANCELLED") for s in states):
            return
        time.sleep(0.2)


def drain(client) -> None:
    """Wait until the cluster has nothing of ours queued or running (phases must not overlap)."""
    while exec_(client, "squeue -h --me -t pending,running,completing,configuring -o %i").split():
        time.sleep(0.2)


def specs(run_id: str, tmp: Path, n: int = N) -> list[TaskSpec]:
    return [TaskSpec(run_id, f"t{i:03d}", ("shell", "Command"), "command", argv=["true"],
                     workdir=str(tmp / run_id / f"t{i:03d}")) for i in range(n)]


def raw_submit(client, workdir: str, tag: str) -> float:
    drain(client)
    t0 = time.perf_counter()
    for _ in range(N):
        exec_(client, f"cd {workdir}/raw && sbatch --parsable --job-name=bench-{tag} --output=/dev/null --wrap true")
    return (time.perf_counter() - t0) / N


def bench_submit(env, workdir: str, tmp: Path, client) -> None:
    import socket

    exec_(client, f"mkdir -p {workdir}/raw")
    fast = slurm_env.ssh_client(env)  # the same raw calls with Nagle off, as nodeflow's connection has it
    fast.get_transport().sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    exec_(client, "true"), exec_(fast, "true")  # warm
    raw, raw_fast, ours, single = [], [], [], []
    for rep in range(REPEATS):  # interleaved: the cluster's speed drifts, each kind sees the same drift
        raw.append(raw_submit(client, workdir, f"raw-{rep}"))
        raw_fast.append(raw_submit(fast, workdir, f"rawfast-{rep}"))
        ex = SlurmExecutor.from_profile("bench", profile(env, workdir))
        ex.transport.connect()
        ex.workdir()  # the connection is open and the home known, as for the raw calls
        drain(client)
        t0 = time.perf_counter()
        handles = ex.submit(specs(f"bench-sub-{rep}-{os.getpid()}", tmp))
        ours.append((time.perf_counter() - t0) / N)
        assert all(h.job_id for h in handles), [ex.poll(handles)]
        drain(client)
        t0 = time.perf_counter()
        for s in specs(f"bench-one-{rep}-{os.getpid()}", tmp, 20):
            assert ex.submit([s])[0].job_id
        single.append((time.perf_counter() - t0) / 20)
        ex.close()
    fast.close()

    def fmt(xs):
        return f"{1000 * statistics.median(xs):6.1f} ms  ({', '.join(f'{1000 * x:.0f}' for x in xs)})"

    r, f = statistics.median(raw), statistics.median(raw_fast)
    o, s = statistics.median(ours), statistics.median(single)
    print(f"1. submission cost per job (median of {REPEATS}, interleaved; the queue drained before each)")
    print("   raw sbatch --parsable --wrap true, one exec each over an open paramiko connection:")
    print(f"      default socket (as slurm_env.ssh_client): {fmt(raw)}")
    print(f"      TCP_NODELAY (as nodeflow's connection):   {fmt(raw_fast)}")
    print(f"   nodeflow submit() of {N} nodes at once:       {fmt(ours)}  -> {o / r:.2f}x / {o / f:.2f}x raw"
          " (goal <= 1.2x)")
    print(f"   nodeflow submit() of 1 node at a time:       {fmt(single)}  -> {s / r:.2f}x / {s / f:.2f}x raw")


def workflow(n: int = N) -> Workflow:
    reg = builtin_registry()
    wf = Workflow()
    for i in range(n):
        node = reg.create_node(("shell", "Command"), wf)
        node.uniquename = f"t{i:03d}"
        node.terminals["command"].value = "true"
        wf.add_node(node)
    return wf


def bench_run(env, workdir: str, tmp: Path, client) -> None:
    walls, cycles, raw_one, raw_array = [], [], [], []
    for rep in range(WALL_REPEATS):  # interleaved, so a slower cluster later on hurts all three alike
        drain(client)
        ex = SlurmExecutor.from_profile("bench", profile(env, workdir))
        ex.transport = CountingTransport(ex.profile)
        t0 = time.perf_counter()
        res = run_workflow(workflow(), registry=builtin_registry(), executors={"slurm:bench": ex},
                           default_executor="slurm:bench", runs_dir=tmp / "runs")
        walls.append(time.perf_counter() - t0)
        ex.close()
        assert res.state.value == "succeeded", res.counts()
        cycles.append(ex.transport.squeue_per_script)

        drain(client)
        name = f"bench-ind-{rep}-{os.getpid()}"
        t0 = time.perf_counter()
        exec_(client, f"cd {workdir}/raw && for i in $(seq {N}); do sbatch --parsable --job-name={name} "
                      f"--output=/dev/null --wrap true >/dev/null; done")
        wait_all_done(client, name, N)
        raw_one.append(time.perf_counter() - t0)

        drain(client)
        name = f"bench-arr-{rep}-{os.getpid()}"
        t0 = time.perf_counter()
        exec_(client, f"cd {workdir}/raw && sbatch --parsable --array=0-{N - 1} --job-name={name} "
                      f"--output=/dev/null --wrap true")
        wait_all_done(client, name, N)
        raw_array.append(time.perf_counter() - t0)
    print(f"2. squeue queries per poll cycle, {N} jobs through run_workflow (instrumented transport)")
    for rep, c in enumerate(cycles):
        print(f"   run {rep + 1}: {len(c)} poll cycles, squeue calls per cycle: min {min(c)} max {max(c)}")
    assert all(x == 1 for c in cycles for x in c)

    def fmt(xs):
        return f"{statistics.median(xs):5.1f} s  ({', '.join(f'{w:.1f}' for w in xs)})"

    print(f"3. wall time, submit -> all {N} finished (median of {WALL_REPEATS}, interleaved)")
    print(f"   nodeflow run_workflow, one job per node:        {fmt(walls)}")
    print(f"   raw: {N} x sbatch in one shell (no arrays):      {fmt(raw_one)}")
    print(f"   raw: one job array --array=0-{N - 1}:              {fmt(raw_array)}")


def main() -> int:
    ok, why = slurm_env.can_run()
    if not ok:
        print(f"cannot run: {why}")
        return 1
    state = os.environ.get("NODEFLOW_BENCH_STATE") or tempfile.mkdtemp(prefix="nodeflow-bench-slurm-")
    env = slurm_env.bring_up(state)
    workdir = f"{env['remote_workdir']}/nodeflow-bench"
    print(f"loopback cluster: Slurm {env['slurm_version']}, node {env['node']} declaring {env['cpus']} CPUs "
          f"on {os.cpu_count()} real ones; sshd 127.0.0.1:{env['ssh_port']}")
    client = slurm_env.ssh_client(env)
    try:
        conf = exec_(client, "scontrol show config")
        limit = next((int(ln.split("=")[1]) for ln in conf.splitlines() if ln.startswith("MaxJobCount")), 10000)
        held = len(exec_(client, "squeue -h -t all -o %i").split())
        if limit - held < JOBS_NEEDED:  # sbatch would sleep and retry for minutes
            print(f"slurmctld holds {held} jobs of MaxJobCount={limit} (finished jobs stay MinJobAge seconds); "
                  f"this benchmark submits {JOBS_NEEDED}: wait until enough have aged out")
            return 1
        with tempfile.TemporaryDirectory() as tmp:
            bench_submit(env, workdir, Path(tmp), client)
            bench_run(env, workdir, Path(tmp), client)
    finally:
        try:
            exec_(client, f"rm -rf {workdir}")
        finally:
            client.close()
            if os.environ.get("NODEFLOW_BENCH_KEEP") != "1":
                slurm_env.tear_down(state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
