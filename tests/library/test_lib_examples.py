"""resources/examples/*.nc: real Nodeworks files that load, validate and compute what they say."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import nodeflow
from nodeflow.cli import main
from nodeflow.library import builtin_registry

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"
NAMES = ["arithmetic.nc", "numpy_plot.nc", "shell_pipeline.nc"]


@pytest.mark.parametrize("name", NAMES)
def test_example_loads_and_validates(name, capsys):
    path = EXAMPLES / name
    wf = nodeflow.load(path)
    reg = builtin_registry()
    assert all(n.path in reg for n in wf.nodes.values())
    assert nodeflow.validate(wf, registry=reg) == []
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out == ""
    # left to right: every connection goes rightwards
    for c in wf.connections.values():
        assert wf.nodes[c.input[0]].pos[0] < wf.nodes[c.output[0]].pos[0]
    # the Nodeworks shape: every top-level value is a Node or a Connection keyed by its uniquename
    raw = json.loads(path.read_text())
    assert {v["type"] for v in raw.values()} == {"Node", "Connection"}
    assert all(v["uniquename"] == k for k, v in raw.items())
    # lossless round trip
    assert nodeflow.dumps(nodeflow.load(path)) == nodeflow.dumps(wf)


def test_arithmetic_example_computes(tmp_path, evaluate):
    wf = nodeflow.load(EXAMPLES / "arithmetic.nc")
    r = evaluate(wf, builtin_registry(), tmp_path)
    assert r["power"]["result"] == 3125.0
    assert r["multiply"]["result"] == 271875.0
    assert r["root"]["result"] == pytest.approx(5.0)
    assert r["subtract"]["result"] == pytest.approx(271870.0)
    assert "271870" in wf.nodes["subtract"].name


def test_numpy_plot_example_draws(tmp_path, evaluate):
    wf = nodeflow.load(EXAMPLES / "numpy_plot.nc")
    r = evaluate(wf, builtin_registry(), tmp_path)
    np.testing.assert_allclose(r["trig"]["array"], np.sin(np.arange(0.0, 6.28, 0.1)))
    png = Path(r["plot"]["figure"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.is_relative_to(tmp_path)


@pytest.mark.skipif(shutil.which("printf") is None or shutil.which("echo") is None, reason="needs coreutils")
def test_shell_pipeline_example_runs(tmp_path, evaluate):
    wf = nodeflow.load(EXAMPLES / "shell_pipeline.nc")
    r = evaluate(wf, builtin_registry(), tmp_path)
    assert r["command"]["stdout"] == "hello world\n"
    assert r["command.0"]["stdout"] == "received: hello world\n"
    assert (tmp_path / "out" / "hello.txt").read_text() == "received: hello world\n"
