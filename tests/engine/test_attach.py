"""Journaling remote jobs and re-attaching to them: the scheduler's side of the contract.

A fake remote executor stands in for Slurm here (this tests the scheduler's logic);
tests/slurm/ exercises the same path against a real cluster.
"""
from __future__ import annotations

import threading

from nodeflow.engine import EventCollector, EventKind, NodeState, RunState, run_workflow
from nodeflow.executors.base import RUNNING, SUCCEEDED, TaskResult, TaskStatus
from nodeflow.history.store import HistoryStore
from nodeflow.model import Workflow

from .helpers import add, link, registry_with_test_types, wait_for


class FakeRemote:
    """Jobs 'run' until released; job ids are journaled; attach() takes a job over."""

    name = "fake"
    max_concurrency = 4
    max_in_flight = None

    def __init__(self, hold=()):
        self.hold = set(hold)
        self.submitted: list[str] = []
        self.attached: list[tuple[str, dict]] = []
        self._jobs: dict[str, dict] = {}
        self._notify = lambda: None
        self._n = 0

    def start(self, notify):
        self._notify = notify

    def submit(self, specs):
        handles = []
        for s in specs:
            self._n += 1
            job = f"J{self._n}"
            self._jobs[job] = {"spec": s, "reported": False}
            self.submitted.append(s.node)
            handles.append(job)
        self._notify()
        return handles

    def journal_record(self, handle):
        return {"job_id": handle, "workdir": f"/remote/{handle}", "profile": "p"}

    def attach(self, spec, record):
        self.attached.append((spec.node, dict(record)))
        self._jobs[record["job_id"]] = {"spec": spec, "reported": False}
        self._notify()
        return record["job_id"]

    def poll(self, handles):
        out = {}
        for h in list(handles):
            job = self._jobs[h]
            if job["spec"].node in self.hold:
                if not job["reported"]:
                    job["reported"] = True
                    out[h] = TaskStatus(RUNNING, started_at=1.0)
                continue
            val = job["spec"].inputs.get("input", 0.0)
            out[h] = TaskStatus(SUCCEEDED, TaskResult(True, {"result": -val}), started_at=1.0, job_id=h)
        return out

    def cancel(self, handles):
        pass

    def logs(self, handle):
        return "", ""

    def poll_interval(self):
        return 0.05

    def close(self):
        pass


def test_submitted_jobs_are_journaled_and_reattached_without_resubmitting(tmp_path):
    reg = registry_with_test_types()
    wf = Workflow()
    a = add(wf, reg, ("math", "Negate"), name="a", input=2.0)
    b = add(wf, reg, ("math", "Negate"), name="b")
    link(wf, a, "result", b, "input")
    for n in (a, b):
        n.set_settings({"executor": "fake"})
    store = HistoryStore(tmp_path / "h.sqlite")

    # first process: 'a' finishes, 'b' is submitted and then the process "dies" (we abandon it)
    first = FakeRemote(hold={"b"})
    ev1 = EventCollector()
    holder = {}
    t = threading.Thread(target=run_workflow, args=(wf,), kwargs=dict(
        registry=reg, executors={"fake": first}, observers=[ev1], history=store, runs_dir=tmp_path / "runs",
        on_scheduler=lambda s: holder.__setitem__("s", s)), daemon=True)
    t.start()
    assert wait_for(lambda: ev1.of(EventKind.NODE_SUBMITTED, "b"), timeout=10)
    run_id = holder["s"].run_id
    jobs = {j["node"]: j for j in store.jobs(run_id)}
    assert jobs["b"]["job_id"] == "J2" and jobs["b"]["workdir"] == "/remote/J2"
    assert first.submitted == ["a", "b"]
    # make the abandoned loop end without touching the store's run rows for 'b'
    holder["s"].observers.clear()
    first.hold.clear()
    holder["s"].notify()
    t.join(timeout=10)
    # 'a' succeeded in the journal of the first process (the recorder flushed it on success)
    store.upsert_attempts([{"run_id": run_id, "node": "a", "attempt": 1, "state": "succeeded",
                            "outputs": {"result": -2.0},
                            "input_hash": ev1.of(EventKind.NODE_SUCCEEDED, "a")[0].data["input_hash"]}])

    second = FakeRemote()
    ev2 = EventCollector()
    res = run_workflow(wf, registry=reg, executors={"fake": second}, observers=[ev2], history=store,
                       runs_dir=tmp_path / "runs", attach=run_id)
    assert res.run_id == run_id
    assert res.state == RunState.SUCCEEDED
    assert second.submitted == []  # nothing submitted twice
    assert [n for n, _ in second.attached] == ["b"]
    assert second.attached[0][1]["job_id"] == "J2"
    assert res.nodes["a"].state == NodeState.SUCCEEDED and res.nodes["a"].reused
    assert res.nodes["b"].outputs == {"result": 2.0}
    store.close()
