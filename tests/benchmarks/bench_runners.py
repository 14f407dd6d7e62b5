"""Runner queue benchmark (issue 6). Run: python tests/benchmarks/bench_runners.py [N]

A real server (``nodeflow server``, SQLite in WAL mode) and 2 real runners
(``nodeflow runner --slots 2``), all on this machine, and a client running a
workflow of N (default 1,000) independent trivial nodes (``types/Float``)
through the runner executor with ``run_workflow``.

Reported:

1. tasks/s end to end: N / (wall time of ``run_workflow``: submit, lease,
   run, report, watch, events). Goal >= 200 tasks/s.
2. lease latency, two ways:
   * round trip of a runner's lease request that returned work during the
     timed run, seen by the runner (median, p95) — the cost of one "here are
     my results, give me work" exchange under load;
   * queue wait of a lone task sent to idle runners: from the server's
     ``submitted_at`` to its ``started_at`` (the lease), median and p95 over
     50 tasks submitted one at a time — how fast a long-poll wakes.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.remote.conftest import RunnerProc, ServerProc  # noqa: E402

from nodeflow.engine import RunState, run_workflow  # noqa: E402
from nodeflow.executors.runner import RunnerExecutor  # noqa: E402
from nodeflow.library import builtin_registry  # noqa: E402
from nodeflow.model import Workflow  # noqa: E402


def trivial_workflow(n: int) -> Workflow:
    reg = builtin_registry()
    wf = Workflow()
    for i in range(n):
        node = reg.create_node(("types", "Float"), wf)
        node.terminals["float"].value = float(i)
        node.set_settings({"executor": "runner:bench"})
        wf.add_node(node)
    return wf


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) a process used so far (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main(n: int = 1000) -> dict:
    os.environ.setdefault("NODEFLOW_NO_KEYRING", "1")
    tmp = Path(tempfile.mkdtemp(prefix="nodeflow-bench-runners-"))
    srv = ServerProc(tmp / "data", *os.environ.get("BENCH_SERVER_ARGS", "").split()).start()
    runners = []
    try:
        token = srv.add_user("bench", admin=True)
        stats = [tmp / f"stats-{i}.json" for i in range(2)]
        runners = [RunnerProc(srv, token, tmp, f"r{i}", "", 2, "--stats", str(stats[i])).start() for i in range(2)]
        cfg = {"url": srv.url, "token": token, "wait_s": 10.0}

        # warm-up (imports, connections, SQLite pages)
        ex = RunnerExecutor.from_server("bench", cfg)
        run_workflow(trivial_workflow(20), executors={"runner:bench": ex}, runs_dir=tmp / "runs")
        ex.close()

        wf = trivial_workflow(n)
        ex = RunnerExecutor.from_server("bench", cfg)
        procs = {"server": srv.proc.pid, **{r.name: r.proc.pid for r in runners}}
        cpu0 = {k: _cpu(pid) for k, pid in procs.items()}
        me0 = time.process_time()
        w0 = time.time()
        t0 = time.perf_counter()
        res = run_workflow(wf, executors={"runner:bench": ex}, runs_dir=tmp / "runs")
        wall = time.perf_counter() - t0
        w1 = time.time()
        cpu = {k: round(_cpu(pid) - cpu0[k], 2) for k, pid in procs.items()}
        cpu["client"] = round(time.process_time() - me0, 2)
        ex.close()
        assert res.state == RunState.SUCCEEDED, res.counts()

        # queue wait of lone tasks sent to idle runners
        waits = []
        with srv.client(token) as c:
            for i in range(50):
                spec = {"run_id": "lone", "node": f"n{i}", "path": ["types", "Float"], "kind": "python",
                        "inputs": {"float": 1.0}}
                (tid,) = c.request("POST", "/tasks", json={"client": "bench", "tasks": [
                    {"key": uuid.uuid4().hex, "spec": spec}]})["ids"]
                version, st = 0, None
                while st is None or st["state"] != "succeeded":
                    got = c.request("POST", "/tasks/status", json={
                        "client": "bench", "tasks": [{"id": tid, "version": version}], "wait_s": 5})["tasks"]
                    if got:
                        st, version = got[0], got[0]["version"]
                waits.append(st["started_at"] - st["submitted_at"])
                time.sleep(0.05)
    finally:
        for r in runners:
            if r.proc and r.proc.poll() is None:
                r.proc.terminate()  # drain, write the stats file
                r.proc.wait(20)
        srv.kill()
    rtts = [rtt for s in stats for when, rtt in json.loads(s.read_text())["lease_rtts"] if w0 <= when <= w1]
    done = [json.loads(s.read_text())["tasks_done"] for s in stats]
    out = {
        "tasks": n, "wall_s": round(wall, 3), "tasks_per_s": round(n / wall, 1),
        "tasks_per_runner": done,
        "lease_rtt_ms": {"median": round(statistics.median(rtts) * 1000, 2), "p95": round(pct(rtts, 95) * 1000, 2),
                         "requests": len(rtts)},
        "idle_queue_wait_ms": {"median": round(statistics.median(waits) * 1000, 2),
                               "p95": round(pct(waits, 95) * 1000, 2)},
        "cpu_s_during_run": cpu,
        "cores": os.cpu_count(),
    }
    return out


if __name__ == "__main__":
    result = main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
    print(json.dumps(result, indent=2))
    print(f"\n{result['tasks']} tasks through the server to 2 runners x 2 slots: "
          f"{result['tasks_per_s']} tasks/s end to end (goal >= 200)")
    print(f"lease round trip: median {result['lease_rtt_ms']['median']} ms, p95 {result['lease_rtt_ms']['p95']} ms; "
          f"lone task queued -> leased: median {result['idle_queue_wait_ms']['median']} ms, "
          f"p95 {result['idle_queue_wait_ms']['p95']} ms")
