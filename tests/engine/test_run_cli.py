"""`nodeflow run` as a user runs it (a real subprocess), and the worker on its own."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nodeflow
from nodeflow.executors.base import TaskResult, TaskSpec
from nodeflow.library import builtin_registry
from nodeflow.model import Node, Terminal, Workflow

from .helpers import add, link

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def nodeflow_cli(*args, cwd=None, env_home=None):
    env = dict(os.environ)
    if env_home is not None:
        env["NODEFLOW_HOME"] = str(env_home)
    return subprocess.run([sys.executable, "-m", "nodeflow.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


def test_example_arithmetic_runs_and_writes_results_and_values(tmp_path):
    results, saved = tmp_path / "r.json", tmp_path / "saved.nc"
    p = nodeflow_cli("run", EXAMPLES / "arithmetic.nc", "--results", results, "--save-to", saved, "--plain",
                     env_home=tmp_path / "home")
    assert p.returncode == 0, p.stderr
    r = json.loads(results.read_text())
    assert r["state"] == "succeeded" and r["run_id"]
    outs = {n: v["outputs"] for n, v in r["nodes"].items()}
    assert outs["power"]["result"] == 3125.0
    assert outs["multiply"]["result"] == 271875.0
    assert all(v["state"] == "succeeded" for v in r["nodes"].values())
    # the saved copy carries the computed values in its output terminals, and loads
    wf = nodeflow.load(saved)
    assert wf.nodes["multiply"].terminals["result"].value == 271875.0
    original = json.loads((EXAMPLES / "arithmetic.nc").read_text())
    again = json.loads(saved.read_text())
    assert list(original) == list(again)
    # history was recorded in the user data dir under NODEFLOW_HOME
    assert (tmp_path / "home" / "data" / "history.sqlite").exists()
    assert "progress:" in p.stderr and "succeeded" in p.stderr


def test_numpy_plot_example_writes_a_png(tmp_path):
    results = tmp_path / "r.json"
    p = nodeflow_cli("run", EXAMPLES / "numpy_plot.nc", "--results", results, "-q", env_home=tmp_path / "home")
    assert p.returncode == 0, p.stderr
    r = json.loads(results.read_text())
    plot = [v for v in r["nodes"].values() if "figure" in v["outputs"]][0]
    assert Path(plot["outputs"]["figure"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _write(wf, path):
    nodeflow.save(wf, path)
    return path


def test_failed_node_exit_1_and_error_in_results(tmp_path):
    reg = builtin_registry()
    wf = Workflow()
    d = add(wf, reg, ("math", "Divide"), name="div", dividend=1.0, divisor=0.0)
    n = add(wf, reg, ("math", "Negate"), name="neg")
    link(wf, d, "result", n, "input")
    ok = add(wf, reg, ("math", "Negate"), name="ok", input=3.0)
    path = _write(wf, tmp_path / "f.nc")
    p = nodeflow_cli("run", path, "--results", tmp_path / "r.json", "--plain", env_home=tmp_path / "h")
    assert p.returncode == 1
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["state"] == "failed"
    assert r["nodes"]["div"]["state"] == "failed" and "zero" in r["nodes"]["div"]["error"]
    assert r["nodes"]["neg"]["state"] == "skipped"
    assert r["nodes"]["ok"]["outputs"] == {"result": -3.0}
    assert "FAILED div" in p.stderr


def test_invalid_workflow_exit_2_and_nothing_runs(tmp_path):
    reg = builtin_registry()
    wf = Workflow()
    s = add(wf, reg, ("types", "String"), name="s", string="x")
    f = add(wf, reg, ("math", "Negate"), name="f")
    link(wf, s, "string", f, "input")  # str into float: a dtype error
    path = _write(wf, tmp_path / "bad.nc")
    p = nodeflow_cli("run", path, "--results", tmp_path / "r.json", env_home=tmp_path / "h")
    assert p.returncode == 2
    assert "type mismatch" in p.stderr
    assert not (tmp_path / "r.json").exists()


def test_unknown_types_refused_then_skipped(tmp_path):
    reg = builtin_registry()
    wf = Workflow()
    wf.add_node(Node("alien", ("vendor", "Alien"), terminals={"out": Terminal(1.0, False, {"out": True})}))
    n = add(wf, reg, ("math", "Negate"), name="n")
    wf.connect(("alien", "out"), ("n", "input"))
    add(wf, reg, ("math", "Absolute"), name="free", input=-5.0)
    path = _write(wf, tmp_path / "u.nc")
    p = nodeflow_cli("run", path, env_home=tmp_path / "h")
    assert p.returncode == 2
    assert "alien" in p.stderr and "vendor/Alien" in p.stderr
    p = nodeflow_cli("run", path, "--skip-unknown", "--results", tmp_path / "r.json", env_home=tmp_path / "h")
    assert p.returncode == 0, p.stderr
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["nodes"]["alien"]["state"] == "skipped" and r["nodes"]["n"]["state"] == "skipped"
    assert r["nodes"]["free"]["outputs"] == {"result": 5.0}


def test_unreadable_file_exit_1(tmp_path):
    bad = tmp_path / "b.nc"
    bad.write_text('{"a": {"type": "Node",\n "path": }}')
    p = nodeflow_cli("run", bad, env_home=tmp_path / "h")
    assert p.returncode == 1
    assert "line 2" in p.stderr


def test_rerun_failed_from_the_cli(tmp_path):
    reg = builtin_registry()
    wf = Workflow()
    d = add(wf, reg, ("math", "Divide"), name="div", dividend=6.0, divisor=0.0)
    n = add(wf, reg, ("math", "Negate"), name="neg")
    link(wf, d, "result", n, "input")
    add(wf, reg, ("math", "Absolute"), name="free", input=-5.0)
    path = _write(wf, tmp_path / "f.nc")
    r1 = tmp_path / "r1.json"
    assert nodeflow_cli("run", path, "--results", r1, "-q", env_home=tmp_path / "h").returncode == 1
    run_id = json.loads(r1.read_text())["run_id"]
    wf.nodes["div"].terminals["divisor"].value = 2.0
    _write(wf, path)
    r2 = tmp_path / "r2.json"
    p = nodeflow_cli("run", path, "--rerun-failed", run_id, "--results", r2, "-q", env_home=tmp_path / "h")
    assert p.returncode == 0, p.stderr
    r = json.loads(r2.read_text())
    assert r["nodes"]["free"]["reused"] is True
    assert r["nodes"]["div"]["reused"] is False and r["nodes"]["neg"]["outputs"] == {"result": -3.0}
    p = nodeflow_cli("run", path, "--rerun-failed", "no-such-run", env_home=tmp_path / "h")
    assert p.returncode == 2 and "no-such-run" in p.stderr


def test_worker_round_trips_numpy_arrays(tmp_path):
    arr = np.linspace(0, 1, 7).reshape(7, 1)
    spec = TaskSpec("run1", "trig", ("numpy", "Trig"), "python", {"input": arr, "operation": "cos"},
                    workdir=str(tmp_path))
    path = spec.write(tmp_path)
    back = TaskSpec.read(path)
    np.testing.assert_array_equal(back.inputs["input"], arr)
    assert back.inputs["input"].dtype == arr.dtype and back.inputs["input"].shape == (7, 1)
    p = subprocess.run([sys.executable, "-m", "nodeflow.worker", str(path)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    res = TaskResult.read(tmp_path / "result.json")
    assert res.ok
    np.testing.assert_allclose(res.outputs["array"], np.cos(arr))
    assert res.outputs["array"].shape == (7, 1)


def test_worker_reports_a_failure_with_its_message(tmp_path):
    spec = TaskSpec("run1", "d", ("math", "Divide"), "python", {"dividend": 1.0, "divisor": 0.0})
    path = spec.write(tmp_path)
    p = subprocess.run([sys.executable, "-m", "nodeflow.worker", str(path)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 1
    res = TaskResult.read(tmp_path / "result.json")
    assert not res.ok and "zero" in res.error
    assert "zero" in p.stderr


@pytest.mark.parametrize("argv", [[], ["a", "b"]])
def test_worker_usage(argv):
    p = subprocess.run([sys.executable, "-m", "nodeflow.worker", *argv], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "usage" in p.stderr
