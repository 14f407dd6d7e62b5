"""Small node types and workflow builders for engine tests."""
from __future__ import annotations

import sys
import time

from nodeflow.library import (ANY, FLOAT, CommandLine, NodeError, NodeType, builtin_registry, inp, out)
from nodeflow.model import Workflow

PY = sys.executable


def registry_with_test_types(fail_counts: dict | None = None):
    """Built-ins plus: test/Flaky (fails N times, then succeeds), test/Sleep (a sleeping command),
    test/Boom (always raises), test/PyCmd (runs python -c CODE ARGS)."""
    reg = builtin_registry()
    fail_counts = fail_counts if fail_counts is not None else {}

    def flaky(i, ctx):
        left = fail_counts.get(ctx.node, 0)
        if left > 0:
            fail_counts[ctx.node] = left - 1
            raise NodeError(f"flaky failure ({left} left)")
        return {"result": i["input"]}

    def boom(i, ctx):
        raise NodeError("boom")

    reg.register(NodeType(("test", "Flaky"), (inp("input", FLOAT, 1.0), out("result", FLOAT)), function=flaky))
    reg.register(NodeType(("test", "Boom"), (inp("input", FLOAT, 1.0), out("result", FLOAT)), function=boom))
    reg.register(NodeType(("test", "Sleep"), (inp("seconds", FLOAT, 30.0), inp("pidfile", ANY, ""),
                                              out("stdout"), out("stderr"), out("exitcode")),
                          command=lambda i: CommandLine((PY, "-c", SLEEPER, str(i["seconds"]), i["pidfile"]))))
    reg.register(NodeType(("test", "PyCmd"), (inp("code", ANY, "pass"), inp("args", ANY, []),
                                              out("stdout"), out("stderr"), out("exitcode")),
                          command=lambda i: CommandLine((PY, "-c", i["code"], *i["args"]))))
    return reg


# writes its pid (and a child's) to a file, then sleeps; the child sleeps too, so killing the group matters
SLEEPER = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
if sys.argv[2]:
    open(sys.argv[2], 'w').write(f"{os.getpid()} {child.pid}")
time.sleep(float(sys.argv[1]))
"""


def add(wf: Workflow, reg, path, name=None, **values):
    node = reg.get(path).create_node(wf)
    if name:
        node.uniquename = name
    wf.add_node(node)
    for k, v in values.items():
        node.terminals[k].value = v
    return node


def link(wf: Workflow, a, at, b, bt):
    return wf.connect((a.uniquename, at), (b.uniquename, bt))


def pid_alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); look at its state
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_for(pred, timeout=10.0, interval=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(interval)
    return pred()


def run(wf: Workflow, reg, tmp_path, **kw):
    """Run ``wf`` to the end with an EventCollector (runs in ``tmp_path/runs``); (result, collector)."""
    from nodeflow.engine import EventCollector, run_workflow

    c = EventCollector()
    kw.setdefault("runs_dir", tmp_path / "runs")
    r = run_workflow(wf, registry=reg, observers=[c, *kw.pop("observers", [])], **kw)
    return r, c
