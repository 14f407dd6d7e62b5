"""The queue's rules through the HTTP API, in-process (FastAPI TestClient):
tag matching, batch leases, at most one lease, expiry and retries, stale
results, cancel at the next heartbeat, idempotent submits, limits and 4xx."""
from __future__ import annotations

import os
import time
import uuid

import pytest
from fastapi.testclient import TestClient

from nodeflow.remote.server import create_app


PG_URL = os.environ.get("NODEFLOW_TEST_PG_URL")  # e.g. postgresql+psycopg://nf:nf@127.0.0.1/nodeflow


class SteppedClock:
    """The server's clock for these tests: time moves only when a test steps it, so a slow
    machine never lets a lease lapse behind a test's back (the server's own maintenance
    expires leases by this clock too)."""

    def __init__(self):
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return SteppedClock()


@pytest.fixture(params=["sqlite", "postgresql"])
def api(request, tmp_path, clock):
    db_url = None
    if request.param == "postgresql":
        if not PG_URL:
            pytest.skip("set NODEFLOW_TEST_PG_URL to run these against PostgreSQL")
        from nodeflow.remote.server.db import Database, metadata

        db = Database(PG_URL)
        metadata.drop_all(db.engine)
        db.close()
        db_url = PG_URL
    app = create_app(tmp_path / "data", db_url, lease_timeout_s=1.0, max_retries=1, max_body_bytes=200_000,
                     run_timers=False)
    with TestClient(app) as client:
        state = app.state.server
        state.queue.clock = state.runners.clock = clock
        _, admin = state.auth.create_user("admin", admin=True)
        _, user = state.auth.create_user("user")
        yield client, state, admin, user


def H(token):
    return {"Authorization": f"Bearer {token}"}


def spec(node="n", kind="python"):
    d = {"run_id": "r1", "node": node, "path": ["math", "Add"], "kind": kind, "inputs": {"input": [1, 2]}}
    if kind == "command":
        d["argv"] = ["true"]
    return d


def submit(client, token, *tasks):
    body = {"client": "c1", "tasks": [{"key": uuid.uuid4().hex, "spec": spec(f"n{i}"), **t}
                                      for i, t in enumerate(tasks)]}
    r = client.post("/api/v1/tasks", json=body, headers=H(token))
    assert r.status_code == 201, r.text
    return r.json()["ids"]


def register(client, token, tags=(), slots=2):
    r = client.post("/api/v1/runners/register", json={"name": "r", "tags": list(tags), "slots": slots},
                    headers=H(token))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def lease(client, token, rid, n=4, free=None, results=()):
    body = {"max_tasks": n, "free_slots": free, "wait_s": 0, "results": list(results)}
    r = client.post(f"/api/v1/runners/{rid}/lease", json=body, headers=H(token))
    assert r.status_code == 200, r.text
    return r.json()


def task(client, token, tid):
    return client.get(f"/api/v1/tasks/{tid}", headers=H(token)).json()


def report(t, state="succeeded", lease_=None):
    return {"task_id": t["task_id"], "lease": lease_ or t["lease"], "state": state,
            "result": {"ok": state == "succeeded", "outputs": {"result": 3}}}


def test_a_runner_gets_tasks_whose_tags_it_has_in_one_batch_each_task_once(api):
    client, _, admin, _ = api
    plain, a, ab, big = submit(client, admin, {}, {"tags": ["a"]}, {"tags": ["b", "a"]}, {"slots": 3})
    r1 = register(client, admin, ["a"], slots=2)
    r2 = register(client, admin, ["a", "b", "c"], slots=4)
    got = lease(client, admin, r1, n=8, free=2)["tasks"]
    assert sorted(t["task_id"] for t in got) == [plain, a]  # not ab (needs b), not big (3 slots)
    assert lease(client, admin, r1, n=8, free=2)["tasks"] == []  # nothing twice
    got2 = lease(client, admin, r2, n=8, free=4)["tasks"]
    assert sorted(t["task_id"] for t in got2) == [ab, big]
    assert got2[0]["spec"]["node"].startswith("n")
    assert task(client, admin, a)["state"] == "running" and task(client, admin, a)["runner"] == "r"


def test_an_expired_lease_requeues_counts_a_retry_and_ignores_the_late_result(api, clock):
    client, state, admin, _ = api
    (tid,) = submit(client, admin, {})
    r1, r2 = register(client, admin), register(client, admin)
    (t1,) = lease(client, admin, r1)["tasks"]
    clock.advance(1.1)
    state.queue.expire()  # (the server's own maintenance may have done it already)
    assert task(client, admin, tid)["state"] == "queued" and task(client, admin, tid)["retries"] == 1
    (t2,) = lease(client, admin, r2)["tasks"]
    assert t2["retries"] == 1 and t2["lease"] != t1["lease"]
    # the first runner comes back with a result under its old lease: ignored
    out = lease(client, admin, r1, n=0, results=[report(t1)])
    assert out["accepted"] == [tid] and task(client, admin, tid)["state"] == "running"
    hb = client.post(f"/api/v1/runners/{r1}/heartbeat", headers=H(admin),
                     json={"running": [{"task_id": tid, "lease": t1["lease"]}]}).json()
    assert hb["cancel"] == [tid]  # not yours any more: stop it
    lease(client, admin, r2, n=0, results=[report(t2)])
    st = task(client, admin, tid)
    assert st["state"] == "succeeded" and st["result"]["outputs"] == {"result": 3}
    # past max_retries (1 here) a lost task fails
    (tid2,) = submit(client, admin, {})
    for _ in range(2):
        assert lease(client, admin, r1)["tasks"]
        clock.advance(1.1)
        state.queue.expire()
    st = task(client, admin, tid2)
    assert st["state"] == "failed" and st["reason"] == "lost" and "lost 2 times" in st["result"]["error"]


def test_heartbeats_renew_leases_carry_logs_and_tell_cancels(api, clock):
    client, state, admin, _ = api
    tid, queued = submit(client, admin, {}, {"tags": ["nobody-has-this"]})
    rid = register(client, admin)
    (t,) = lease(client, admin, rid)["tasks"]
    ref = {"task_id": tid, "lease": t["lease"]}
    for i in range(3):  # alive past the 1 s lease time (1.8 s in all) thanks to heartbeats
        clock.advance(0.6)
        hb = client.post(f"/api/v1/runners/{rid}/heartbeat", headers=H(admin), json={
            "running": [ref], "logs": [{**ref, "lines": [["stdout", f"line {i}"]]}]}).json()
        assert hb == {"cancel": [], "shutdown": False, "accepted": []}
        state.queue.expire()
    st = client.post("/api/v1/tasks/status", headers=H(admin), json={"tasks": [{"id": tid}]}).json()["tasks"][0]
    assert st["state"] == "running" and st["log"] == [["stdout", "line 0"], ["stdout", "line 1"],
                                                       ["stdout", "line 2"]] and st["log_seq"] == 3
    # only what changed comes back
    again = client.post("/api/v1/tasks/status", headers=H(admin),
                        json={"tasks": [{"id": tid, "version": st["version"], "log_seq": 3}]}).json()
    assert again["tasks"] == []
    out = client.post("/api/v1/tasks/cancel", headers=H(admin), json={"ids": [tid, queued]}).json()
    assert sorted(out["cancelled"]) == sorted([tid, queued])
    assert task(client, admin, queued)["state"] == "cancelled"  # queued: at once
    assert task(client, admin, tid)["state"] == "running"  # running: its runner hears at the next heartbeat
    hb = client.post(f"/api/v1/runners/{rid}/heartbeat", headers=H(admin), json={"running": [ref]}).json()
    assert hb["cancel"] == [tid]
    lease(client, admin, rid, n=0, results=[report(t, "failed")])
    assert task(client, admin, tid)["state"] == "cancelled"
    # an admin asks the runner to stop: it hears at its next heartbeat
    assert client.post(f"/api/v1/runners/{rid}/shutdown", headers=H(admin)).status_code == 204
    hb = client.post(f"/api/v1/runners/{rid}/heartbeat", headers=H(admin), json={}).json()
    assert hb["shutdown"] is True


def test_submits_are_idempotent_and_runners_of_a_user_serve_only_that_user(api):
    client, _, admin, user = api
    body = {"client": "c", "tasks": [{"key": "k" * 16, "spec": spec()}]}
    a = client.post("/api/v1/tasks", json=body, headers=H(user)).json()["ids"]
    b = client.post("/api/v1/tasks", json=body, headers=H(user)).json()["ids"]
    assert a == b
    (admin_task,) = submit(client, admin, {})
    mine = register(client, user)
    got = [t["task_id"] for t in lease(client, user, mine, n=8)["tasks"]]
    assert got == a  # the user's runner does not take the admin's task
    shared_runner = register(client, admin)
    assert [t["task_id"] for t in lease(client, admin, shared_runner, n=8)["tasks"]] == [admin_task]
    # the user cannot see or drive the admin's things
    assert client.get(f"/api/v1/tasks/{admin_task}", headers=H(user)).status_code == 404
    r = client.post(f"/api/v1/runners/{shared_runner}/lease", headers=H(user), json={"max_tasks": 1})
    assert r.status_code == 404


def test_limits_validation_and_clear_messages(api):
    client, _, admin, user = api
    big = {"content": "{}" + " " * 300_000, "message": "too big"}
    r = client.post("/api/v1/workflows/w", json=big, headers=H(admin))
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    r = client.post("/api/v1/workflows/w", json={"content": "{not json", "message": ""}, headers=H(admin))
    assert r.status_code == 400 and "not a usable workflow file" in r.json()["detail"]
    r = client.post("/api/v1/workflows/bad name", json={"content": "{}", "message": ""}, headers=H(admin))
    assert r.status_code == 422
    r = client.post("/api/v1/tasks", headers=H(admin),
                    json={"client": "c", "tasks": [{"key": "k" * 16, "spec": {"kind": "shell"}}]})
    assert r.status_code == 422 and "kind" in r.json()["detail"]
    r = client.post("/api/v1/runners/register", headers=H(admin), json={"name": "r", "slots": 0})
    assert r.status_code == 422
    assert client.get("/api/v1/queue", headers=H(user)).status_code == 403
    assert client.post("/api/v1/users", json={"name": "x"}, headers=H(user)).status_code == 403
    r = client.post("/api/v1/users", json={"name": "user"}, headers=H(admin))
    assert r.status_code == 409 and "exists" in r.json()["detail"]
    r = client.get("/api/v1/workflows/nothing", headers=H(admin))
    assert r.status_code == 404 and "nothing" in r.json()["detail"]
    assert client.get("/openapi.json").json()["info"]["title"] == "nodeflow server"
    tokens = client.get("/api/v1/tokens", headers=H(admin)).json()
    assert tokens and "token" not in tokens[0] and "hash" not in tokens[0]
    made = client.post("/api/v1/tokens", headers=H(admin), json={"label": "x"}).json()
    assert client.get("/api/v1/me", headers=H(made["token"])).status_code == 200
    assert client.delete(f"/api/v1/tokens/{made['id']}", headers=H(admin)).status_code == 204
    assert client.get("/api/v1/me", headers=H(made["token"])).status_code == 401
