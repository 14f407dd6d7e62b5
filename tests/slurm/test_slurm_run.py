"""Workflows on the real loopback Slurm cluster over SSH: values, arrays, failures, quoting, resources, transports."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from nodeflow.engine import EventCollector, EventKind, NodeState, RunState, run_workflow
from nodeflow.executors.local import LocalExecutor
from nodeflow.history.store import HistoryStore
from nodeflow.library import FLOAT, NodeType, builtin_registry, inp, out
from nodeflow.model import Workflow

from .conftest import profile_dict, squeue_states

pytestmark = pytest.mark.slurm

NASTY = ["it's", 'say "hi"', "$HOME", "${PATH}", "`id`", "$(id)", "a;b", "c && d || e", "x|y>z<w", "*", "-n",
         "back\\slash", "two\nlines", "", " spaced  out ", "#hash", "~", "ünïcødé", "!bang", "tab\there"]


def add(wf, reg, path, name, **values):
    node = reg.get(path).create_node(wf)
    node.uniquename = name
    wf.add_node(node)
    for k, v in values.items():
        node.terminals[k].value = v
    return node


def on(node, executor="slurm:test", **settings):
    node.set_settings({"executor": executor, **settings})
    return node


def run(wf, reg, tmp_path, executors, **kw):
    ev = EventCollector()
    res = run_workflow(wf, registry=reg, executors=executors, observers=[ev], runs_dir=tmp_path / "runs", **kw)
    return res, ev


def test_three_nodes_float_power_command_give_the_right_values(make_executor, slurm_env, tmp_path):
    reg = builtin_registry()
    wf = Workflow()
    on(add(wf, reg, ("types", "Float"), "float", float=2.5), "local")
    on(add(wf, reg, ("math", "Power"), "power", exponent=3.0), isolate=True)
    on(add(wf, reg, ("shell", "Command"), "echo", command="echo"))
    wf.connect(("float", "float"), ("power", "base"))
    wf.connect(("power", "result"), ("echo", "args"))
    ex = make_executor()
    store = HistoryStore(tmp_path / "history.sqlite")
    res, ev = run(wf, reg, tmp_path, {"slurm:test": ex, "local": LocalExecutor(registry=reg)}, history=store)
    assert res.state == RunState.SUCCEEDED, {n: r.error for n, r in res.nodes.items()}
    assert res.nodes["power"].outputs == {"result": 15.625}
    assert res.nodes["echo"].outputs["stdout"] == "15.625\n"
    # both Slurm nodes ran as jobs named after the run, on the cluster's node, each submitted once
    jobs = squeue_states(slurm_env, res.run_id)
    assert sorted(jobs.values()) == ["COMPLETED", "COMPLETED"]
    journal = {j["node"]: j for j in store.jobs(res.run_id)}
    assert set(journal) == {"power", "echo"} and {j["job_id"] for j in journal.values()} == set(jobs)
    assert journal["power"]["workdir"] == f"{slurm_env['test_workdir']}/{res.run_id}/power"
    assert journal["power"]["extra"]["partition"] == slurm_env["partition"]
    started = {e.node: e.data for e in ev.of(EventKind.NODE_STARTED)}
    assert started["power"]["job_id"] == journal["power"]["job_id"] and started["power"]["host"] == slurm_env["node"]
    assert [e.data["line"] for e in ev.of(EventKind.NODE_LOG, "echo")] == ["15.625"]
    # the local run folder mirrors the job folders: logs, result, status
    local = tmp_path / "runs" / res.run_id
    assert (local / "echo" / "stdout.txt").read_text() == "15.625\n"
    assert json.loads((local / "power" / "status.json").read_text())["exit_code"] == 0
    assert (local / "power" / "result.json").exists()
    store.close()


def test_arrays_go_up_and_come_back(make_executor, tmp_path):
    reg = builtin_registry()
    wf = Workflow()
    on(add(wf, reg, ("numpy", "Linspace"), "x", start=0.0, stop=3.0, num=31))
    on(add(wf, reg, ("numpy", "Trig"), "sin", operation="sin"))
    wf.connect(("x", "array"), ("sin", "input"))
    res, _ = run(wf, reg, tmp_path, {"slurm:test": make_executor()})
    assert res.state == RunState.SUCCEEDED, {n: r.error for n, r in res.nodes.items()}
    np.testing.assert_allclose(res.nodes["sin"].outputs["array"], np.sin(np.linspace(0.0, 3.0, 31)))


def test_a_failing_job_is_reported_failed_with_its_stderr(make_executor, tmp_path):
    reg = builtin_registry()
    # a Python node type this machine has but the cluster's nodeflow does not
    reg.register(NodeType(("test", "Half"), (inp("x", FLOAT, 1.0), out("y", FLOAT)), function=lambda i, c: {}))
    wf = Workflow()
    on(add(wf, reg, ("shell", "Command"), "bad", command="sh",
           args=["-c", "echo working; echo 'disk on fire' >&2; exit 3"]))
    on(add(wf, reg, ("test", "Half"), "half"))
    on(add(wf, reg, ("shell", "Command"), "after", command="echo"))
    wf.connect(("bad", "stdout"), ("after", "args"))
    res, ev = run(wf, reg, tmp_path, {"slurm:test": make_executor()})
    assert res.state == RunState.FAILED
    bad = res.nodes["bad"]
    assert bad.state == NodeState.FAILED and "status 3" in bad.error and "disk on fire" in bad.error
    failed = ev.of(EventKind.NODE_FAILED, "bad")[0].data
    assert failed["reason"] == "FAILED" and failed["exit_code"] == 3
    logs = [(e.data["stream"], e.data["line"]) for e in ev.of(EventKind.NODE_LOG, "bad")]
    assert ("stdout", "working") in logs and ("stderr", "disk on fire") in logs
    assert res.nodes["after"].state == NodeState.SKIPPED
    assert "node type test/Half" in res.nodes["half"].error  # the cluster's nodeflow does not have it
    assert ev.of(EventKind.NODE_FAILED, "half")[0].data["reason"] == "FAILED"


def test_values_with_quotes_dollars_backticks_and_semicolons_arrive_verbatim(make_executor, tmp_path):
    reg = builtin_registry()
    wf = Workflow()
    code = "import json, os, sys; print(json.dumps([sys.argv[1:], os.environ['NF_NASTY']]))"
    on(add(wf, reg, ("shell", "Command"), "argv", command=sys.executable, args=["-c", code, *NASTY],
           environment={"NF_NASTY": "".join(NASTY)}))
    on(add(wf, reg, ("types", "String"), "text", string="\n".join(NASTY)))
    res, _ = run(wf, reg, tmp_path, {"slurm:test": make_executor()})
    assert res.state == RunState.SUCCEEDED, {n: r.error for n, r in res.nodes.items()}
    assert json.loads(res.nodes["argv"].outputs["stdout"]) == [NASTY, "".join(NASTY)]
    assert res.nodes["text"].outputs["string"] == "\n".join(NASTY)


def test_node_resources_reach_sbatch_and_a_bad_partition_is_refused(make_executor, slurm_env, tmp_path):
    reg = builtin_registry()
    wf = Workflow()
    on(add(wf, reg, ("shell", "Command"), "big", command="true"),
       resources={"time_limit": "7", "cpus": 2, "extra_sbatch": ["--comment=nodeflow-resources-test"]})
    on(add(wf, reg, ("shell", "Command"), "nowhere", command="true"), resources={"partition": "nosuchpartition"})
    res, ev = run(wf, reg, tmp_path, {"slurm:test": make_executor()})
    assert res.nodes["big"].state == NodeState.SUCCEEDED
    job = ev.of(EventKind.NODE_SUBMITTED, "big")[0].data["job_id"]
    shown = subprocess.run(["scontrol", "show", "job", "-o", job], capture_output=True, text=True).stdout
    assert "TimeLimit=00:07:00" in shown and "NumCPUs=2" in shown and "Comment=nodeflow-resources-test" in shown
    assert res.nodes["nowhere"].state == NodeState.FAILED
    assert "invalid partition" in res.nodes["nowhere"].error.lower()
    assert ev.of(EventKind.NODE_FAILED, "nowhere")[0].data["reason"] == "sbatch"


def test_through_a_jump_host(make_executor, slurm_env, tmp_path):
    reg = builtin_registry()
    wf = Workflow()
    on(add(wf, reg, ("shell", "Command"), "hop", command="echo", args=["hopped"]))
    ex = make_executor(jump_host=f"{slurm_env['ssh_user']}@{slurm_env['ssh_host']}:{slurm_env['ssh_port']}")
    res, _ = run(wf, reg, tmp_path, {"slurm:test": ex})
    assert res.state == RunState.SUCCEEDED and res.nodes["hop"].outputs["stdout"] == "hopped\n"
    assert ex.transport._jump is not None  # really went through the direct-tcpip channel


def test_local_transport_on_a_login_node(slurm_env, tmp_path):
    from nodeflow.executors.slurm import SlurmExecutor

    reg = builtin_registry()
    wf = Workflow()
    on(add(wf, reg, ("types", "Float"), "f", float=3.0))
    on(add(wf, reg, ("math", "Power"), "sq", exponent=2.0))
    wf.connect(("f", "float"), ("sq", "base"))
    ex = SlurmExecutor.from_profile("test", profile_dict(slurm_env, transport="local", host=None, key_file=None,
                                                         workdir=str(tmp_path / "cluster-work")))
    try:
        res, _ = run(wf, reg, tmp_path, {"slurm:test": ex})
    finally:
        ex.close()
    assert res.state == RunState.SUCCEEDED, {n: r.error for n, r in res.nodes.items()}
    assert res.nodes["sq"].outputs == {"result": 9.0}
    assert ex.transport.kind == "local" and ex.stats["sbatch"] == 2
    assert (tmp_path / "cluster-work" / res.run_id / "sq" / "status.json").exists()
