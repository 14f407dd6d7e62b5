"""Command output on the local executor: pipes pumped into log files made on the first byte."""
from __future__ import annotations

import os
import signal
import threading
import time

from nodeflow.engine import EventKind, ManualClock, NodeState, RunState
from nodeflow.model import Workflow

from .helpers import add, pid_alive, run, wait_for


def test_a_silent_command_makes_no_node_folder_and_runs_in_the_run_folder(reg, tmp_path):
    wf = Workflow()
    add(wf, reg, ("test", "PyCmd"), name="quiet", code="import os; open('cwd.txt', 'w').write(os.getcwd())")
    res, ev = run(wf, reg, tmp_path)
    assert res.state == RunState.SUCCEEDED
    assert res.nodes["quiet"].outputs == {"stdout": "", "stderr": "", "exitcode": 0}
    run_dir = tmp_path / "runs" / res.run_id
    # a workflow never saved has no folder of its own: its commands run in the run folder
    assert (run_dir / "cwd.txt").read_text() == str(run_dir)
    assert not (run_dir / "quiet").exists()
    assert ev.of(EventKind.NODE_LOG, "quiet") == []
    done = ev.of(EventKind.NODE_SUCCEEDED, "quiet")[0]
    assert done.data["stdout_path"] == str(run_dir / "quiet" / "stdout.txt")  # where output would have gone


def test_only_the_streams_that_wrote_get_a_file(reg, tmp_path):
    wf = Workflow()
    add(wf, reg, ("test", "PyCmd"), name="talk", code="print('one'); print('two', end='')")
    res, ev = run(wf, reg, tmp_path)
    folder = tmp_path / "runs" / res.run_id / "talk"
    assert (folder / "stdout.txt").read_text() == "one\ntwo"
    assert not (folder / "stderr.txt").exists()
    assert res.nodes["talk"].outputs["stdout"] == "one\ntwo"
    assert [(e.data["stream"], e.data["line"]) for e in ev.of(EventKind.NODE_LOG, "talk")] == [
        ("stdout", "one"), ("stdout", "two")]


def test_a_long_command_writes_its_log_file_and_streams_lines_while_it_runs(reg, tmp_path):
    wf = Workflow()
    add(wf, reg, ("test", "PyCmd"), name="slow",
        code="import sys, time; print('begun', flush=True); print('warn', file=sys.stderr, flush=True); "
             "time.sleep(2.5); print('ended')")
    seen = {}

    class Watch:
        def on_event(self, e):
            if e.kind == EventKind.NODE_LOG and e.node == "slow":
                seen.setdefault(e.data["line"], time.monotonic())
            if e.kind == EventKind.NODE_SUCCEEDED:
                seen["succeeded"] = time.monotonic()

    holder = {}

    def go():
        holder["res"] = run(wf, reg, tmp_path, observers=[Watch()])[0]

    t = threading.Thread(target=go)
    t.start()
    out = tmp_path / "runs"
    assert wait_for(lambda: any(p.read_text() == "begun\n" for p in out.glob("*/slow/stdout.txt")), timeout=10)
    assert t.is_alive(), "the file had its first line only after the command ended"
    t.join(timeout=20)
    assert holder["res"].state == RunState.SUCCEEDED
    assert seen["succeeded"] - seen["begun"] > 1.0 and seen["succeeded"] - seen["warn"] > 1.0
    folder = next(out.glob("*/slow"))
    assert (folder / "stdout.txt").read_text() == "begun\nended\n"
    assert (folder / "stderr.txt").read_text() == "warn\n"


def test_a_command_that_leaves_a_process_holding_its_output_still_ends(reg, tmp_path):
    pidfile = tmp_path / "daemon.pid"
    wf = Workflow()
    # the background process inherits stdout/stderr and sleeps long; the command itself exits at once
    add(wf, reg, ("test", "PyCmd"), name="spawner",
        code="import subprocess, sys; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
             f"open({str(pidfile)!r}, 'w').write(str(p.pid)); print('spawned', flush=True)")
    t0 = time.monotonic()
    try:
        res, _ = run(wf, reg, tmp_path)
        took = time.monotonic() - t0
        assert res.state == RunState.SUCCEEDED
        assert res.nodes["spawner"].outputs["stdout"] == "spawned\n"
        assert took < 10, f"the run waited {took:.1f} s for the left-behind process"
    finally:
        if pidfile.exists():
            pid = int(pidfile.read_text())
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_retry_that_prints_nothing_leaves_no_log_of_the_attempt_before(reg, tmp_path):
    marker = tmp_path / "failed-once"
    wf = Workflow()
    node = add(wf, reg, ("test", "PyCmd"), name="c",
               code=f"import os, sys\nif not os.path.exists({str(marker)!r}):\n"
                    f"    open({str(marker)!r}, 'w').close(); print('first try', file=sys.stderr); sys.exit(1)")
    node.set_settings({"max_retries": 1, "retry_interval_s": 0})
    res, ev = run(wf, reg, tmp_path, clock=ManualClock())
    assert res.nodes["c"].state == NodeState.SUCCEEDED and res.nodes["c"].attempts == 2
    retrying = ev.of(EventKind.NODE_RETRYING, "c")[0]
    assert "first try" in [e.data["line"] for e in ev.of(EventKind.NODE_LOG, "c") if e.attempt == 1]
    assert not os.path.exists(retrying.data["stderr_path"]), "attempt 2 would show attempt 1's stderr"


def test_a_program_that_cannot_start_leaves_why_in_its_stderr_file(reg, tmp_path):
    wf = Workflow()
    add(wf, reg, ("shell", "Command"), name="c", command="/no/such/program-xyz", args=[])
    res, ev = run(wf, reg, tmp_path)
    assert res.nodes["c"].state == NodeState.FAILED
    failed = ev.of(EventKind.NODE_FAILED, "c")[0]
    assert "/no/such/program-xyz" in open(failed.data["stderr_path"]).read()


def test_a_capture_that_keeps_only_the_end_still_writes_the_whole_log(tmp_path):
    import subprocess
    import sys

    from nodeflow.executors.capture import TAIL_BYTES, OutputCapture

    folder = tmp_path / "node"
    cap = OutputCapture(str(folder), lambda p: os.makedirs(p, exist_ok=True), keep_all=False)
    out, err = cap.open_pipes()
    code = ("import sys\nfor i in range(40000): sys.stderr.write(f'line {i}\\n')\n"
            "sys.stderr.write('the last words\\n')")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=out, stderr=err)
    cap.started()
    assert cap.pump(proc) == 0
    whole = (folder / "stderr.txt").read_text()
    assert whole.startswith("line 0\n") and whole.endswith("line 39999\nthe last words\n")
    kept = cap.text("stderr")
    assert kept.endswith("the last words\n") and TAIL_BYTES <= len(kept) < len(whole)
    assert not (folder / "stdout.txt").exists()
