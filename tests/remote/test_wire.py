"""What crosses the wire is JSON: specs and results with numpy arrays inline,
read back to the same values; an over-large result becomes a failure that fits."""
from __future__ import annotations

import json

import numpy as np

from nodeflow.executors.base import SUCCEEDED, TaskResult, TaskSpec, TaskStatus
from nodeflow.executors.runner import RunnerExecutor
from nodeflow.remote.agent.convert import local_spec, shrunk, wire_report
from nodeflow.remote.protocol import LeasedTask, TaskState


def test_a_spec_and_its_result_travel_as_json_and_come_back_equal(tmp_path):
    arr = np.arange(6.0).reshape(2, 3)
    spec = TaskSpec("run-1", "node a", ("numpy", "Sum"), "python", {"input": arr}, cwd="/nowhere/on/this/box",
                    workdir="/client/side/folder")
    wire = json.loads(json.dumps(spec.to_json_dict(None)))  # what the executor sends
    wire["a_field_from_a_newer_nodeflow"] = 1
    leased = LeasedTask(task_id=7, lease="abc", spec=wire, slots=1, retries=0)
    local = local_spec(leased, tmp_path)
    assert np.array_equal(local.inputs["input"], arr)
    assert local.workdir.startswith(str(tmp_path)) and local.workdir.endswith("-t7")
    assert local.cwd == local.workdir  # the client's folder does not exist here

    res = TaskResult(True, {"result": np.float64(15.0), "arr": arr}, started_at=1.0, finished_at=2.0)
    rep = wire_report(leased, TaskStatus(SUCCEEDED, res), [("stdout", "hi")])
    sent = json.loads(rep.model_dump_json())  # no pickles: plain JSON
    assert sent["state"] == "succeeded" and sent["result"]["log"] == [["stdout", "hi"]]
    back = RunnerExecutor._result(TaskState(id=7, version=3, state="succeeded", result=sent["result"]))
    assert back.ok and back.outputs["result"] == 15.0 and np.array_equal(back.outputs["arr"], arr)

    small = shrunk(rep, "413: over the limit")
    assert small.state == "failed" and small.result.outputs == {} and "too large" in small.result.error


def test_outputs_that_are_not_json_fail_the_task_instead_of_the_runner(tmp_path):
    leased = LeasedTask(task_id=1, lease="x", spec={"run_id": "r", "node": "n", "path": ["a"], "kind": "python"},
                        slots=1, retries=0)
    rep = wire_report(leased, TaskStatus(SUCCEEDED, TaskResult(True, {"f": object()})), [])
    assert rep.state == "failed" and "JSON" in rep.result.error
    guarded = local_spec(LeasedTask(task_id=2, lease="x", spec={"run_id": "r", "node": "c", "path": ["shell"],
                                                                 "kind": "command", "argv": ["true"]},
                                    slots=1, retries=0), tmp_path)
    assert guarded.argv[-2:] == ["--", "true"] and guarded.argv[3].endswith("guard.py")
