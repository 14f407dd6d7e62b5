"""Through the real CLI (subprocesses): `nodeflow run` shows the ETA, `nodeflow estimate` prints the
expected duration and critical path from history, `nodeflow history --gantt` writes a PNG."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

import nodeflow
from nodeflow.library import builtin_registry
from nodeflow.model import Workflow

PNG = b"\x89PNG\r\n\x1a\n"


def sleepy_workflow(path, seconds=(0.3, 0.1, 0.1, 0.2)):
    """start -> (a, b) -> join: command nodes that sleep; `after` carries the dependencies."""
    reg = builtin_registry()
    wf = Workflow()
    nodes = {}
    for name, s in zip(("start", "a", "b", "join"), seconds):
        node = reg.create_node(("shell", "Command"), wf)
        node.uniquename = name
        node.terminals["command"].value = sys.executable
        node.terminals["args"].value = ["-c", f"import time; time.sleep({s})"]
        wf.add_node(node)
        nodes[name] = node
    for u, v in (("start", "a"), ("start", "b"), ("a", "join"), ("b", "join")):
        wf.connect((u, "exitcode"), (v, "after"))
    nodeflow.save(wf, path)
    return path


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = dict(os.environ)
    e["NODEFLOW_HOME"] = str(tmp_path_factory.mktemp("home"))
    return e


def cli(env, *args, cwd=None):
    return subprocess.run([sys.executable, "-m", "nodeflow.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=180)


@pytest.fixture(scope="module")
def ran(tmp_path_factory, env):
    """A workflow run twice for real, recorded in a history file."""
    tmp_path = tmp_path_factory.mktemp("ran")
    flow = sleepy_workflow(tmp_path / "sleepy.nc")
    db = tmp_path / "history.sqlite"
    outs = []
    for _ in range(2):
        p = cli(env, "run", flow, "--history", db, "--runs-dir", tmp_path / "runs", "--plain", "-j", "2")
        assert p.returncode == 0, p.stderr
        outs.append(p.stderr)
    return flow, db, outs


def test_run_progress_line_shows_the_eta(ran):
    _flow, _db, outs = ran
    progress = [line for line in outs[1].splitlines() if line.startswith("progress:") and "ETA" in line]
    assert progress, outs[1]
    assert re.search(r"ETA (\w{3} \d\d \w{3} )?\d\d:\d\d \(± (\d+|<1) min\)", progress[0]), progress[0]
    assert "from priors" not in progress[0]  # the second run has history


def test_estimate_from_history(ran, env):
    flow, db, _ = ran
    p = cli(env, "estimate", flow, "--history", db, "--jobs", "2")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "4 nodes" in out and "local 2 at once" in out
    m = re.search(r"expected duration: ([\d.]+)s", out)
    assert m and 0.4 < float(m.group(1)) < 5.0, out  # the sleeps add up to 0.6 s; plus start-up
    assert "estimates from: history:node 4" in out
    lines = out[out.index("critical path"):].splitlines()
    assert lines[1].split()[:2] == ["NODE", "TYPE"]
    rows = [line.split()[0] for line in lines[2:] if line.strip()]
    assert rows[0] == "start" and rows[-1] == "join" and len(rows) == 3
    assert all("history:node" in line for line in lines[2:] if line.strip())


def test_estimate_without_history_uses_priors_and_says_so(tmp_path, env):
    flow = sleepy_workflow(tmp_path / "fresh.nc")
    p = cli(env, "estimate", flow, "--history", tmp_path / "none.sqlite")
    assert p.returncode == 0, p.stderr
    assert "no run history" in p.stderr
    assert "estimates from: prior:default 4" in p.stdout and "no history behind it" in p.stdout
    assert not (tmp_path / "none.sqlite").exists()  # estimating never creates a history file


def test_estimate_of_a_bad_file(tmp_path, env):
    bad = tmp_path / "bad.nc"
    bad.write_text("{not json")
    assert cli(env, "estimate", bad).returncode == 1
    flow = sleepy_workflow(tmp_path / "f.nc")
    p = cli(env, "estimate", flow, "--executor", "slurm:nowhere")
    assert p.returncode == 2 and "nowhere" in p.stderr


def test_history_gantt_writes_a_png(ran, env, tmp_path):
    flow, db, _ = ran
    out = tmp_path / "pics" / "timeline.png"
    out.parent.mkdir()
    p = cli(env, "history", flow, "--history", db, "--gantt", out)
    assert p.returncode == 0, p.stderr
    assert "timeline of run" in p.stdout
    data = out.read_bytes()
    assert data[:8] == PNG and len(data) > 5000
    # a chosen run
    run_id = re.search(r"^(\d{8}-\d{6}-\w+)", p.stdout.split("newest first:")[1].strip().splitlines()[1], re.M)
    assert run_id, p.stdout
    out2 = tmp_path / "first.png"
    p = cli(env, "history", flow, "--history", db, "--run", run_id.group(1), "--gantt", out2)
    assert p.returncode == 0, p.stderr
    assert out2.read_bytes()[:8] == PNG


def test_history_gantt_with_nothing_to_draw(tmp_path, env, ran):
    _flow, db, _ = ran
    other = sleepy_workflow(tmp_path / "never_ran.nc")
    p = cli(env, "history", other, "--history", db, "--gantt", tmp_path / "x.png")
    assert p.returncode == 1 and "no run to draw" in p.stderr
    assert not (tmp_path / "x.png").exists()
