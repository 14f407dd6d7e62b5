"""``SlurmExecutor``: nodes as Slurm jobs, over SSH or on a login node (executor protocol of base).

* ``submit(specs)`` – job folders ``<workdir>/<run_id>/<node dir>/`` and ONE
  submit script per batch (submit.py); job ids are known when it returns, so
  the scheduler journals them at once (``journal_record``). A batch cut off
  by a timeout or a lost connection leaves *unresolved* jobs that the poll
  cycles settle — never submitted twice, never failed on a guess.
* ``poll(handles)`` – at most one query per poll cycle (one ``squeue`` for the
  whole run, the unfinished jobs' log sizes and status files, see status.py),
  cycles spaced by ``Backoff`` (``poll_interval()`` says when the next is due);
  logs of running jobs tailed over SFTP in the same cycle; finished jobs'
  logs and results fetched into the local node folder, then forgotten.
* ``cancel(handles)`` – one ``scancel`` for all of them (owed to the next
  cycle if the connection is down). ``attach(spec, record)`` – take over a
  job journaled by an earlier process of the same run.
* A dropped connection is re-made with back-off (transport.py); after
  ``reconnect_give_up_s`` the live nodes fail (their jobs keep running:
  ``nodeflow run --attach RUN_ID`` picks them up later).
"""
from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any, Callable, Mapping

from ...engine.scheduler import node_dirname
from ..base import FAILED, RUNNING, TaskResult, TaskSpec, TaskStatus
from .errors import CommandTimeout, TransportError
from .jobfiles import RemoteLogs, fetch_result, final_status
from .profile import JobResources, ProfileError, SlurmProfile
from .script import STATUS_FILE, q
from .status import FINAL_STATES, Backoff, decide, parse_poll_output, parse_squeue_lines, parse_status_file, \
    render_poll_script
from .submit import CONNECT_WAIT_S, SlurmJob, Submitter, _reason, local_dir
from .transport import Transport, make_transport

__all__ = ["SlurmExecutor", "SlurmJob"]


class SlurmExecutor:
    name = "slurm"

    def __init__(self, profile: SlurmProfile, *, transport: Transport | None = None, registry=None):
        self.profile = profile
        self.name = f"slurm:{profile.name}"
        self.max_in_flight = profile.max_in_flight
        self.max_concurrency = profile.max_in_flight or 10_000
        self.transport = transport if transport is not None else make_transport(profile)
        self._registry = registry
        self._notify: Callable[[], None] = lambda: None
        self._live: dict[SlurmJob, None] = {}
        self._changes: list[tuple[SlurmJob, TaskStatus]] = []
        self._cancel_owed: set[str] = set()
        self._backoff = Backoff(profile.poll_min_s, profile.poll_cap_s)
        self._next_poll = 0.0
        self._workdir: str | None = None
        self.stats: Counter = Counter()  # polls, squeue, sbatch, adopted, submit_batches, unresolved, resolved
        self._submitter = Submitter(profile, self.transport, self.name, self.stats, self._fail_now)

    @classmethod
    def from_profile(cls, name: str, profile: Mapping[str, Any], *, registry=None, transport=None):
        return cls(SlurmProfile.from_dict(name, profile), registry=registry, transport=transport)

    # -- lifecycle ----------------------------------------------------------------------
    def start(self, notify: Callable[[], None]) -> None:
        self._notify = notify

    def close(self) -> None:
        """Disconnect. Jobs on the cluster keep running (``cancel`` stops them)."""
        self.transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def workdir(self) -> str:
        """The profile's work folder as an absolute path on the cluster (asks for the home once)."""
        if self._workdir is None:
            w = self.profile.workdir
            if not w.startswith("/"):
                home = self.transport.home().rstrip("/")
                w = home if w in ("~", ".") else f"{home}/{w[2:] if w.startswith('~/') else w}"
            self._workdir = w
        return self._workdir

    # -- submit -------------------------------------------------------------------------
    def submit(self, specs: list[TaskSpec]) -> list[SlurmJob]:
        jobs = [SlurmJob(spec, node_dirname(spec.node)) for spec in specs]
        ready = []
        for job in jobs:
            self._live[job] = None
            try:
                job.resources = JobResources.of(self.profile, job.spec.resources, job.spec.node)
                ready.append(job)
            except ProfileError as e:
                self._fail_now(job, str(e), "config")
        if ready:
            try:
                self.transport.wait_connected(CONNECT_WAIT_S)
                workdir = self.workdir()
            except TransportError as e:
                for job in ready:
                    self._fail_now(job, str(e), _reason(e))
            else:
                by_run: dict[str, list[SlurmJob]] = {}
                for job in ready:
                    job.run_dir = f"{workdir}/{job.spec.run_id}"
                    by_run.setdefault(job.spec.run_id, []).append(job)
                for run_jobs in by_run.values():
                    self._submitter.submit(run_jobs)
        self._backoff.reset()
        self._next_poll = time.monotonic() + self._backoff.current
        return jobs

    def journal_record(self, job: SlurmJob) -> dict | None:
        if job.job_id is None:
            return None
        return {"job_id": job.job_id, "workdir": job.remote_dir, "profile": self.profile.name,
                "extra": {"partition": job.resources.partition if job.resources else None,
                          "resources": dict(job.spec.resources), "kind": job.spec.kind,
                          "local_workdir": str(job.local_dir) if job.local_dir else None}}

    def attach(self, spec: TaskSpec, record: Mapping[str, Any]) -> SlurmJob:
        remote = str(record.get("workdir") or "").rstrip("/")
        run_dir, _, dirname = remote.rpartition("/")
        job = SlurmJob(spec, dirname or node_dirname(spec.node), run_dir, job_id=str(record["job_id"]))
        self._live[job] = None
        try:
            job.resources = JobResources.of(self.profile, spec.resources, spec.node)
        except ProfileError:
            job.resources = JobResources()
        job.local_dir = local_dir(spec, job.dirname)
        job.logs = RemoteLogs(job.local_dir, job.remote_dir)
        self.stats["attached"] += 1
        self._backoff.reset()
        self._next_poll = 0.0  # look at it at once
        self._notify()
        return job

    # -- poll ---------------------------------------------------------------------------
    def poll_interval(self) -> float:
        if self._changes:
            return 0.001
        if not any(j.job_id or j.unresolved for j in self._live):
            return 0.0
        return max(0.01, self._next_poll - time.monotonic())

    def poll(self, handles) -> dict[SlurmJob, TaskStatus]:
        out: dict[SlurmJob, TaskStatus] = {}
        for job, st in self._changes:
            out[job] = st
        self._changes.clear()
        now = time.monotonic()
        live = [j for j in self._live if (j.job_id or j.unresolved) and not j.finished]
        if not live or now < self._next_poll:
            return out
        try:
            self.transport.ensure_connected()
            snap = self._query(live)
        except TransportError as e:
            self._connection_trouble(e, live, out)
            return out
        changed = False
        unresolved = [j for j in live if j.unresolved]
        if unresolved:
            for job, st in self._submitter.resolve(unresolved, snap).items():
                self._live.pop(job, None)
                out[job] = st
            for job in unresolved:
                if job.job_id and job.cancel_requested:
                    self._cancel_owed.add(job.job_id)
            changed = any(not j.unresolved for j in unresolved)
        for index, job in enumerate(live):
            if job.unresolved or job.finished or not job.job_id:
                continue
            try:
                st = self._update(job, index, snap, now)
            except TransportError as e:  # e.g. lost while fetching a result: this job is looked at again
                self._connection_trouble(e, [j for j in live if not j.finished], out)
                return out
            except Exception as e:  # never lose a task (or the run) to a bug or a disk error here
                job.finished = True
                self._live.pop(job, None)
                st = TaskStatus(FAILED, TaskResult(False, error=f"executor error: {type(e).__name__}: {e}"),
                                reason="executor", job_id=job.job_id)
            if st is not None:
                out[job] = st
                changed = True
        if changed:
            self._backoff.reset()
        else:
            self._backoff.grow()
        self._next_poll = time.monotonic() + self._backoff.current
        return out

    def _query(self, live: list[SlurmJob]):
        logs = [p for job in live for p in job.logs.remote_paths()]
        status_paths = [f"{job.remote_dir}/{STATUS_FILE}" for job in live]
        run_ids = sorted({j.spec.run_id for j in live})
        rows = self.transport.job_table(run_ids)
        owed = sorted(self._cancel_owed)
        files, locks = self._submitter.probes([j for j in live if j.unresolved])
        res = self.transport.run(render_poll_script(run_ids, logs, status_paths, owed, squeue=rows is None,
                                                    unresolved=files, locks=locks))
        self._cancel_owed.difference_update(owed)
        self.stats["polls"] += 1
        snap = parse_poll_output(res.stdout, res.stderr)
        if rows is not None:
            snap.jobs = parse_squeue_lines(rows)
        else:
            self.stats["squeue"] += 1
        if not snap.complete:
            snap.jobs, snap.statuses, snap.jobids, snap.refused, snap.unlocked = None, {}, {}, {}, set()
        return snap

    def _update(self, job: SlurmJob, index: int, snap, now: float) -> TaskStatus | None:
        row = snap.jobs.get(job.job_id) if snap.jobs is not None else None
        status = parse_status_file(snap.statuses[index]) if index in snap.statuses else None
        if status is None and snap.jobs is not None and (row is None or row[0] in FINAL_STATES):
            job.waiting_since = job.waiting_since or now
        grace_over = job.waiting_since is not None and now - job.waiting_since >= self.profile.status_grace_s
        d = decide(job.job_id, row, snap.jobs is not None, status, job.cancel_requested, grace_over)
        if d.state in ("succeeded", "failed", "cancelled"):
            return self._finish(job, d, status, snap.sizes)
        lines = job.logs.pull(self.transport, snap.sizes) if d.state == "running" and job.logs.grew(snap.sizes) \
            else []
        if d.state == "running" and job.state != RUNNING:
            job.state = RUNNING
            job.host = (row[1] if row else "") or None
            return TaskStatus(RUNNING, new_log=lines, host=job.host, job_id=job.job_id, started_at=time.time())
        if lines:
            return TaskStatus(RUNNING, new_log=lines, job_id=job.job_id)
        return None

    def _finish(self, job: SlurmJob, d, status: dict | None, sizes: dict[str, int]) -> TaskStatus:
        """Fetch the rest of the logs (and a Python node's result), then forget the job.

        The logs' sizes of this cycle are final once the job wrote its status (only what grew is
        fetched); a job Slurm killed may get Slurm's last words appended later: fetch it all.
        A TransportError here leaves the job live: the next cycle fetches again."""
        exited = status is not None and d.reason in (None, "FAILED")
        lines = job.logs.pull(self.transport, sizes if exited else None, final=True)
        result = None
        if job.spec.kind != "command" and d.state != "cancelled":
            result = fetch_result(self.transport, job.remote_dir, job.local_dir)
        if status is not None:
            (job.local_dir / STATUS_FILE).write_text(json.dumps(status))
        job.finished = True
        self._live.pop(job, None)
        host = job.host or (status or {}).get("host") or None
        return final_status(job.spec.kind, job.job_id, d, status, job.logs, result, lines, host)

    def _connection_trouble(self, e: TransportError, live: list[SlurmJob], out: dict) -> None:
        if isinstance(e, CommandTimeout):  # a poll never takes that long: trust this connection no more
            self.transport.close()
        lost = self.transport.lost_since
        give_up = not e.retryable or (lost is not None and
                                      time.monotonic() - lost > self.profile.reconnect_give_up_s)
        if give_up:
            run_ids = ", ".join(sorted({j.spec.run_id for j in live}))
            for job in live:
                job.finished = True
                self._live.pop(job, None)
                out[job] = TaskStatus(FAILED, TaskResult(False, error=(
                    f"{e} — Slurm job {job.job_id} may still be running; when the cluster is reachable again, "
                    f"finish the run with: nodeflow run FILE --attach {run_ids}")), reason=_reason(e),
                    job_id=job.job_id)
            return
        self._next_poll = time.monotonic() + max(0.5, min(self._backoff.cap, 1.0))

    # -- cancel / logs ------------------------------------------------------------------
    def cancel(self, handles) -> None:
        ids = []
        for job in handles:
            if job in self._live and not job.finished:
                job.cancel_requested = True
                if job.job_id:
                    ids.append(job.job_id)
        if not ids:
            return
        try:
            self.transport.ensure_connected()
            res = self.transport.run("scancel " + " ".join(q(i) for i in ids) + "\n")
            if res.rc != 0:
                self._cancel_owed.update(ids)
        except TransportError:
            self._cancel_owed.update(ids)  # sent with the next poll
        self._backoff.reset()
        self._next_poll = time.monotonic() + self._backoff.minimum

    def logs(self, job: SlurmJob) -> tuple[str, str]:
        if job.logs is None:
            return "", ""
        return job.logs.text("stdout"), job.logs.text("stderr")

    # -- helpers ------------------------------------------------------------------------
    def _fail_now(self, job: SlurmJob, message: str, reason: str) -> None:
        job.finished = True
        self._live.pop(job, None)
        self._changes.append((job, TaskStatus(FAILED, TaskResult(False, error=message), reason=reason)))
        self._notify()
