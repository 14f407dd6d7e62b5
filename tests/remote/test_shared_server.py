"""One real server and two real runners (tags ``a`` and ``b,linux``): tagged
nodes, publishing with git history, who sees what, server-side runs, timers,
and the CLI (login, push, pull, runners, run --executor runner:NAME)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from nodeflow.engine import EventCollector, EventKind, RunState, run_workflow
from nodeflow.engine.settings import WorkflowSettings
from nodeflow.model import Workflow, save

from .conftest import PY, node, runner_executor, tagged_workflow, wait_until, workflow_text


def test_nodes_needing_different_tags_complete_on_matching_runners(shared, tmp_path):
    wf = tagged_workflow()
    ex = runner_executor(shared.server, shared.alice)
    events = EventCollector()
    res = run_workflow(wf, executors={"runner:test": ex}, default_executor="runner:test", observers=[events],
                       runs_dir=tmp_path / "runs")
    ex.close()
    assert res.state == RunState.SUCCEEDED, {n: r.error for n, r in res.nodes.items()}
    assert res.nodes["m"].outputs["result"] == 12.0
    assert res.nodes["s"].outputs["stdout"].strip() == "12.0"
    # each node ran on the runner with its tags (task folders are '<node>-t<task id>')
    ran_a = {t.split("-t")[0] for t in shared.ra.tasks_run()}
    ran_b = {t.split("-t")[0] for t in shared.rb.tasks_run()}
    assert {"a", "m"} <= ran_a and not ({"a", "m"} & ran_b)
    assert {"b", "s"} <= ran_b and not ({"b", "s"} & ran_a)
    # the command's output streamed back as log events
    lines = [e.data["line"] for e in events.of(EventKind.NODE_LOG, "s")]
    assert "12.0" in lines


def test_a_node_no_runner_can_take_waits_in_the_queue_and_can_be_cancelled(shared, tmp_path):
    import threading

    wf = Workflow()
    node(wf, ("types", "Float"), "x", ["gpu"], float=1.0)
    ex = runner_executor(shared.server, shared.alice)
    holder = {}
    t = threading.Thread(target=lambda: holder.setdefault("r", run_workflow(
        wf, executors={"runner:test": ex}, default_executor="runner:test", runs_dir=tmp_path / "runs",
        on_scheduler=lambda s: holder.setdefault("s", s))))
    t.start()
    with shared.server.client(shared.alice) as c:
        wait_until(lambda: c.request("GET", "/queue")["tag_sets"].get("gpu"), what="the gpu task queued")
        holder["s"].cancel()
        t.join(20)
        assert holder["r"].state == RunState.CANCELLED
        wait_until(lambda: not c.request("GET", "/queue")["tag_sets"].get("gpu"), what="the task cancelled")
    ex.close()


def test_three_publishes_three_commits_and_version_one_byte_for_byte(shared):
    texts = []
    with shared.server.client(shared.alice) as c:
        for i in range(3):
            wf = Workflow()
            node(wf, ("types", "Float"), "x", executor=None, float=float(i))
            texts.append(workflow_text(wf))
            out = c.publish("hist", texts[-1], f"version {i + 1}")
            assert out["version"] == i + 1
        hist = c.history("hist")
        assert [h["version"] for h in hist] == [1, 2, 3]
        assert [h["message"] for h in hist] == ["version 1", "version 2", "version 3"]
        assert {h["author"] for h in hist} == {"alice"}
        assert len({h["commit"] for h in hist}) == 3
        v1 = c.request("GET", "/workflows/hist/content", params={"version": "1"}, raw=True)
        assert v1 == texts[0].encode("utf-8")
        by_commit = c.workflow("hist", hist[1]["commit"][:12])
        assert by_commit["version"] == 2 and by_commit["content"] == texts[1]
        assert c.workflow("hist")["version"] == 3
        d = c.diff("hist", 1, 3)["diff"]
        assert d.startswith("--- hist@1\n+++ hist@3\n") and "-" in d and "+" in d
    # every publish is a real commit in the server's git repository
    from dulwich.repo import Repo

    repo = Repo(str(shared.server.data / "repo"))
    commits = [e.commit for e in repo.get_walker(paths=[b"alice/hist.nc"])]
    assert [c.id.decode() for c in commits] == [h["commit"] for h in reversed(hist)]
    assert commits[0].author.startswith(b"alice")


def test_private_workflows_tokens_and_roles(shared):
    from nodeflow.remote.client import RemoteError

    wf = Workflow()
    node(wf, ("types", "Float"), "x", executor=None, float=1.0)
    with shared.server.client(shared.alice) as alice, shared.server.client(shared.bob) as bob:
        alice.publish("secret", workflow_text(wf), "mine")
        for call in (lambda: bob.workflow("secret"), lambda: bob.workflow("secret", owner="alice"),
                     lambda: bob.history("secret", owner="alice")):
            with pytest.raises(RemoteError) as e:
                call()
            assert e.value.status == 404
        assert "secret" not in [w["name"] for w in bob.workflows()]
        alice.share("secret", "bob")
        assert bob.workflow("secret")["owner"] == "alice"
        with pytest.raises(RemoteError) as e:  # shared means read and run, not delete
            bob.delete_workflow("secret")
        assert e.value.status == 404
        with pytest.raises(RemoteError) as e:  # a user is no admin
            bob.request("GET", "/queue")
        assert e.value.status == 403
    r = httpx.get(shared.server.url + "/api/v1/workflows", headers={"Authorization": "Bearer nf_not-a-token"})
    assert r.status_code == 401 and "invalid" in r.json()["detail"]
    assert httpx.get(shared.server.url + "/api/v1/workflows").status_code == 401
    with shared.server.client(shared.runner_token) as runner:
        with pytest.raises(RemoteError) as e:
            runner.publish("nope", workflow_text(wf), "a runner may not publish")
        assert e.value.status == 403 and "runner token" in str(e.value.detail)
        assert runner.me()["token_kind"] == "runner"
    assert httpx.get(shared.server.url + "/api/v1/status").json()["runners_online"] >= 2


def test_server_side_run_finishes_after_the_submitting_client_is_gone(shared, tmp_path):
    home = _login(shared, tmp_path)
    wf = tagged_workflow()
    save(wf, tmp_path / "tagged.nc")
    env = {**os.environ, "NODEFLOW_HOME": str(home)}
    subprocess.run([PY, "-m", "nodeflow.cli", "push", str(tmp_path / "tagged.nc"), "-m", "for the server"],
                   env=env, check=True, capture_output=True)
    out = subprocess.run([PY, "-m", "nodeflow.cli", "server", "execute", "tagged"], env=env, check=True,
                         capture_output=True, text=True)
    run_id = out.stdout.strip()  # the client process has exited; the run goes on
    with shared.server.client(shared.alice) as c:
        info = wait_until(lambda: (lambda r: r if r["state"] in ("succeeded", "failed") else None)(c.run(run_id)),
                          30, what="the server run")
        assert info["state"] == "succeeded", info
        assert info["nodes"] == {"a": "succeeded", "b": "succeeded", "m": "succeeded", "s": "succeeded"}
        assert info["version"] == 1 and info["trigger"] == "api"
        ev = c.run_events(run_id, 0)
        kinds = [e["kind"] for e in ev["events"]]
        assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
        logs = [e["data"]["line"] for e in ev["events"] if e["kind"] == "node_log"]
        assert "12.0" in logs


def test_a_server_run_can_be_watched_and_cancelled(shared):
    wf = Workflow()
    node(wf, ("types", "Float"), "quick", ["a"], executor=None, float=1.0)
    node(wf, ("types", "Float"), "stuck", ["no-runner-has-this"], executor=None, float=2.0)
    with shared.server.client(shared.alice) as c:
        c.publish("stuck", workflow_text(wf), "one node can never run")
        run_id = c.execute("stuck")["run_id"]
        seen, after = [], 0
        while not any(e["kind"] == "node_succeeded" and e["node"] == "quick" for e in seen):
            ev = c.run_events(run_id, after, wait_s=5)  # a long-poll: returns when there is news
            seen += ev["events"]
            after = ev["next"]
        assert c.run(run_id)["state"] == "running"
        c.cancel_run(run_id)
        info = wait_until(lambda: (lambda r: r if r["state"] != "running" else None)(c.run(run_id)), 15,
                          what="the cancel")
        assert info["state"] == "cancelled" and info["nodes"]["quick"] == "succeeded"
        assert not c.request("GET", "/queue")["tag_sets"].get("no-runner-has-this")


def test_a_timer_fires_runs_and_can_be_paused_and_deleted(shared, tmp_path):
    wf = Workflow()
    node(wf, ("types", "Float"), "x", ["a"], executor=None, float=2.0)
    with shared.server.client(shared.alice) as c:
        c.publish("ticking", workflow_text(wf), "v1")
        t = c.add_timer("ticking", "* * * * * */2")  # every 2 seconds
        assert t["next_fire"] - time.time() <= 2.5

        def timer_runs():
            return [r for r in c.runs() if r["trigger"] == f"timer:{t['id']}"]

        runs = wait_until(lambda: [r for r in timer_runs() if r["state"] == "succeeded"], 15, what="a timer run")
        assert runs[0]["workflow"] == "ticking"
        paused = c.timer_action(t["id"], "pause")
        assert paused["paused"] is True
        time.sleep(0.5)
        n = len(timer_runs())
        time.sleep(2.5)
        assert len(timer_runs()) == n
        c.timer_action(t["id"], "delete")
        assert t["id"] not in [x["id"] for x in c.timers()]
        # a workflow's own schedule setting makes (and removes) its timer
        WorkflowSettings(schedule="0 3 * * *").store(wf)
        c.publish("nightly", workflow_text(wf), "with a schedule")
        mine = [x for x in c.timers() if x["workflow"] == "nightly"]
        assert len(mine) == 1 and mine[0]["source"] == "workflow" and mine[0]["cron"] == "0 3 * * *"
        WorkflowSettings().store(wf)
        c.publish("nightly", workflow_text(wf), "no schedule")
        assert not [x for x in c.timers() if x["workflow"] == "nightly"]
        from nodeflow.remote.client import RemoteError

        with pytest.raises(RemoteError) as e:
            c.add_timer("ticking", "every tuesday")
        assert e.value.status == 422 and "cron" in str(e.value.detail)


def _login(shared, tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "NODEFLOW_HOME": str(home)}
    subprocess.run([PY, "-m", "nodeflow.cli", "login", "--server", "test", "--url", shared.server.url,
                    "--token", shared.alice], env=env, check=True, capture_output=True)
    return home


def test_cli_login_push_pull_runners_and_run_on_runners(shared, tmp_path):
    home = _login(shared, tmp_path)
    env = {**os.environ, "NODEFLOW_HOME": str(home)}
    token_file = home / "config" / "tokens" / "test"
    assert token_file.read_text().strip() == shared.alice
    assert (token_file.stat().st_mode & 0o777) == 0o600
    assert shared.alice not in (home / "config" / "config.toml").read_text()

    def cli(*argv, check=True):
        return subprocess.run([PY, "-m", "nodeflow.cli", *argv], env=env, capture_output=True, text=True,
                              check=check, cwd=tmp_path)

    wf = tagged_workflow()
    save(wf, tmp_path / "cli-flow.nc")
    assert "version 1" in cli("push", "cli-flow.nc", "-m", "one").stdout
    assert "version 2" in cli("push", "cli-flow.nc", "-m", "two").stdout
    assert "one" in cli("pull", "cli-flow", "--history").stdout
    cli("pull", "cli-flow", "--version", "1", "-o", "back.nc")
    assert (tmp_path / "back.nc").read_bytes() == (tmp_path / "cli-flow.nc").read_bytes()
    again = cli("pull", "cli-flow", "-o", "back.nc", check=False)
    assert again.returncode == 2 and "exists" in again.stderr
    assert "ID" in cli("server", "timers", "list").stdout
    listing = cli("runners").stdout
    assert "ra" in listing and "rb" in listing and "b,linux" in listing
    res = cli("run", "cli-flow.nc", "--executor", "runner:test", "--results", "res.json", "--no-history",
              "--quiet", check=False)
    assert res.returncode == 0, res.stderr
    out = json.loads((tmp_path / "res.json").read_text())
    assert out["nodes"]["s"]["outputs"]["stdout"].strip() == "12.0"
    missing = cli("pull", "no-such-flow", check=False)
    assert missing.returncode == 1 and "404" in missing.stderr


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_cli_runner_token_not_on_the_command_line(shared):
    cmdline = open(f"/proc/{shared.ra.proc.pid}/cmdline", "rb").read().decode()
    assert shared.runner_token not in cmdline


def test_subworkflow_from_the_server_at_a_version(shared, tmp_path):
    """A parent on the desktop uses server:NAME@VERSION; the exact committed version is inlined."""
    from nodeflow.library import builtin_registry
    from nodeflow.library.builtins.workflow_nodes import SUBWORKFLOW_PATH
    from nodeflow.model import Terminal

    reg = builtin_registry()
    child = Workflow()
    for path, name, values in ((("nodeflow", "Workflow Input"), "in", {"name": "x", "value": 1.0}),
                               (("math", "Power"), "p", {"exponent": 2.0}),
                               (("nodeflow", "Workflow Output"), "out", {"name": "y"})):
        n = reg.create_node(path, child)
        n.uniquename = name
        child.add_node(n)
        for k, v in values.items():
            n.terminals[k].value = v
    child.connect(("in", "output"), ("p", "base"))
    child.connect(("p", "result"), ("out", "value"))
    home = _login(shared, tmp_path)
    env = {**os.environ, "NODEFLOW_HOME": str(home)}
    save(child, tmp_path / "square.nc")
    subprocess.run([PY, "-m", "nodeflow.cli", "push", "square.nc", "-m", "square"], env=env, check=True,
                   cwd=tmp_path, capture_output=True)
    child.nodes["p"].terminals["exponent"].value = 3.0  # version 2 cubes
    save(child, tmp_path / "square.nc")
    subprocess.run([PY, "-m", "nodeflow.cli", "push", "square.nc", "-m", "cube"], env=env, check=True,
                   cwd=tmp_path, capture_output=True)

    parent = Workflow()
    for ref, name in (("server:test/square@1", "v1"), ("server:square", "latest")):
        s = reg.create_node(SUBWORKFLOW_PATH, parent)
        s.uniquename = name
        parent.add_node(s)
        s.terminals["workflow"].value = ref
        s.terminals["x"] = Terminal(4.0, False, {"in": True, "out": False, "dtype": "None"})
        s.terminals["y"] = Terminal(None, False, {"in": False, "out": True, "dtype": "None"})
    save(parent, tmp_path / "parent.nc")
    p = subprocess.run([PY, "-m", "nodeflow.cli", "run", "parent.nc", "--results", "r.json", "-q", "--no-history"],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    nodes = json.loads((tmp_path / "r.json").read_text())["nodes"]
    assert nodes["v1/p"]["outputs"]["result"] == 16.0
    assert nodes["latest/p"]["outputs"]["result"] == 64.0
    parent.nodes["v1"].terminals["workflow"].value = "server:test/no-such@1"
    save(parent, tmp_path / "parent.nc")
    p = subprocess.run([PY, "-m", "nodeflow.cli", "run", "parent.nc", "-q", "--no-history"], env=env,
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "no-such" in p.stderr
