"""Benchmark: the editor with a 2,000-node, ~3,000-connection workflow, offscreen.

Run as a script (pytest does not collect it)::

    python tests/benchmarks/bench_gui.py [--nodes 2000] [--seed 1] [--repeat 3] [--skip-plain]

All in one process, it prints:

1. **Open** — time until the graph is fully shown (``nodeflow.load`` of the
   file, every node and pipe made, the view framed and painted) in the main
   window, median of ``--repeat`` opens, against NodeGraphQt's own
   ``deserialize_session`` of the same graph built the plain way (one
   ``BaseNode`` class per node type, ports named after the terminals, one
   on-node text widget per node as in stack-notes' measurement, built with
   ``create_node`` + ``connect_to``, serialised, then deserialised into a
   fresh shown graph, framed and painted). Goals: <= 3 s, and >= 2x faster.
2. **Run stall** — the longest event-loop stall while the whole workflow runs
   on the local executor with the window open (a 5 ms QTimer measures the
   gaps; the stall is the largest gap minus 5 ms), over ``--run-repeat``
   runs. Goal: < 100 ms in every run. The time the click on Run itself
   takes (snapshot, thread start) is printed apart.
3. **Memory** — RSS after closing (File > New) and reopening the file five
   times, against RSS after the first open. Goal: growth <= 10 %.

Exit status 0 when every goal is met, 1 otherwise.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_PREFERRED_BINDING", "PySide6")
os.environ.setdefault("NODEFLOW_HOME", tempfile.mkdtemp(prefix="nodeflow-bench-gui-"))

FLOAT = "<class 'float'>"
OPEN_GOAL_S = 3.0
RATIO_GOAL = 2.0
STALL_GOAL_MS = 100.0
MEMORY_GOAL = 0.10

# runnable, overflow-free node types: path -> (inputs as (name, multiinput), output)
SOURCES = {("types", "Float"): ((), "float")}
OPERATIONS = {
    ("math", "Add"): ((("input", True),), "result"),
    ("math", "Subtract"): ((("minuend", False), ("subtrahend", False)), "result"),
    ("math", "Maximum"): ((("input", True),), "result"),
    ("math", "Minimum"): ((("input", True),), "result"),
    ("math", "Negate"): ((("input", False),), "result"),
    ("math", "Absolute"): ((("input", False),), "result"),
}


def _opts(direction: str, value, widget, multiinput: bool = False) -> dict:
    return {"widget": widget, "in": direction == "in", "out": direction == "out", "showlabel": True,
            "dtype": FLOAT, "value": value, "multiinput": multiinput}


def generate(n_nodes: int, seed: int, n_connections: int | None = None) -> dict:
    """A random acyclic, runnable workflow laid out in columns by depth (a Nodeworks file's JSON object)."""
    rnd = random.Random(seed)
    target = n_connections if n_connections is not None else int(n_nodes * 1.5)
    doc: dict = {}
    counts: dict[str, int] = {}
    made: list[tuple[str, str, int]] = []  # (uniquename, output terminal, depth)
    connections: list[tuple[tuple[str, str], tuple[str, str]]] = []
    per_depth: dict[int, int] = {}

    def unique(base: str) -> str:
        i = counts.get(base)
        counts[base] = 0 if i is None else i + 1
        return base if i is None else f"{base}.{i}"

    n_sources = max(10, n_nodes // 8)
    for j in range(n_nodes):
        remaining_nodes = n_nodes - j
        is_source = j < n_sources
        path = ("types", "Float") if is_source else rnd.choice(list(OPERATIONS))
        inputs, out_name = (SOURCES | OPERATIONS)[path]
        uname = unique(path[1].lower())
        terminals = {}
        depth = 0
        for tname, multi in inputs:
            terminals[tname] = {"value": round(rnd.uniform(0.5, 5.0), 3), "flipped": False,
                                "opts": _opts("in", 1.0, "doublespinbox", multi)}
            want = 1
            if multi:  # spread the remaining connections over the remaining nodes
                left = target - len(connections)
                want = max(1, min(3, round(left / max(remaining_nodes, 1))))
            for _ in range(want):
                src = made[rnd.randrange(max(0, len(made) - 300), len(made))]
                connections.append(((src[0], src[1]), (uname, tname)))
                depth = max(depth, src[2] + 1)
        terminals[out_name] = {"value": round(rnd.uniform(-100, 100), 3) if is_source else None, "flipped": False,
                               "opts": _opts("out", 0.0, "doublespinbox" if is_source else None)}
        row = per_depth.get(depth, 0)
        per_depth[depth] = row + 1
        doc[uname] = {"type": "Node", "name": path[1], "uniquename": uname,
                      "pos": [depth * 260.0, row * 150.0], "path": list(path), "terminals": terminals,
                      "tunnel": False, "forcerun": False, "hidden": False, "customState": None, "layer": 1}
        made.append((uname, out_name, depth))
    for src, dst in connections:
        cname = unique("connection")
        doc[cname] = {"type": "Connection", "name": "connection", "uniquename": cname, "line": "cubic",
                      "input": list(src), "output": list(dst), "controlpoints": []}
    return doc


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _settle(app, widget) -> None:
    """Process pending events and paint the widget for real (offscreen: into its backing store)."""
    app.processEvents()
    widget.repaint()
    app.processEvents()


# -- 1. open ------------------------------------------------------------------------------------
def open_ours(app, window, path: str) -> float:
    window.doc.new()
    _settle(app, window)
    gc.collect()
    t0 = time.perf_counter()
    ok = window.files.open_path(path, ask=False)
    _settle(app, window.canvas.viewer.viewport())
    t = time.perf_counter() - t0
    assert ok, window.files.last_error
    return t


def plain_session(app, doc: dict, widgets: bool = True):
    """The same graph built the plain NodeGraphQt way, serialised (the input of deserialize_session)."""
    from NodeGraphQt import BaseNode, NodeGraph

    classes = {}
    for path, (inputs, out_name) in (SOURCES | OPERATIONS).items():
        def init(self, _inputs=inputs, _out=out_name):
            BaseNode.__init__(self)
            for tname, multi in _inputs:
                self.add_input(tname, multi_input=multi)
            self.add_output(_out)
            if widgets:
                self.add_text_input("value", "value", text="1.0")

        cls = type(path[1], (BaseNode,), {"__identifier__": f"plain{'w' if widgets else ''}.{path[0]}",
                                          "NODE_NAME": path[1],
                                          "__init__": init})
        classes[path] = cls
    graph = NodeGraph()
    for cls in classes.values():
        graph.register_node(cls)
    made = {}
    for k, d in doc.items():
        if d["type"] == "Node":
            cls = classes[tuple(d["path"])]
            made[k] = graph.create_node(f"{cls.__identifier__}.{cls.__name__}", name=k, pos=d["pos"],
                                        push_undo=False)
    for d in doc.values():
        if d["type"] == "Connection":
            src, dst = made[d["input"][0]], made[d["output"][0]]
            src.get_output(d["input"][1]).connect_to(dst.get_input(d["output"][1]), push_undo=False)
    data = graph.serialize_session()
    return classes, data, graph


def open_plain(app, classes, data) -> tuple[float, float, object]:
    """NodeGraphQt's deserialize_session into a fresh shown graph, then painted.

    Returns (deserialize + paint, NodeGraphQt's own fit_to_selection, graph).
    The fit is timed apart: it groups all items to measure them, which is
    quadratic, and would dwarf everything else.
    """
    from NodeGraphQt import NodeGraph

    graph = NodeGraph()
    for cls in classes.values():
        graph.register_node(cls)
    widget = graph.widget
    widget.resize(1100, 700)
    widget.show()
    _settle(app, widget)
    gc.collect()
    t0 = time.perf_counter()
    graph.deserialize_session(data)
    _settle(app, graph.viewer().viewport())
    t_open = time.perf_counter() - t0
    t0 = time.perf_counter()
    graph.fit_to_selection()
    _settle(app, graph.viewer().viewport())
    return t_open, time.perf_counter() - t0, graph


# -- 2. run stall ------------------------------------------------------------------------------
def run_stall(app, window, timeout_s: float = 600.0) -> dict:
    from PySide6 import QtCore

    gaps: list[float] = []
    last = [time.perf_counter()]
    interval_ms = 5

    def tick():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QtCore.QTimer()
    timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
    timer.timeout.connect(tick)
    timer.start(interval_ms)
    _settle(app, window)
    gaps.clear()
    t_click = time.perf_counter()
    last[0] = t_click
    assert window.runs.start(), "the run did not start"
    t_started = time.perf_counter()
    start_gap = t_started - t_click
    last[0] = t_started
    gaps.clear()
    deadline = time.monotonic() + timeout_s
    while window.run.running and time.monotonic() < deadline:
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.001)
    t_end = time.perf_counter()
    timer.stop()
    worst = max(gaps) if gaps else 0.0
    return {"state": window.run.last_state, "seconds": t_end - t_started, "nodes": len(window.run.nodes),
            "stall_ms": max(0.0, worst * 1000 - interval_ms), "start_ms": start_gap * 1000,
            "p99_ms": (sorted(gaps)[int(len(gaps) * 0.99)] * 1000 - interval_ms) if gaps else 0.0,
            "ticks": len(gaps)}


# -- 3. memory ------------------------------------------------------------------------------------
def memory_cycles(app, window, path: str, cycles: int = 5) -> tuple[float, float, list[float]]:
    open_ours(app, window, path)
    gc.collect()
    _settle(app, window)
    base = rss_mb()
    after = []
    for _ in range(cycles):
        window.doc.new()  # close
        _settle(app, window)
        open_ours(app, window, path)
        gc.collect()
        _settle(app, window)
        after.append(rss_mb())
    return base, after[-1], after


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=2000)
    ap.add_argument("--connections", type=int, default=None, help="default: 1.5 per node")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3, help="opens of ours to take the median of")
    ap.add_argument("--skip-plain", action="store_true", help="do not measure NodeGraphQt's deserialize_session")
    ap.add_argument("--plain-no-widgets", action="store_true",
                    help="also measure the plain way without on-node widgets (for reference)")
    ap.add_argument("--skip-run", action="store_true")
    ap.add_argument("--run-repeat", type=int, default=3, help="runs to measure the stall of")
    args = ap.parse_args(argv)

    from nodeflow.gui.app import make_app

    app = make_app()
    from nodeflow.gui.main_window import MainWindow
    from nodeflow.gui.theme import apply_theme

    doc = generate(args.nodes, args.seed, args.connections)
    n_nodes = sum(1 for d in doc.values() if d["type"] == "Node")
    n_conns = len(doc) - n_nodes
    folder = tempfile.mkdtemp(prefix="nodeflow-bench-gui-")
    path = os.path.join(folder, "big.nc")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    print(f"python {sys.version.split()[0]}, PySide6 {__import__('PySide6').__version__}, "
          f"NodeGraphQt {__import__('NodeGraphQt').__version__}, {os.cpu_count()} cores, offscreen")
    print(f"workflow: {n_nodes} nodes, {n_conns} connections, {os.path.getsize(path) / 1e6:.1f} MB")

    window = MainWindow()
    apply_theme(app, "dark")
    window.resize(1400, 880)
    window.show()
    _settle(app, window)
    ok = True

    ours = [open_ours(app, window, path) for _ in range(args.repeat)]
    t_ours = statistics.median(ours)
    shown = len(window.canvas.node_names()), len(window.canvas.pipe_names())
    ok &= t_ours <= OPEN_GOAL_S

    if not args.skip_run:
        open_ours(app, window, path)
        stalls = [run_stall(app, window) for _ in range(args.run_repeat)]
        worst = max(stalls, key=lambda r: r["stall_ms"])
        median_stall = statistics.median(r["stall_ms"] for r in stalls)
        ok &= worst["stall_ms"] < STALL_GOAL_MS and all(r["state"] == "succeeded" for r in stalls)

    base, last, all_after = memory_cycles(app, window, path)
    growth = (last - base) / base
    ok &= growth <= MEMORY_GOAL
    window.doc.new()
    _settle(app, window)

    print(f"\n1. open until fully shown: nodeflow {t_ours:.2f} s (median of {', '.join(f'{t:.2f}' for t in ours)}; "
          f"{shown[0]} nodes and {shown[1]} pipes shown; goal <= {OPEN_GOAL_S:g} s: "
          f"{'met' if t_ours <= OPEN_GOAL_S else 'NOT met'})")
    if not args.skip_plain:
        t0 = time.perf_counter()
        classes, data, builder = plain_session(app, doc)
        t_build = time.perf_counter() - t0
        t_plain, t_fit, plain_graph = open_plain(app, classes, data)
        n_plain = len(plain_graph.all_nodes())
        ratio = t_plain / t_ours
        print(f"   NodeGraphQt deserialize_session of the same graph built the plain way (one on-node text widget "
              f"per node), until painted: {t_plain:.2f} s ({n_plain} nodes; building that session with create_node "
              f"took {t_build:.1f} s; NodeGraphQt's fit_to_selection afterwards took another {t_fit:.1f} s)")
        print(f"   ratio plain / nodeflow = {ratio:.1f}x   (goal >= {RATIO_GOAL:g}x: "
              f"{'met' if ratio >= RATIO_GOAL else 'NOT met'})")
        ok &= ratio >= RATIO_GOAL
        for g in (plain_graph, builder):
            g.undo_stack().clear()
            g.widget.close()
        del plain_graph, builder, data
        gc.collect()
        if args.plain_no_widgets:
            classes, data, builder = plain_session(app, doc, widgets=False)
            t_plain2, t_fit2, plain_graph = open_plain(app, classes, data)
            print(f"   (for reference, the same without on-node widgets: deserialize_session until painted "
                  f"{t_plain2:.2f} s, {t_plain2 / t_ours:.1f}x nodeflow's time; fit_to_selection {t_fit2:.1f} s)")
    if not args.skip_run:
        took = ", ".join(f"{r['seconds']:.1f}" for r in stalls)
        print(f"\n2. run of {worst['nodes']} nodes on the local executor with the window open, {len(stalls)} runs: "
              f"longest event-loop stall {median_stall:.0f} ms median, {worst['stall_ms']:.0f} ms worst "
              f"(runs took {took} s; states "
              f"{sorted({r['state'] for r in stalls})}; the click on Run itself took at most "
              f"{max(r['start_ms'] for r in stalls):.0f} ms)   (goal < {STALL_GOAL_MS:g} ms in every run: "
              f"{'met' if worst['stall_ms'] < STALL_GOAL_MS else 'NOT met'})")
    print(f"\n3. memory: RSS {base:.0f} MB after the first open, {last:.0f} MB after closing and reopening 5 times "
          f"({', '.join(f'{m:.0f}' for m in all_after)}): growth {growth * 100:+.1f} %   "
          f"(goal <= {MEMORY_GOAL * 100:g} %: {'met' if growth <= MEMORY_GOAL else 'NOT met'})")
    try:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"\n(load average during the benchmark: {load} on {os.cpu_count()} cores)")
    except OSError:
        pass
    window.doc.new()
    window.close()
    print("\nall goals met" if ok else "\nSOME GOALS NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
