"""Benchmark: load, validate and order a 10,000-node Nodeworks workflow, against plain json.load.

Run as a script (pytest does not collect it)::

    python tests/benchmarks/bench_load.py [--nodes 10000] [--runs 5] [--seed 1] [--profile]

It writes a seeded random, acyclic workflow in the real file format (real node
types, every terminal with a full Nodeworks ``opts`` dict, about 1.5
connections per node, each from a lower-index node to a higher one) to a temp
file, then prints the median of ``--runs`` timings, all in one process, of

* ``json.load`` of the file alone,
* ``nodeflow.load``,
* ``nodeflow.validate`` with a registry built once,
* ``nodeflow.model.topological_order``,

interleaved run by run so that a busy machine slows every step alike, and the
ratio (load + validate + order) / json.load. The goal is a ratio <= 4.
``--profile`` adds a cProfile of load + validate + order. Exit status 0 when
the goal is met, 1 when it is not.
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import random
import statistics
import sys
import tempfile
import time

import nodeflow
from nodeflow.library import default_registry
from nodeflow.model import topological_order

FLOAT = "<class 'float'>"
INT = "<class 'int'>"
GOAL = 4.0

# path -> (input terminals as (name, multiinput), output terminal, output dtype, widget of the output)
SOURCES = {
    ("types", "Float"): ((), "float", FLOAT, "doublespinbox"),
    ("types", "Integer"): ((), "int", INT, "spinbox"),
}
OPERATIONS = {
    ("math", "Power"): ((("base", False), ("exponent", False)), "result", FLOAT, "display"),
    ("math", "Multiply"): ((("input", True),), "result", FLOAT, "display"),
    ("math", "Subtract"): ((("minuend", False), ("subtrahend", False)), "result", FLOAT, "display"),
    ("math", "Root"): ((("radicand", False), ("degree", False)), "result", FLOAT, "display"),
    ("math", "Add"): ((("input", True),), "result", FLOAT, "display"),
    ("math", "Divide"): ((("dividend", False), ("divisor", False)), "result", FLOAT, "display"),
    ("math", "Negate"): ((("input", False),), "result", FLOAT, "display"),
}


def _opts(direction: str, dtype: str, value, widget, multiinput: bool = False) -> dict:
    """A full Nodeworks opts dict, as nodeflow and Nodeworks write it."""
    return {"widget": widget, "in": direction == "in", "out": direction == "out", "showlabel": direction == "in",
            "dtype": dtype, "value": value, "multiinput": multiinput}


def generate(n_nodes: int, seed: int) -> dict:
    """A random acyclic workflow of ``n_nodes`` nodes, as the JSON object of a Nodeworks file."""
    rnd = random.Random(seed)
    doc: dict = {}
    counts: dict[str, int] = {}
    outputs: list[tuple[str, str]] = []  # node index -> (uniquename, output terminal)
    connections: list[dict] = []

    def unique(base: str) -> str:
        i = counts.get(base)
        counts[base] = 0 if i is None else i + 1
        return base if i is None else f"{base}.{i}"

    op_paths = list(OPERATIONS)
    for j in range(n_nodes):
        is_source = j < 10 or rnd.random() < 0.2
        path = rnd.choice(list(SOURCES)) if is_source else rnd.choice(op_paths)
        inputs, out_name, out_dtype, out_widget = (SOURCES | OPERATIONS)[path]
        uname = unique(path[1].lower())
        terminals = {}
        for tname, multi in inputs:
            v = round(rnd.uniform(0.5, 5.0), 3)
            terminals[tname] = {"value": v, "flipped": False,
                                "opts": _opts("in", FLOAT, 1.0, "doublespinbox", multi)}
            # connect every input from earlier nodes (a multiinput takes one to three)
            for _ in range(rnd.randint(1, 3) if multi else 1):
                src = outputs[rnd.randrange(max(0, j - 500), j)]
                connections.append({"input": list(src), "output": [uname, tname]})
        value = rnd.randint(-100, 100) if out_dtype == INT else (
            round(rnd.uniform(-1e3, 1e3), 6) if is_source else None)
        terminals[out_name] = {"value": value, "flipped": False,
                               "opts": _opts("out", out_dtype, 0 if out_dtype == INT else 0.0, out_widget)}
        doc[uname] = {"type": "Node", "name": path[1], "uniquename": uname,
                      "pos": [float(j % 100) * 220.0, float(j // 100) * 160.0], "path": list(path),
                      "terminals": terminals, "tunnel": False, "forcerun": False, "hidden": False,
                      "customState": None, "layer": 1}
        outputs.append((uname, out_name))
    for c in connections:
        cname = unique("connection")
        doc[cname] = {"type": "Connection", "name": "connection", "uniquename": cname, "line": "cubic",
                      "input": c["input"], "output": c["output"], "controlpoints": []}
    return doc


def _timed(fn):
    gc.collect()  # start every step from the same heap: no garbage of the previous step to collect
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def _json_load_gc_paused(path: str):
    gc.disable()
    try:
        with open(path, "rb") as f:
            return json.load(f)
    finally:
        gc.enable()


def bench(path: str, runs: int, registry) -> dict:
    """Median times of each step. The steps are interleaved run by run (json, load, validate, order,
    json, load, …) so a busy machine slows them all alike rather than one step more than another."""
    def json_load():
        with open(path, "rb") as f:
            return json.load(f)

    times: dict[str, list[float]] = {k: [] for k in ("json", "json_nogc", "load", "validate", "order")}
    problems: list = []
    n_nodes = n_conns = 0
    for _ in range(runs):
        t, _data = _timed(json_load)
        times["json"].append(t)
        del _data
        t, _data = _timed(lambda: _json_load_gc_paused(path))
        times["json_nogc"].append(t)
        del _data
        t, wf = _timed(lambda: nodeflow.load(path))
        times["load"].append(t)
        t, problems = _timed(lambda: nodeflow.validate(wf, registry=registry))
        times["validate"].append(t)
        t, order = _timed(lambda: topological_order(wf))
        times["order"].append(t)
        assert len(order) == len(wf.nodes)
        n_nodes, n_conns = len(wf.nodes), len(wf.connections)
        del wf, order
    r: dict = {k: statistics.median(v) for k, v in times.items()}
    r.update(problems=len(problems), errors=sum(p.is_error for p in problems), nodes=n_nodes,
             connections=n_conns)
    return r


def report(label: str, size: int, r: dict) -> float:
    total = r["load"] + r["validate"] + r["order"]
    ratio = total / r["json"]
    print(f"{label}: {r['nodes']} nodes, {r['connections']} connections, {size / 1e6:.1f} MB; "
          f"validate found {r['problems']} problems ({r['errors']} errors)")
    for key in ("json", "load", "validate", "order"):
        name = {"json": "json.load", "load": "nodeflow.load", "validate": "nodeflow.validate",
                "order": "topological_order"}[key]
        print(f"  {name:<20} {r[key] * 1000:8.1f} ms   ({r[key] / r['json']:.2f} x json.load)")
    print(f"  load+validate+order  {total * 1000:8.1f} ms")
    # for reference only: nodeflow.load pauses the garbage collector while it builds the model;
    # json.load with the collector paused too shows how much of the baseline is collection
    print(f"  (json.load, gc off)  {r['json_nogc'] * 1000:8.1f} ms   "
          f"(ratio against it: {total / r['json_nogc']:.2f})")
    print(f"  ratio (load + validate + order) / json.load = {ratio:.2f}   (goal <= {GOAL:g}: "
          f"{'met' if ratio <= GOAL else 'NOT met'})")
    return ratio


def profile(path: str, registry, top: int = 25) -> None:
    prof = cProfile.Profile()
    prof.enable()
    wf = nodeflow.load(path)
    nodeflow.validate(wf, registry=registry)
    topological_order(wf)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    print(out.getvalue())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--profile", action="store_true", help="also print a cProfile of load + validate + order")
    args = ap.parse_args(argv)

    registry = default_registry()  # built once, outside the timings
    doc = generate(args.nodes, args.seed)
    print(f"python {sys.version.split()[0]}, nodeflow {nodeflow.__version__}, "
          f"median of {args.runs} runs, seed {args.seed}")
    with tempfile.TemporaryDirectory(prefix="nodeflow-bench-") as tmp:
        files = {}
        for label, indent in (("indented file (as nodeflow saves)", 2), ("compact file", None)):
            files[label] = os.path.join(tmp, f"bench-{indent}.nc")
            with open(files[label], "w", encoding="utf-8") as f:
                f.write(json.dumps(doc, indent=indent, ensure_ascii=False) + "\n")
        del doc  # only what is being timed may be alive: a big live heap slows every garbage collection
        ratios = {label: report(label, os.path.getsize(path), bench(path, args.runs, registry))
                  for label, path in files.items()}
        if args.profile:
            profile(files["indented file (as nodeflow saves)"], registry)
    return 0 if all(r <= GOAL for r in ratios.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
