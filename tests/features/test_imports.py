"""`nodeflow import daggy|donut`: documented examples become runnable command workflows."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import nodeflow
from nodeflow.engine import RunState, run_workflow
from nodeflow.engine.settings import NodeSettings, WorkflowSettings
from nodeflow.importers import DefinitionError
from nodeflow.importers import daggy, donut

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "imports"


def cli(*args):
    return subprocess.run([sys.executable, "-m", "nodeflow.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def deps(wf):
    return sorted((c.input[0], c.output[0]) for c in wf.connections.values())


def test_daggy_basic(tmp_path):
    wf = daggy.load(FIX / "daggy_basic.json")
    assert deps(wf) == [("task_one", "task_two")]
    two = wf.nodes["task_two"]
    assert two.terminals["command"].value == "/bin/touch" and two.terminals["args"].value == ["/tmp/someotherfile"]
    s = NodeSettings.of(two)
    assert s.max_retries == 3 and s.retry_interval_s == 30.0
    assert wf.nodes["task_two"].pos[0] > wf.nodes["task_one"].pos[0]  # laid out left to right


def test_daggy_parameters_defaults_and_expansion(tmp_path):
    out = tmp_path / "p.nc"
    p = cli("import", "daggy", FIX / "daggy_params.json", "-o", out)
    assert p.returncode == 0, p.stderr
    wf = nodeflow.load(out)
    assert WorkflowSettings.of(wf).parameters["DATE"] == ["2021-01-01", "2021-02-01", "2021-03-01"]
    calc = wf.nodes["calc_date"]
    assert calc.terminals["args"].value == ["{{DIRECTORY}}/{{FILE}}", "{{DATE}}"]  # commandString, quoted
    assert calc.terminals["environment"].value == {"STAGE": "test"}  # from jobDefaults
    assert NodeSettings.of(calc).resources == {"cpus": 1, "memory": "512M", "time_limit": "0:10:00"}
    assert ("populate_inputs", "calc_date") in deps(wf) and ("calc_date", "generate_report") in deps(wf)
    res = run_workflow(wf, runs_dir=tmp_path / "runs")
    assert res.state == RunState.SUCCEEDED
    outs = {n: r.outputs["stdout"] for n, r in res.nodes.items()}
    assert outs["calc_date[DATE=2021-02-01]"] == "/var/tmp/somefile 2021-02-01\n"
    assert len([n for n in outs if n.startswith("calc_date[")]) == 3


def test_daggy_generator_runs_its_generated_tasks(tmp_path):
    wf = daggy.load(FIX / "daggy_generator.json")
    assert NodeSettings.of(wf.nodes["pull_files"]).generator
    wf.source_path = str(tmp_path / "g.nc")
    res = run_workflow(wf, runs_dir=tmp_path / "runs")
    assert res.state == RunState.SUCCEEDED, res.to_json()
    assert res.nodes["calc_file_a"].outputs["stdout"] == "calc_file_a\n"
    assert res.nodes["generate_report"].finished_at >= res.nodes["calc_file_b"].finished_at


def test_donut_gather_runs_with_its_parallelism(tmp_path):
    out = tmp_path / "gather.nc"
    p = cli("import", "donut", FIX / "donut_gather.yaml", "-o", out)
    assert p.returncode == 0, p.stderr
    wf = nodeflow.load(out)
    assert WorkflowSettings.of(wf).jobs == 2
    assert deps(wf) == [("apple", "banana"), ("apple", "cantaloupe"), ("banana", "dragonfruit"),
                        ("cantaloupe", "dragonfruit")]
    assert wf.nodes["apple"].settings["imported"]["image"] == "timer:mine"
    assert wf.nodes["apple"].terminals["directory"].value == "apple"
    r = tmp_path / "r.json"
    p = cli("run", out, "--results", r, "-q", "--no-history")
    assert p.returncode == 0, p.stderr
    assert json.loads(r.read_text())["nodes"]["dragonfruit"]["outputs"]["stdout"] == "30\n20\n30\n"


@pytest.mark.parametrize("fmt, name, message", [
    ("daggy", "daggy_cycle.json", "cycle: a -> b -> c -> a"),
    ("daggy", "daggy_dangling.json", "'ghost', which is not defined"),
    ("donut", "donut_cycle.yaml", "cycle: x -> y -> x"),
    ("donut", "donut_dangling.yaml", "'nowhere', which is not defined"),
])
def test_bad_definitions_are_refused_with_the_reason(tmp_path, fmt, name, message):
    p = cli("import", fmt, FIX / name, "-o", tmp_path / "x.nc")
    assert p.returncode == 2
    assert message in p.stderr
    assert not (tmp_path / "x.nc").exists()


def test_broken_syntax(tmp_path):
    bad = tmp_path / "b.yaml"
    bad.write_text("jobs:\n  - cmd: [unclosed\n")
    with pytest.raises(DefinitionError) as e:
        donut.load(bad)
    assert "line" in str(e.value)
    badj = tmp_path / "b.json"
    badj.write_text('{"tasks": ')
    with pytest.raises(DefinitionError) as e:
        daggy.load(badj)
    assert "line 1" in str(e.value)
