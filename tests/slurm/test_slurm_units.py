"""Slurm executor pieces without a cluster: profiles, scripts (run by bash here), squeue/status parsing, back-off.

These complement — never replace — the real-cluster tests in this folder.
The job and submit scripts are executed for real by bash (with a stand-in
``sbatch`` on PATH for the submit script), so quoting and the status file are
checked by running them, not by reading them.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nodeflow.executors.base import TaskSpec
from nodeflow.executors.slurm import JobResources, ProfileError, SlurmExecutor, SlurmProfile
from nodeflow.executors.slurm.script import (SubmitEntry, parse_submit_output, render_job_script,
                                             render_submit_script, worker_argv)
from nodeflow.executors.slurm.status import (Backoff, decide, parse_poll_output, parse_squeue_lines,
                                             parse_status_file, render_poll_script)
from nodeflow.executors.slurm.errors import CommandTimeout, TransportError
from nodeflow.executors.slurm.transport import Completed, Transport

NASTY = ["it's", 'say "hi"', "$HOME", "`id`", "$(id)", "a;b", "c && d", "x|y", "*", "-n", "back\\slash",
         "two\nlines", "", " spaced ", "ünï"]


def prof(**kw) -> SlurmProfile:
    d = {"host": "login.example.org", "user": "me", "key_file": "~/.ssh/id_ed25519"}
    d.update(kw)
    return SlurmProfile.from_dict("t", d)


# ------------------------------------------------------------------------------- profiles

def test_profile_defaults_and_validation():
    p = prof(partition="debug", time_limit="1:00:00", memory="4G", cpus=2, gres="gpu:a100:1",
             extra_sbatch=["#SBATCH --constraint=avx2", "--exclusive"], setup=["module load foo"], colour="red")
    assert (p.port, p.workdir, p.python, p.transport, p.use_agent) == (22, "nodeflow-runs", "python3", "ssh", False)
    assert p.extra_sbatch == ("--constraint=avx2", "--exclusive")
    assert p.unknown_keys == ("colour",)
    assert prof(key_file=None).use_agent  # no key file: the agent
    for bad, msg in [({"host": None}, "host"), ({"partition": "debug; rm -rf ~"}, "partition"),
                     ({"time_limit": "soon"}, "time_limit"), ({"memory": "lots"}, "memory"),
                     ({"cpus": 0}, "cpus"), ({"transport": "telnet"}, "transport"),
                     ({"jump_host": "me@:x"}, "jump_host"), ({"extra_sbatch": ["echo hi"]}, "extra_sbatch"),
                     ({"setup": ["a\nb"]}, "setup"), ({"port": 70000}, "port"),
                     ({"key_file": None, "use_agent": False}, "key_file")]:
        with pytest.raises(ProfileError, match=msg):
            prof(**bad)
    assert SlurmProfile.from_dict("l", {"transport": "local"}).host is None  # a login node needs no host


def test_node_resources_override_the_profile_and_are_checked():
    p = prof(partition="debug", time_limit="10", extra_sbatch=["--exclusive"])
    r = JobResources.of(p, {"partition": "gpu", "cpus": 4, "memory": 2000, "extra_sbatch": ["--constraint=x"],
                            "tags": ["ignored"]})
    assert r.sbatch_options() == ["--partition=gpu", "--time=10", "--cpus-per-task=4", "--mem=2000",
                                  "--exclusive", "--constraint=x"]
    with pytest.raises(ProfileError, match="node 'n' resources: 'partition'"):
        JobResources.of(p, {"partition": "a b"}, "n")


# ------------------------------------------------------------------------------- job script

def test_job_script_rendering_recorded():
    text = render_job_script(run_id="20260101-000000-abcdef", node="my node", attempt=2, argv=["echo", "it's"],
                             env={"GREETING": "a b"}, resources=JobResources(partition="debug", time_limit="5"),
                             setup=["module load gcc"])
    head = text.splitlines()[:9]
    assert head == ["#!/bin/bash",
                    "#SBATCH --job-name=20260101-000000-abcdef",
                    "#SBATCH --output=stdout.txt",
                    "#SBATCH --error=stderr.txt",
                    "#SBATCH --partition=debug",
                    "#SBATCH --time=5",
                    '# nodeflow job: node "my node", attempt 2, run 20260101-000000-abcdef',
                    "nf_sig=",
                    "trap 'nf_sig=TERM' TERM"]
    assert "module load gcc\nexport GREETING='a b'\n" in text
    assert "\n'echo' 'it'\"'\"'s' </dev/null &\n" in text or "\necho 'it'\"'\"'s' </dev/null &\n" in text
    assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0
    assert worker_argv("/opt/py env/bin/python -X utf8") == ["/opt/py", "env/bin/python", "-X", "utf8", "-m",
                                                            "nodeflow.worker", "spec.json"]


def _run_job_script(tmp_path: Path, argv, env=None) -> tuple[subprocess.CompletedProcess, dict]:
    script = render_job_script(run_id="r", node="n", attempt=1, argv=argv, env=env, resources=JobResources())
    (tmp_path / "job.sh").write_text(script)
    p = subprocess.run(["bash", "job.sh"], cwd=tmp_path, capture_output=True)
    return p, json.loads((tmp_path / "status.json").read_text())


def test_job_script_passes_every_value_verbatim_and_writes_the_status(tmp_path):
    code = "import os, sys; print(repr(sys.argv[1:])); print(repr(os.environ['NF_V']))"
    t0 = time.time()
    p, status = _run_job_script(tmp_path, [sys.executable, "-c", code, *NASTY], {"NF_V": "$HOME `id`;'\"x"})
    assert p.returncode == 0, p.stderr
    lines = p.stdout.decode().splitlines()
    assert eval(lines[0]) == NASTY and eval(lines[1]) == "$HOME `id`;'\"x"
    assert status["exit_code"] == 0 and status["signal"] == ""
    assert t0 - 1 <= status["started_at"] <= status["finished_at"] <= time.time() + 1
    assert sorted(f.name for f in tmp_path.iterdir()) == ["job.sh", "status.json"]  # the tmp file was moved


def test_job_script_records_a_failure_and_a_termination(tmp_path):
    p, status = _run_job_script(tmp_path, ["sh", "-c", "echo oops >&2; exit 3"])
    assert p.returncode == 3 and status["exit_code"] == 3 and b"oops" in p.stderr
    (tmp_path / "status.json").unlink()
    script = render_job_script(run_id="r", node="n", attempt=1, argv=["sleep", "30"], env=None,
                               resources=JobResources())
    (tmp_path / "job.sh").write_text(script)
    proc = subprocess.Popen(["bash", "job.sh"], cwd=tmp_path, start_new_session=True)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGTERM)  # what Slurm does at a time limit or scancel: TERM to the job's processes
    assert proc.wait(timeout=10) == 128 + signal.SIGTERM
    status = parse_status_file((tmp_path / "status.json").read_text())
    assert status["signal"] == "TERM" and status["exit_code"] == 128 + signal.SIGTERM


# ------------------------------------------------------------------------------- submit script

FAKE_SBATCH = """#!/bin/sh
n=$(cat "$NF_COUNTER" 2>/dev/null || echo 100); n=$((n + 1)); echo $n > "$NF_COUNTER"
grep -q fail-me job.sh && { echo "sbatch: error: Invalid partition name specified" >&2; exit 1; }
echo "$n;cluster"
"""


def test_submit_script_submits_then_adopts_on_a_second_try(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "sbatch").write_text(FAKE_SBATCH)
    (bindir / "sbatch").chmod(0o755)
    run_dir = tmp_path / "run 'dir' $x"
    (run_dir / "a").mkdir(parents=True)
    (run_dir / "a" / "status.json").write_text("{}")  # left by an earlier attempt: must go
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "NF_COUNTER": str(tmp_path / "n")}
    entries = [SubmitEntry(0, "a", 1), SubmitEntry(1, "b", 1), SubmitEntry(2, "c", 1)]
    text = "#!/bin/sh\n# " + " ".join(NASTY) + "\n"
    script = render_submit_script(str(run_dir), entries, files=[("a/job.sh", text), ("b/job.sh", text),
                                                                ("c/job.sh", "fail-me\n")])

    def run():
        p = subprocess.run(["/bin/sh", "-s"], input=script, text=True, env=env, capture_output=True)
        return parse_submit_output(p.stdout)

    first = run()
    assert first.job_ids == {0: "101", 1: "102"} and not first.adopted
    assert "Invalid partition" in first.errors[2]
    assert not (run_dir / "a" / "status.json").exists()
    assert (run_dir / "b" / "job.sh").read_text() == text  # written by the script itself, verbatim
    again = run()  # a retry after a lost connection: nothing submitted twice
    assert again.job_ids == {0: "101", 1: "102"} and again.adopted == {0, 1}
    assert 2 in again.errors  # the refused one is tried again (it has no job): sbatch call 104
    retry = parse_submit_output(subprocess.run(["/bin/sh", "-s"], text=True, env=env, capture_output=True,
                                               input=render_submit_script(str(run_dir),
                                                                          [SubmitEntry(0, "a", 2)])).stdout)
    assert retry.job_ids == {0: "105"} and not retry.adopted  # a new attempt is a new job


# ------------------------------------------------------------------------------- status

def test_poll_script_and_recorded_output(tmp_path):
    script = render_poll_script(["r2", "r1"], ["/w/r1/a b/stdout.txt"], ["/w/r1/a b/status.json"], ["12"])
    assert "squeue -h -r -t all -u \"${USER:-$(id -un)}\" --name=r1,r2 -o '%i|%T|%N|%r'" in script
    assert script.count("squeue") == 1 and "scancel 12" in script and "'/w/r1/a b/stdout.txt'" in script
    out = ("@scancel 0\n"
           "12|CANCELLED|vm|None\n13|RUNNING|vm|None\n14_3|PENDING||Priority\n15|COMPLETING|vm|None\n"
           "@queue 0\n"
           "41|/w/r1/a b/stdout.txt\n0|/w/r1/a b/stderr.txt\n"
           '@status 0 {"exit_code": 0, "started_at": 1.0, "finished_at": 2.0, "signal": ""}\n@end\n')
    snap = parse_poll_output(out)
    assert snap.complete and snap.jobs == {"12": ("CANCELLED", "vm", "None"), "13": ("RUNNING", "vm", "None"),
                                           "14_3": ("PENDING", "", "Priority"), "15": ("COMPLETING", "vm", "None")}
    assert snap.sizes == {"/w/r1/a b/stdout.txt": 41, "/w/r1/a b/stderr.txt": 0}
    assert parse_status_file(snap.statuses[0])["finished_at"] == 2.0
    bad = parse_poll_output("@queue 1\n@end\n", "squeue: error: Invalid user\n")
    assert bad.jobs is None and bad.squeue_error == "squeue: error: Invalid user"
    assert parse_poll_output("13|RUNNING|vm|None\n").complete is False  # cut off: trust nothing
    assert parse_squeue_lines(["7|CANCELLED+|n1|None"]) == {"7": ("CANCELLED", "n1", "None")}
    # the script itself, run by sh without Slurm: statuses are read by the shell, missing ones skipped
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "status.json").write_text('{"exit_code": 3}\n')
    (tmp_path / "a" / "stdout.txt").write_text("hello\n")
    script = render_poll_script(["r"], [str(tmp_path / "a" / "stdout.txt"), str(tmp_path / "b" / "stdout.txt")],
                                [str(tmp_path / "b" / "status.json"), str(tmp_path / "a" / "status.json")],
                                squeue=False)
    snap = parse_poll_output(subprocess.run(["/bin/sh", "-s"], input=script, capture_output=True, text=True).stdout)
    assert snap.complete and snap.jobs is None
    assert snap.statuses == {1: '{"exit_code": 3}'} and snap.sizes == {str(tmp_path / "a" / "stdout.txt"): 6}


def test_status_file_parsing():
    assert parse_status_file('{"exit_code": 3, "started_at": 1.5, "finished_at": 2.5, "signal": ""}') == {
        "exit_code": 3, "started_at": 1.5, "finished_at": 2.5, "signal": ""}
    assert parse_status_file("{half") is None and parse_status_file("{}") is None


@pytest.mark.parametrize("row,status,cancel,grace,expect", [
    (("PENDING", "", "Priority"), None, False, False, ("queued", None)),
    (("CONFIGURING", "", ""), None, False, False, ("queued", None)),
    (("RUNNING", "n", ""), None, False, False, ("running", None)),
    (("COMPLETING", "n", ""), None, False, False, ("running", None)),
    (("RUNNING", "n", ""), {"exit_code": 0}, False, False, ("succeeded", None)),  # status file: done at once
    (("COMPLETED", "n", ""), {"exit_code": 0}, False, False, ("succeeded", None)),
    (("COMPLETED", "n", ""), None, False, False, ("wait", None)),  # status file may lag on NFS
    (("COMPLETED", "n", ""), None, False, True, ("succeeded", None)),
    (("FAILED", "n", ""), {"exit_code": 3}, False, False, ("failed", "FAILED")),
    (("RUNNING", "n", ""), {"exit_code": 143, "signal": "TERM"}, False, False, ("running", None)),
    (("TIMEOUT", "n", ""), {"exit_code": 143, "signal": "TERM"}, False, False, ("failed", "TIMEOUT")),
    (("TIMEOUT", "n", ""), None, False, False, ("failed", "TIMEOUT")),
    (("OUT_OF_MEMORY", "n", ""), None, False, False, ("failed", "OUT_OF_MEMORY")),
    (("NODE_FAIL", "n", ""), None, False, False, ("failed", "NODE_FAIL")),
    (("PREEMPTED", "n", ""), None, False, False, ("failed", "PREEMPTED")),
    (("BOOT_FAIL", "", ""), None, False, False, ("failed", "BOOT_FAIL")),
    (("DEADLINE", "", ""), None, False, False, ("failed", "DEADLINE")),
    (("CANCELLED", "n", ""), None, False, False, ("failed", "CANCELLED")),  # by someone else
    (("CANCELLED", "n", ""), None, True, False, ("cancelled", "cancelled")),  # by us
    (None, {"exit_code": 2}, False, False, ("failed", "FAILED")),  # left squeue: the status file decides
    (None, {"exit_code": 0}, False, False, ("succeeded", None)),
    (None, None, False, False, ("wait", None)),
    (None, None, False, True, ("failed", "LOST")),
])
def test_decide(row, status, cancel, grace, expect):
    d = decide("42", row, True, status and {"signal": "", **status}, cancel, grace)
    assert (d.state, d.reason) == expect
    if d.state == "failed":
        assert "42" in d.message and (d.reason in d.message or d.reason in ("FAILED", "LOST"))


def test_backoff_doubles_to_the_cap_and_resets():
    b = Backoff(1.0, 10.0)
    seen = []
    for _ in range(6):
        seen.append(b.current)
        b.grow()
    assert seen == [1, 2, 4, 8, 10, 10]
    b.reset()
    assert b.current == 1


# ------------------------------------------------------------------------------- executor, fake transport

class FakeCluster(Transport):
    """Answers the executor's scripts like a tiny Slurm would; counts squeue calls per script."""

    kind = "fake"

    def __init__(self, profile):
        super().__init__(profile)
        self.files: dict[str, bytes] = {}
        self.jobs: dict[str, str] = {}
        self.squeue_per_run: list[int] = []
        self.next_id = 1000
        self.time_out_submits = False
        self.remote_files: dict[str, str] = {}  # what a cut-off submit script left: jobid / sbatch.failed
        self.locked = True

    def run(self, script, *, timeout=None):
        import re

        self.counts["run"] += 1
        if "nf_submit" in script and self.time_out_submits:
            raise CommandTimeout("a command took longer than 1 s")
        if "@jobid" in script:  # a poll asking about cut-off submissions
            out = ""
            if self.locked is False:
                out += "".join(f"@unlocked {k}\n" for k in range(script.count("@unlocked")))
            for m in re.finditer(r"if \[ -s (\S+) \] && IFS= read -r nf_l < \S+; then printf '@jobid (\d+) "
                                 r"%s\\n' \"\$nf_l\"; elif \[ -s (\S+) \]", script):
                jobid, idx, failed = m.groups()
                if jobid in self.remote_files:
                    out += f"@jobid {idx} {self.remote_files[jobid]}\n"
                elif failed in self.remote_files:
                    out += f"@sbfail {idx} {self.remote_files[failed]}\n"
            rows = "".join(f"{j}|{s}|n1|None\n" for j, s in self.jobs.items())
            return Completed(0, rows + "@queue 0\n" + out + "@end\n", "")
        if "nf_submit" in script:
            lines = []
            for line in script.splitlines():
                if line.startswith("nf_submit "):
                    idx = line.split()[1]
                    self.next_id += 1
                    self.jobs[str(self.next_id)] = "PENDING"
                    lines.append(f"@ok {idx} {self.next_id}")
            return Completed(0, "\n".join(lines) + "\n", "")
        self.squeue_per_run.append(script.count("squeue "))
        rows = "".join(f"{j}|{s}|n1|None\n" for j, s in self.jobs.items())
        return Completed(0, rows + "@queue 0\n@end\n", "")

    def home(self):
        return "/home/me"

    def makedirs(self, path):
        pass

    def put_bytes(self, path, data):
        self.files[path] = data

    def get_bytes(self, path, offset=0, limit=None):
        raise FileNotFoundError(path)


def test_one_squeue_per_poll_cycle_whatever_the_number_of_jobs(tmp_path):
    p = prof(poll_min_s=0.05, poll_cap_s=0.4)
    fake = FakeCluster(p)
    ex = SlurmExecutor(p, transport=fake)
    specs = [TaskSpec("run1", f"n{i}", ("shell", "Command"), "command", argv=["true"], workdir=str(tmp_path / f"n{i}"))
             for i in range(50)]
    handles = ex.submit(specs)
    assert fake.counts["run"] == 1  # the whole batch in one script
    assert all(ex.journal_record(h)["job_id"] for h in handles)
    assert ex.poll(handles) == {}  # not due yet: no query at all
    assert fake.squeue_per_run == []
    time.sleep(ex.poll_interval())
    for j in fake.jobs:
        fake.jobs[j] = "RUNNING"
    changes = ex.poll(handles)
    assert len(changes) == 50 and {s.state for s in changes.values()} == {"running"}
    assert fake.squeue_per_run == [1]
    intervals = []
    for _ in range(4):  # nothing changes: the interval doubles up to the cap
        time.sleep(ex.poll_interval())
        assert ex.poll(handles) == {}
        intervals.append(ex._backoff.current)
    assert intervals == [0.1, 0.2, 0.4, 0.4]
    assert fake.squeue_per_run == [1] * 5 and ex.stats["polls"] == ex.stats["squeue"] == 5


def test_a_cut_off_submission_is_settled_from_what_it_left_never_guessed(tmp_path):
    p = prof(poll_min_s=0.05, poll_cap_s=0.2)
    fake = FakeCluster(p)
    ex = SlurmExecutor(p, transport=fake)
    specs = [TaskSpec("run1", n, ("shell", "Command"), "command", argv=["true"], workdir=str(tmp_path / n))
             for n in ("a", "b", "c", "d")]
    fake.time_out_submits = True  # sbatch sleeping and retrying: slurmctld is full
    handles = ex.submit(specs)
    assert [h.job_id for h in handles] == [None] * 4 and all(h.unresolved for h in handles)
    assert all(ex.journal_record(h) is None for h in handles) and ex.stats["unresolved"] == 4
    time.sleep(ex.poll_interval())
    assert ex.poll(handles) == {}  # nothing known yet: nobody is failed on a guess
    w = "/home/me/nodeflow-runs/run1"
    fake.remote_files = {f"{w}/a/jobid": "2001 1", f"{w}/b/jobid": "2002 1", f"{w}/c/sbatch.failed": "1 bad qos",
                         f"{w}/d/jobid": "1999 0"}  # d: a stale file of another attempt
    fake.jobs = {"2001": "RUNNING", "2002": "PENDING"}
    time.sleep(ex.poll_interval())
    got = ex.poll(handles)
    a, b, c, d = handles
    assert (a.job_id, b.job_id, c.job_id, d.job_id) == ("2001", "2002", None, None)
    assert got[c].state == "failed" and "bad qos" in got[c].result.error and got[c].reason == "sbatch"
    assert got[a].state == "running" and b not in got and d not in got and d.unresolved
    fake.locked = False  # the submit script is gone and d never got a job: it was not submitted
    time.sleep(ex.poll_interval())
    got = ex.poll(handles)
    assert got[d].state == "failed" and "nothing was submitted" in got[d].result.error
    assert ex.stats["resolved"] == 2 and fake.next_id == 1000  # and nothing was submitted again


def test_pyslurm_transport_explains_itself(monkeypatch):
    from nodeflow.executors.slurm.pyslurm_transport import PyslurmTransport

    monkeypatch.setitem(sys.modules, "pyslurm", None)  # not installed
    t = PyslurmTransport(SlurmProfile.from_dict("p", {"transport": "pyslurm"}))
    with pytest.raises(TransportError, match="needs pyslurm.*transport = \"local\""):
        t.ensure_connected()


def test_pyslurm_job_table_when_it_matches(monkeypatch):
    import types

    from nodeflow.executors.slurm.pyslurm_transport import PyslurmTransport

    job = types.SimpleNamespace(id=7, name="run1", state="RUNNING", state_reason=None, allocated_nodes="n1",
                                array_id=None, array_task_id=None)
    other = types.SimpleNamespace(id=8, name="other", state="PENDING", state_reason="Priority",
                                  allocated_nodes=None, array_id=None, array_task_id=None)
    fake = types.SimpleNamespace(__version__="22.5.0",
                                 Jobs=types.SimpleNamespace(load=lambda: {7: job, 8: other}))
    monkeypatch.setitem(sys.modules, "pyslurm", fake)
    t = PyslurmTransport(SlurmProfile.from_dict("p", {"transport": "pyslurm"}))
    assert t.job_table(["run1"]) == ["7|RUNNING|n1|None"]


def test_host_key_fingerprint_matches_openssh(tmp_path):
    import paramiko

    from nodeflow.executors.slurm.hostkeys import append_known_host, fingerprint, known_keys

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")], check=True)
    key = paramiko.Ed25519Key.from_private_key_file(str(tmp_path / "k"))
    ours = subprocess.run(["ssh-keygen", "-lf", str(tmp_path / "k.pub")], capture_output=True, text=True).stdout
    assert fingerprint(key) == ours.split()[1]
    kh = tmp_path / "sub" / "known_hosts"
    append_known_host(kh, "10.0.0.1", 2222, key)
    assert kh.read_text().startswith("[10.0.0.1]:2222 ssh-ed25519 ")
    assert known_keys(kh, "10.0.0.1", 2222)["ssh-ed25519"] == key and known_keys(kh, "10.0.0.1", 22) == {}
