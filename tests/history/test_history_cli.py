"""``nodeflow history``: through the real CLI (subprocess) and through the handler directly."""
from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from nodeflow.commands import history_cmd
from nodeflow.history import HistoryRecorder, HistoryStore


@pytest.fixture
def recorded(tmp_path, events):
    """A history file with two runs of flow.nc (the second a rerun) and one of another file."""
    flow = tmp_path / "flow.nc"
    flow.write_text("{}")
    db = tmp_path / "hist" / "history.sqlite"
    with HistoryStore(db) as store:
        rec = HistoryRecorder(store)
        e1 = events("run-aaa", t0=1_700_000_000.0)
        for e in [e1.run_started(2, workflow_path=str(flow)), *e1.node_ok("power1"),
                  e1.queued("add1", node_type="math/Add"), e1.started("add1"), e1.failed("add1", error="x"),
                  e1.run_finished("failed")]:
            rec.on_event(e)
        e2 = events("run-bbb", t0=1_700_003_600.0)
        for e in [e2.run_started(2, workflow_path=str(flow), parent_run_id="run-aaa"),
                  e2.succeeded("power1", reused=True), e2.queued("add1", node_type="math/Add"),
                  e2.started("add1"), e2.retrying("add1", 1, error="flaky", next_attempt=2),
                  e2.queued("add1", 2), e2.started("add1", 2), e2.succeeded("add1", 2, dt=75.0),
                  e2.run_finished("succeeded")]:
            rec.on_event(e)
        e3 = events("run-ccc", t0=1_700_007_200.0)
        for e in [e3.run_started(1, workflow_path=str(tmp_path / "other.nc")), *e3.node_ok("x1"),
                  e3.run_finished()]:
            rec.on_event(e)
    return flow, db


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "nodeflow.cli", "history", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


def test_cli_lists_runs_of_a_file(recorded):
    flow, db = recorded
    p = _cli(flow, "--history", db)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "run-bbb" in out and "run-aaa" in out and "run-ccc" not in out
    assert out.index("run-bbb") < out.index("run-aaa")  # newest first
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("RUN"))
    assert header.split() == ["RUN", "STARTED", "DURATION", "STATE", "NODES"]
    bbb = next(line for line in lines if line.startswith("run-bbb"))
    assert "succeeded" in bbb and bbb.rstrip().endswith("2")
    # the latest run's nodes: both attempts of add1, the reused power1
    node_part = out[out.index("nodes of run run-bbb"):]
    assert node_part.splitlines()[1].split() == ["NODE", "TYPE", "EXECUTOR", "STATE", "ATTEMPT", "DURATION",
                                                 "(s)"]
    add_rows = [line.split() for line in node_part.splitlines() if line.startswith("add1")]
    assert [(r[3], r[4]) for r in add_rows] == [("failed", "1"), ("succeeded", "2")]
    assert add_rows[1][5] == "75.00"
    assert any(line.startswith("power1") and "reused" in line for line in node_part.splitlines())


def test_cli_relative_file_and_all_runs(recorded):
    flow, db = recorded
    p = _cli("flow.nc", "--history", db, "--limit", "1", cwd=flow.parent)
    assert p.returncode == 0, p.stderr
    assert "run-bbb" in p.stdout and "run-aaa" not in p.stdout
    p = _cli("--history", db)
    assert p.returncode == 0, p.stderr
    assert p.stdout.index("run-ccc") < p.stdout.index("run-bbb") < p.stdout.index("run-aaa")
    assert "nodes of run run-ccc" in p.stdout


def test_cli_one_run(recorded):
    flow, db = recorded
    p = _cli("--history", db, "--run", "run-aaa")
    assert p.returncode == 0, p.stderr
    assert "run-bbb" not in p.stdout and "nodes of run run-aaa" in p.stdout
    assert any(line.startswith("add1") and "failed" in line for line in p.stdout.splitlines())
    p = _cli("--history", db, "--run", "nope")
    assert p.returncode == 2 and "nope" in p.stderr


def test_cli_missing_store(tmp_path):
    p = _cli("--history", tmp_path / "none.sqlite")
    assert p.returncode == 1 and "no run history" in p.stderr
    assert not (tmp_path / "none.sqlite").exists()


def _args(**kw):
    ns = argparse.Namespace(file=None, history=None, run=None, limit=20)
    for k, v in kw.items():
        setattr(ns, k, v)
    return ns


def test_handler_directly(recorded, capsys):
    flow, db = recorded
    assert history_cmd.run(_args(file=str(flow), history=str(db))) == 0
    out = capsys.readouterr().out
    assert "run-bbb" in out and "run-aaa" in out and "run-ccc" not in out
    assert history_cmd.run(_args(file=str(flow.parent / "unknown.nc"), history=str(db))) == 0
    assert "no runs of" in capsys.readouterr().out
    assert history_cmd.run(_args(history=str(db.parent / "missing.sqlite"))) == 1


def test_parser_registration():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    history_cmd.add_parser(sub)
    args = parser.parse_args(["history", "f.nc", "--history", "h.db", "--run", "r", "--limit", "3"])
    assert (args.file, args.history, args.run, args.limit) == ("f.nc", "h.db", "r", 3)
    assert args.handler is history_cmd.run


def test_duration_format():
    assert history_cmd._duration(0.0, 12.34) == "12.3s"
    assert history_cmd._duration(0.0, 125.0) == "2m 05s"
    assert history_cmd._duration(0.0, 3725.0) == "1h 02m 05s"
    assert history_cmd._duration(5.0, None) == "-"
