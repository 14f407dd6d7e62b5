"""Submitting a batch of nodes as Slurm jobs, and finding out what became of a cut-off submission.

``Submitter.submit(jobs)`` prepares each job folder locally (``job.sh``; for
Python nodes ``spec.json`` + ``.npy`` inputs, written with the remote paths),
then runs ONE submit script for the batch (script.py): small text-only
batches travel inside the script (no extra round trip), others as one tar
over SFTP. A dropped connection is re-made and the script run again — it
adopts what the cut-off try already submitted. When a try times out (sbatch
sleeps and retries while slurmctld is full, MaxJobCount) or the connection
cannot be re-made, the script goes on by itself on the cluster (it ignores
SIGHUP); its jobs are *unresolved*: no job id yet, never reported failed on
a guess. ``Submitter.resolve`` settles them from a poll cycle's snapshot:
their ``jobid`` file (submitted), ``sbatch.failed`` (refused), or a free
submit lock with neither (the script died: nothing was submitted).
"""
from __future__ import annotations

import dataclasses
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable

from ..base import FAILED, QUEUED, TaskResult, TaskSpec, TaskStatus
from .errors import CommandTimeout, TransportError
from .jobfiles import RemoteLogs, bundle
from .profile import JobResources, ProfileError, SlurmProfile
from .script import FAILED_FILE, JOB_SCRIPT, JOBID_FILE, LOCK_FILE, SubmitEntry, parse_submit_output, \
    render_job_script, render_submit_script, worker_argv

SUBMIT_TRIES = 3
INLINE_MAX = 256 * 1024  # job files up to this size (text only) go inside the submit script
CONNECT_WAIT_S = 15.0  # 1 + 2 + 4 + 8: the whole back-off schedule once


@dataclasses.dataclass(eq=False)
class SlurmJob:
    """A handle: one node attempt as one Slurm job."""

    spec: TaskSpec
    dirname: str
    run_dir: str = ""
    job_id: str | None = None
    state: str = QUEUED  # last task state handed out
    cancel_requested: bool = False
    finished: bool = False
    unresolved: bool = False  # submitted by a script that was cut off: job id not known yet
    waiting_since: float | None = None  # monotonic: Slurm says finished / forgot it, status file not seen yet
    resources: JobResources | None = None
    logs: RemoteLogs | None = None
    local_dir: Path | None = None
    submitted_at: float | None = None
    host: str | None = None  # the node(s) it runs on, as squeue says

    @property
    def remote_dir(self) -> str:
        return f"{self.run_dir}/{self.dirname}"

    def __repr__(self) -> str:
        return f"<SlurmJob {self.spec.node!r} attempt {self.spec.attempt} job {self.job_id}>"


def local_dir(spec: TaskSpec, dirname: str) -> Path:
    """The node's folder on this machine: the run folder's, or a temporary one."""
    if spec.workdir:
        return Path(spec.workdir)
    return Path(tempfile.gettempdir()) / "nodeflow-slurm" / spec.run_id / dirname


class Submitter:
    def __init__(self, profile: SlurmProfile, transport, executor_name: str, stats,
                 fail: Callable[[SlurmJob, str, str], None]):
        self.profile, self.transport, self.executor_name, self.stats = profile, transport, executor_name, stats
        self._fail = fail  # (job, message, reason): report the job failed at the next poll
        self._made_dirs: set[str] = set()

    def prepare(self, job: SlurmJob) -> list[tuple[str, bytes]]:
        """Write the job's files in its local folder; (path in the run folder, bytes) to send."""
        spec = job.spec
        local = job.local_dir = local_dir(spec, job.dirname)
        local.mkdir(parents=True, exist_ok=True)
        files = []
        if spec.kind == "command":
            argv, env = list(spec.argv or []), dict(spec.env)
        else:
            remote = dataclasses.replace(spec, workdir=job.remote_dir, cwd=job.remote_dir, executor=self.executor_name)
            for old in local.glob("array*.npy"):
                old.unlink()
            remote.write(local)
            files.append((f"{job.dirname}/spec.json", (local / "spec.json").read_bytes()))
            files += [(f"{job.dirname}/{p.name}", p.read_bytes()) for p in sorted(local.glob("array*.npy"))]
            argv, env = worker_argv(self.profile.python), {}
        text = render_job_script(run_id=spec.run_id, node=spec.node, attempt=spec.attempt, argv=argv, env=env,
                                 resources=job.resources, setup=self.profile.setup)
        (local / JOB_SCRIPT).write_text(text)
        files.append((f"{job.dirname}/{JOB_SCRIPT}", text.encode("utf-8")))
        job.logs = RemoteLogs(local, job.remote_dir)
        return files

    def submit(self, jobs: list[SlurmJob]) -> None:
        """Submit jobs of ONE run folder; each ends with a job id, unresolved, or reported failed."""
        files, ok = [], []
        for job in jobs:
            try:
                files += self.prepare(job)
                ok.append(job)
            except (ProfileError, OSError, ValueError, TypeError) as e:
                self._fail(job, f"cannot prepare the job: {e}", "config")
        if not ok:
            return
        run_dir = ok[0].run_dir
        entries = [SubmitEntry(i, j.dirname, j.spec.attempt) for i, j in enumerate(ok)]
        inline = sum(len(d) for _, d in files) <= INLINE_MAX and not any(n.endswith(".npy") for n, _ in files)
        tar_name = None if inline else f".nodeflow-submit-{uuid.uuid4().hex[:12]}.tar"
        if inline:  # small text files ride in the script itself: one round trip for the whole batch
            script = render_submit_script(run_dir, entries, files=[(n, d.decode("utf-8")) for n, d in files])
        else:
            data = bundle(files)
            script = render_submit_script(run_dir, entries, tar_name=tar_name)
        timeout = self.profile.command_timeout_s + 0.5 * len(ok)
        for attempt in range(SUBMIT_TRIES):
            try:
                if tar_name:
                    if run_dir not in self._made_dirs:
                        self.transport.makedirs(run_dir)
                        self._made_dirs.add(run_dir)
                    self.transport.put_bytes(f"{run_dir}/{tar_name}", data)
                result = self.transport.run(script, timeout=timeout)
                break
            except CommandTimeout:  # the script goes on by itself on the cluster
                return self._unresolved(ok)
            except TransportError as e:
                if not e.retryable:
                    return self._fail_all(ok, f"could not submit: {e}", _reason(e))
                if attempt == SUBMIT_TRIES - 1:
                    return self._unresolved(ok)
                try:  # the next try adopts whatever this one managed to submit
                    self.transport.wait_connected(CONNECT_WAIT_S)
                except TransportError as e2:
                    return self._unresolved(ok) if e2.retryable else \
                        self._fail_all(ok, f"could not submit: {e2}", _reason(e2))
            except OSError as e:
                return self._fail_all(ok, f"could not upload the job files to {run_dir}: {e}", "upload")
        self.stats["submit_batches"] += 1
        outcome = parse_submit_output(result.stdout)
        now = time.time()
        for i, job in enumerate(ok):
            if i in outcome.job_ids:
                job.job_id, job.submitted_at = outcome.job_ids[i], now
                self.stats["adopted" if i in outcome.adopted else "sbatch"] += 1
            else:
                why = outcome.errors.get(i) or outcome.fatal or (result.stderr.strip().splitlines() or
                                                                 [f"the submit script exited with {result.rc}"])[-1]
                self._fail(job, f"sbatch refused the job: {why}", "sbatch")

    def _unresolved(self, jobs: list[SlurmJob]) -> None:
        for job in jobs:
            job.unresolved = True
            job.submitted_at = time.time()
        self.stats["unresolved"] += len(jobs)

    def _fail_all(self, jobs: list[SlurmJob], message: str, reason: str) -> None:
        for job in jobs:
            self._fail(job, message, reason)

    # -- settling unresolved jobs --------------------------------------------------------
    @staticmethod
    def probes(jobs: list[SlurmJob]) -> tuple[list[tuple[str, str]], list[str]]:
        """What the poll script must look at for these unresolved jobs: their files, their runs' locks."""
        files = [(f"{j.remote_dir}/{JOBID_FILE}", f"{j.remote_dir}/{FAILED_FILE}") for j in jobs]
        locks = sorted({f"{j.run_dir}/{LOCK_FILE}" for j in jobs})
        return files, locks

    def resolve(self, jobs: list[SlurmJob], snap) -> dict[SlurmJob, TaskStatus]:
        """Settle what the snapshot tells; returns the jobs that failed (the rest got an id or still wait)."""
        _, locks = self.probes(jobs)
        out = {}
        for i, job in enumerate(jobs):
            jobid = snap.jobids.get(i, "").split()
            refused = snap.refused.get(i, "").split(" ", 1)
            if len(jobid) == 2 and jobid[1] == str(job.spec.attempt):
                job.job_id, job.unresolved = jobid[0], False
                self.stats["resolved"] += 1
            elif refused[0] == str(job.spec.attempt):
                job.finished, job.unresolved = True, False
                out[job] = TaskStatus(FAILED, TaskResult(False, error="sbatch refused the job: "
                                                         + (refused[1] if len(refused) > 1 else "")), reason="sbatch")
            elif locks.index(f"{job.run_dir}/{LOCK_FILE}") in snap.unlocked:
                job.finished, job.unresolved = True, False
                out[job] = TaskStatus(FAILED, TaskResult(False, error=(
                    "the submission was cut off before sbatch ran for this node: nothing was submitted")),
                    reason="sbatch")
        return out


def _reason(e: TransportError) -> str:
    return {"HostKeyError": "hostkey", "AuthError": "auth"}.get(type(e).__name__, "connection")
