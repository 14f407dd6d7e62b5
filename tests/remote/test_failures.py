"""Things going wrong, with real processes: a runner killed with ``kill -9``
mid-task, the server killed and restarted mid-run, a runner drained with
SIGTERM. Lease timeouts are shortened so each takes seconds."""
from __future__ import annotations

import signal
import threading
import time

from nodeflow.engine import EventCollector, EventKind, RunState, run_workflow
from nodeflow.model import Workflow

from .conftest import RunnerProc, ServerProc, counting_command, runner_executor, wait_until, workflow_text


def _run_in_thread(wf, ex, tmp_path, events=None):
    out: dict = {}

    def go():
        out["result"] = run_workflow(wf, executors={"runner:test": ex}, default_executor="runner:test",
                                     observers=[events] if events else [], runs_dir=tmp_path / "runs",
                                     on_scheduler=lambda s: out.setdefault("scheduler", s))

    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t, out


def _lines(path):
    return path.read_text().split() if path.exists() else []


def test_a_runner_killed_mid_task_loses_it_to_another_and_it_completes_once(tmp_path):
    # (a lease of 5 s: a runner that stalls a second or two on a busy machine keeps its task)
    srv = ServerProc(tmp_path / "data", "--lease-timeout", "5", "--heartbeat", "0.3").start()
    try:
        token = srv.add_user("u", admin=True)
        runners = [RunnerProc(srv, token, tmp_path, n, "x", 1).start() for n in ("r1", "r2")]
        counter = tmp_path / "count"
        wf = Workflow()
        counting_command(wf, "slow", counter, 2.5, ["x"])
        events = EventCollector()
        ex = runner_executor(srv, token)
        t, out = _run_in_thread(wf, ex, tmp_path, events)
        wait_until(lambda: _lines(counter) == ["start"], 20, what="the task to start")
        victim = next(r for r in runners if r.tasks_run())
        other = next(r for r in runners if r is not victim)
        victim.proc.send_signal(signal.SIGKILL)  # no goodbye: only the lease running out tells the server
        victim.proc.wait(5)
        t.join(40)
        ex.close()
        res = out["result"]
        assert res.state == RunState.SUCCEEDED, res.nodes["slow"].error
        # started twice (the killed runner's command died with it), finished once, by the other runner
        assert _lines(counter) == ["start", "start", "done"]
        assert [x.split("-t")[0] for x in other.tasks_run()] == ["slow"]
        with srv.client(token) as c:
            task = c.request("GET", "/tasks/1")
            assert task["state"] == "succeeded" and task["retries"] == 1 and task["runner"] == other.name
        lost = [e for e in events.of(EventKind.NODE_LOG, "slow") if "runner lost" in e.data["line"]]
        assert len(lost) == 1
        assert len(events.of(EventKind.NODE_SUCCEEDED, "slow")) == 1
        time.sleep(0.5)  # an orphan of the killed runner would have finished by now
        assert _lines(counter) == ["start", "start", "done"]
        other.stop()
    finally:
        srv.kill()


def test_the_server_restarted_mid_run_and_everyone_reconnects(tmp_path):
    data = tmp_path / "data"
    srv = ServerProc(data, "--lease-timeout", "6", "--heartbeat", "0.5").start()
    runner = None
    try:
        token = srv.add_user("u", admin=True)
        runner = RunnerProc(srv, token, tmp_path, "r", "", 1, "--backoff-max", "1").start()
        counters = [tmp_path / f"count{i}" for i in range(3)]
        wf = Workflow()
        prev = None
        for i, c in enumerate(counters):  # a chain: c0 → c1 → c2, a second each
            counting_command(wf, f"c{i}", c, 1.0, upstream=prev)
            prev = f"c{i}"
        ex = runner_executor(srv, token, backoff_max_s=1.0)
        t, out = _run_in_thread(wf, ex, tmp_path)
        wait_until(lambda: _lines(counters[0]) == ["start", "done"], 20, what="the first node")
        srv.kill()  # kill -9: no clean shutdown
        time.sleep(1.5)
        srv.start()  # same port, same data folder
        t.join(60)
        assert not t.is_alive(), "the run did not finish after the server came back"
        ex.close()
        res = out["result"]
        assert res.state == RunState.SUCCEEDED, {n: r.error for n, r in res.nodes.items()}
        for c in counters:
            assert _lines(c) == ["start", "done"], c  # each node ran exactly once
        assert runner.proc.poll() is None  # the runner rode it out
    finally:
        if runner is not None:
            runner.stop()
        srv.kill()


def test_sigterm_drains_a_runner(tmp_path):
    srv = ServerProc(tmp_path / "data", "--lease-timeout", "5", "--heartbeat", "0.5").start()
    try:
        token = srv.add_user("u", admin=True)
        runner = RunnerProc(srv, token, tmp_path, "r", "", 1).start()
        first, second = tmp_path / "first", tmp_path / "second"
        wf = Workflow()
        counting_command(wf, "first", first, 1.5)
        counting_command(wf, "second", second, 0.1)
        ex = runner_executor(srv, token)
        t, out = _run_in_thread(wf, ex, tmp_path)
        wait_until(lambda: _lines(first) == ["start"] or _lines(second) == ["start"], 20, what="a task to start")
        busy = first if _lines(first) else second
        idle = second if busy is first else first
        runner.proc.send_signal(signal.SIGTERM)
        assert runner.proc.wait(20) == 0
        assert _lines(busy) == ["start", "done"]  # what ran was finished…
        assert _lines(idle) == []  # …and nothing new was taken
        assert "stopped (1 task(s) run)" in runner.log.read_text()
        with srv.client(token) as c:
            rs = c.runners()
            assert rs[0]["state"] == "draining" and rs[0]["running_tasks"] == []
            assert c.request("GET", "/queue")["counts"].get("queued") == 1
        out["scheduler"].cancel()
        t.join(20)
        ex.close()
        assert out["result"].state == RunState.CANCELLED
    finally:
        srv.kill()


def test_a_server_run_goes_on_after_a_server_restart(tmp_path):
    """The server dies mid-run of its own run; the next server process re-attaches to it (same run,
    done nodes reused, queued tasks taken over by their keys) and finishes it: each node runs once."""
    srv = ServerProc(tmp_path / "data", "--lease-timeout", "6", "--heartbeat", "0.5").start()
    runner = None
    try:
        token = srv.add_user("u", admin=True)
        runner = RunnerProc(srv, token, tmp_path, "r", "", 1, "--backoff-max", "1").start()
        counters = [tmp_path / f"count{i}" for i in range(3)]
        wf = Workflow()
        prev = None
        for i, c in enumerate(counters):
            counting_command(wf, f"c{i}", c, 1.0, upstream=prev, executor=None)
            prev = f"c{i}"
        with srv.client(token) as c:
            c.publish("chain", workflow_text(wf), "three in a row")
            run_id = c.execute("chain")["run_id"]
        wait_until(lambda: _lines(counters[0]) == ["start", "done"], 20, what="the first node")
        srv.kill()
        time.sleep(1.0)
        srv.start()
        with srv.client(token) as c:
            info = wait_until(lambda: (lambda r: r if r["state"] in ("succeeded", "failed", "cancelled") else None)(
                c.run(run_id)), 40, what="the resumed run")
        assert info["state"] == "succeeded", info
        assert info["nodes"] == {"c0": "succeeded", "c1": "succeeded", "c2": "succeeded"}
        for c in counters:
            assert _lines(c) == ["start", "done"], c
    finally:
        if runner is not None:
            runner.stop()
        srv.kill()
