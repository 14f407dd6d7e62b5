"""Engine benchmarks (issue 3). Run: python tests/benchmarks/bench_engine.py

1. Scheduler overhead per node: a 10,000-node layered DAG of in-process math
   nodes with history on, against a 100-node one (start-up cancels out):
   (t(10,000) - t(100)) / 9,900, planning and validation included. Goal <= 50
   µs/node. The run does not wait for its history to be committed (the
   writer thread and process finish it; the store's reads wait for it): also
   printed, how long after the run that took, and the overhead counted until
   then. Also printed: the same without history, and with the quick math
   nodes sent through the thread pool instead of run inline.
2. 500 command nodes running `true` with 2 jobs, against `xargs -P2` running
   the same 500 commands: wall-time ratio (median over runs taking turns with
   xargs). Goal <= 1.15.
"""
from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nodeflow.engine import run_workflow
from nodeflow.executors.local import LocalExecutor, LocalSettings
from nodeflow.history.store import HistoryStore
from nodeflow.library import builtin_registry
from nodeflow.model import Workflow


def layered_math(n: int, width: int = 50, seed: int = 1) -> Workflow:
    """Layers of math nodes; each node takes 1-2 inputs from the previous layer."""
    rnd = random.Random(seed)
    reg = builtin_registry()
    wf = Workflow()
    prev: list[str] = []
    made = 0
    while made < n:
        layer = []
        for _ in range(min(width, n - made)):
            if not prev:
                node = reg.create_node(("types", "Float"), wf)
                node.terminals["float"].value = rnd.random()
                wf.add_node(node)
            else:
                kind = rnd.choice([("math", "Add"), ("math", "Multiply"), ("math", "Negate"), ("math", "Absolute")])
                node = reg.create_node(kind, wf)
                wf.add_node(node)
                inputs = rnd.sample(prev, 2) if kind in (("math", "Add"), ("math", "Multiply")) else [rnd.choice(prev)]
                for u in inputs:
                    out = "float" if wf.nodes[u].path == ("types", "Float") else "result"
                    wf.connect((u, out), (node.uniquename, "input"))
            layer.append(node.uniquename)
            made += 1
        prev = layer
    return wf


#: seconds from the end of each timed run to its history being in the file (time_run)
settled_after: list[float] = []


def time_run(wf: Workflow, tmp: Path, jobs: int, history: bool, inline_quick: bool = True) -> float:
    reg = builtin_registry()
    store = HistoryStore(tmp / f"h{random.random()}.sqlite") if history else None
    executors = None
    if not inline_quick:  # every node through the thread pool, as before quick nodes ran inline
        executors = {"local": LocalExecutor(LocalSettings(jobs=jobs, inline_quick=False), registry=reg)}
    t0 = time.perf_counter()
    res = run_workflow(wf, registry=reg, jobs=jobs, history=store, runs_dir=tmp / "runs", executors=executors)
    dt = time.perf_counter() - t0
    if store:
        store.settle()  # the run's row is finished after its last attempt row is in
        settled_after.append(time.perf_counter() - t0 - dt)
    for ex in (executors or {}).values():
        ex.close()
    if store:
        store.close()
    assert res.state.value == "succeeded", res.counts()
    return dt


def python_speed() -> float:
    """Seconds for a fixed piece of plain Python (dicts, tuples, string joins: the kind of work a
    node costs), best of 3. This VM's speed drifts by ±30 % between minutes; printed beside the
    figures so that readings taken at different times can be compared."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        acc = {}
        for i in range(200_000):
            key = ("n", i % 997)
            acc[key] = acc.get(key, 0) + len("/".join(("math", "Add", str(i & 7))))
        best = min(best, time.perf_counter() - t0)
    return best


def bench_overhead(tmp: Path, repeats: int = 5) -> None:
    small, big = layered_math(100), layered_math(10_000)
    jobs = os.cpu_count() or 2
    # paired: each 10,000-node run right after its 100-node run, so a machine that speeds up or slows
    # down between minutes (this VM: ±30 %) weighs on both sides of each difference
    speed_before = python_speed()
    pairs, settled = [], []
    for _ in range(repeats):
        pairs.append((time_run(small, tmp, jobs, True), time_run(big, tmp, jobs, True)))
        settled.append((settled_after[-2], settled_after[-1]))
    speed_after = python_speed()
    per_pair = sorted((b - s) / 9_900 for s, b in pairs)
    t_small = statistics.median(s for s, _ in pairs)
    t_big = statistics.median(b for _, b in pairs)
    per_node = statistics.median(per_pair)
    print(f"scheduler overhead: 100 nodes {t_small*1e3:.1f} ms, 10,000 nodes {t_big*1e3:.1f} ms "
          f"-> {per_node*1e6:.1f} µs/node (median of {repeats} paired runs "
          f"{[round(x * 1e6, 1) for x in per_pair]}; history on, {jobs} threads; goal <= 50 µs/node)")
    committed = statistics.median((b + sb - s - ss) / 9_900 for (s, b), (ss, sb) in zip(pairs, settled))
    print(f"  history in the file {statistics.median(sb for _, sb in settled) * 1e3:.0f} ms after a 10,000-node "
          f"run returned ({statistics.median(ss for ss, _ in settled) * 1e3:.0f} ms after a 100-node one); "
          f"counted until then: {committed * 1e6:.1f} µs/node")
    print(f"  this machine's Python speed meanwhile: reference piece {speed_before*1e3:.0f} ms before, "
          f"{speed_after*1e3:.0f} ms after (lower is faster)")
    t_nohist = statistics.median(time_run(big, tmp, jobs, False) for _ in range(repeats))
    print(f"  10,000 nodes without history: {t_nohist*1e3:.1f} ms")
    # the same with the quick math nodes sent through the thread pool (LocalSettings.inline_quick off);
    # pool and inline runs take turns, so a machine that drifts meanwhile weighs on both
    pairs = []
    for _ in range(repeats):
        pool_small = time_run(small, tmp, jobs, True, inline_quick=False)
        pool_big = time_run(big, tmp, jobs, True, inline_quick=False)
        inline = (time_run(big, tmp, jobs, True) - time_run(small, tmp, jobs, True)) / 9_900
        pairs.append(((pool_big - pool_small) / 9_900, inline))
    pool = statistics.median(p for p, _ in pairs)
    ratio = statistics.median(i / p for p, i in pairs)
    print(f"  quick nodes through the thread pool instead of inline: {pool*1e6:.1f} µs/node "
          f"(inline/pool ratio {ratio:.2f}, median of {repeats} paired runs)")


def true_commands(n: int) -> Workflow:
    reg = builtin_registry()
    wf = Workflow()
    true = shutil.which("true")
    for _ in range(n):
        node = reg.create_node(("shell", "Command"), wf)
        node.terminals["command"].value = true
        node.terminals["args"].value = []
        wf.add_node(node)
    return wf


def bench_commands(tmp: Path, n: int = 500, repeats: int = 7) -> None:
    true = shutil.which("true")
    wf = true_commands(n)
    lines = "x\n" * n  # one argument per line: xargs runs `true x` n times

    def xargs() -> float:
        t0 = time.perf_counter()
        subprocess.run(["xargs", "-P2", "-n1", true], input=lines.encode(), check=True)
        return time.perf_counter() - t0

    def nodeflow_engine() -> float:
        return time_run(wf, tmp, 2, True)

    def nodeflow_cli(path: Path) -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "nodeflow.cli", "run", str(path), "--jobs", "2", "-q",
                        "--history", str(tmp / "cli.sqlite"), "--runs-dir", str(tmp / "runs")], check=True)
        return time.perf_counter() - t0

    from nodeflow.model import save

    path = tmp / "true500.nc"
    save(wf, path)
    # paired: xargs and nodeflow take turns, so a machine that speeds up or slows down meanwhile
    # (this VM drifts by tens of percent within a minute) weighs on both sides of each ratio
    pairs = [(xargs(), nodeflow_engine()) for _ in range(repeats)]
    tx = statistics.median(x for x, _ in pairs)
    te = statistics.median(e for _, e in pairs)
    ratio = statistics.median(e / x for x, e in pairs)
    spread = sorted(round(e / x, 2) for x, e in pairs)
    tc = statistics.median(nodeflow_cli(path) for _ in range(3))
    print(f"{n} x `true`, 2 at a time: xargs -P2 {tx*1e3:.0f} ms, nodeflow engine {te*1e3:.0f} ms "
          f"-> ratio {ratio:.2f} (median of {repeats} paired runs {spread}; goal <= 1.15); "
          f"whole `nodeflow run` command incl. Python start-up {tc*1e3:.0f} ms (ratio {tc/tx:.2f})")


def main() -> None:
    parts = sys.argv[1:] or ["overhead", "commands"]  # or name one of them
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if "overhead" in parts:
            bench_overhead(tmp)
        if "commands" in parts:
            bench_commands(tmp)


if __name__ == "__main__":
    main()
