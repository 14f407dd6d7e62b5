"""Job status for a whole run from ONE query per poll cycle, and what it means for each job.

Each poll cycle runs one script (``render_poll_script``): an optional
``scancel`` of cancels still owed, ONE ``squeue -h -r -t all -u $USER
--name=RUN_IDS -o '%i|%T|%N|%r'`` (jobs are named after their run, so this covers every job of
the run whatever their number), one ``stat`` of the unfinished jobs' logs,
and the text of the status files that exist — so log growth and finished
jobs (even those that already left squeue) are seen in that one round trip.
``parse_poll_output`` reads it back.

``decide`` maps what squeue and the job's own status file say to a task
state: PENDING/CONFIGURING → queued, RUNNING/COMPLETING → running,
COMPLETED → succeeded, FAILED/TIMEOUT/OUT_OF_MEMORY/NODE_FAIL/CANCELLED/
PREEMPTED/BOOT_FAIL/DEADLINE → failed with that state as reason. The status
file is the final word once a job has left squeue (no accounting needed); a
zero exit status in it is success at once. ``Backoff`` spaces the cycles 1,
2, 4, 8 … s up to a cap, back to the start whenever anything changes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable

from .script import q

QUEUED_STATES = frozenset({"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING",
                           "RESV_DEL_HOLD"})
RUNNING_STATES = frozenset({"RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT", "SUSPENDED", "STOPPED"})
FAILED_STATES = frozenset({"FAILED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "CANCELLED", "PREEMPTED",
                           "BOOT_FAIL", "DEADLINE", "SPECIAL_EXIT", "REVOKED"})
FINAL_STATES = FAILED_STATES | {"COMPLETED"}

_WHY = {"TIMEOUT": "reached its time limit", "OUT_OF_MEMORY": "ran out of memory", "NODE_FAIL": "lost its node",
        "CANCELLED": "was cancelled outside nodeflow", "PREEMPTED": "was preempted",
        "BOOT_FAIL": "could not be launched", "DEADLINE": "missed its deadline", "LOST": "vanished",
        "REVOKED": "was revoked", "SPECIAL_EXIT": "ended in a special exit state"}


class Backoff:
    """Seconds until the next poll: ``minimum``, doubled after each quiet cycle, at most ``cap``."""

    def __init__(self, minimum: float = 1.0, cap: float = 30.0):
        self.minimum, self.cap = minimum, max(cap, minimum)
        self.current = minimum

    def reset(self) -> None:
        self.current = self.minimum

    def grow(self) -> None:
        self.current = min(self.current * 2, self.cap)


# ------------------------------------------------------------------------------- the poll script

def render_poll_script(run_ids: Iterable[str], log_paths: Iterable[str], status_paths: Iterable[str] = (),
                       cancel_ids: Iterable[str] = (), squeue: bool = True,
                       unresolved: Iterable[tuple[str, str]] = (), locks: Iterable[str] = ()) -> str:
    """One cycle: owed scancel, ONE squeue for the runs, sizes of the logs, the status files that exist
    (read by the shell's ``read`` builtin: no process, no extra round trip). For jobs whose submission
    outcome is not known yet: their (jobid, sbatch.failed) files, and whether each submit ``locks`` file
    is free (no submit script running)."""
    lines = []
    cancel_ids = list(cancel_ids)
    if cancel_ids:
        lines.append("scancel " + " ".join(q(j) for j in cancel_ids) + " 2>&1 | tr '\\n' ' '; "
                     "echo \"@scancel $?\"")
    if squeue:
        names = ",".join(sorted(set(run_ids)))
        # -u: slurmctld filters by user itself (it would send every job of the cluster for --name alone)
        lines.append(f"squeue -h -r -t all -u \"${{USER:-$(id -un)}}\" --name={q(names)} -o '%i|%T|%N|%r'; "
                     "echo \"@queue $?\"")
    else:
        lines.append("echo @noqueue")
    log_paths = list(log_paths)
    if log_paths:
        lines.append("stat -c '%s|%n' -- " + " ".join(q(p) for p in log_paths) + " 2>/dev/null")
    for i, path in enumerate(status_paths):
        lines.append(f"if [ -f {q(path)} ] && IFS= read -r nf_l < {q(path)}; then "
                     f"printf '@status {i} %s\\n' \"$nf_l\"; fi")
    # locks first: a lock found free means the files read after it are final
    for k, lock in enumerate(locks):
        lines.append(f"if ! command -v flock >/dev/null 2>&1; then :; elif [ ! -e {q(lock)} ] || "
                     f"( flock -n 9 ) 9>>{q(lock)} 2>/dev/null; then echo '@unlocked {k}'; fi")
    for i, (jobid, failed) in enumerate(unresolved):
        lines.append(f"if [ -s {q(jobid)} ] && IFS= read -r nf_l < {q(jobid)}; then printf '@jobid {i} %s\\n' "
                     f"\"$nf_l\"; elif [ -s {q(failed)} ] && IFS= read -r nf_l < {q(failed)}; then "
                     f"printf '@sbfail {i} %s\\n' \"$nf_l\"; fi")
    lines.append("echo @end")
    return "\n".join(lines) + "\n"


@dataclass(slots=True)
class Snapshot:
    """What one poll cycle learned."""

    jobs: dict[str, tuple[str, str, str]] | None  # job id -> (STATE, nodes, reason); None when squeue failed
    sizes: dict[str, int] = field(default_factory=dict)  # log path -> bytes, for the logs that exist
    statuses: dict[int, str] = field(default_factory=dict)  # index in status_paths -> the status file's text
    jobids: dict[int, str] = field(default_factory=dict)  # index in unresolved -> "<job id> <attempt>"
    refused: dict[int, str] = field(default_factory=dict)  # index in unresolved -> "<attempt> <sbatch error>"
    unlocked: set[int] = field(default_factory=set)  # indexes of locks no submit script holds
    squeue_error: str | None = None
    complete: bool = True  # False when the output was cut off


def parse_squeue_lines(lines: Iterable[str]) -> dict[str, tuple[str, str, str]]:
    """``id|STATE|nodes|reason`` lines → {id: (STATE, nodes, reason)}."""
    jobs = {}
    for line in lines:
        parts = line.strip().split("|", 3)
        if len(parts) >= 2 and parts[0]:
            state = parts[1].strip().upper().split()[0] if parts[1].strip() else "UNKNOWN"
            state = state.rstrip("+")  # "CANCELLED+" in some outputs
            parts += [""] * (4 - len(parts))
            jobs[parts[0].strip()] = (state, parts[2].strip(), parts[3].strip())
    return jobs


def parse_poll_output(text: str, err: str = "") -> Snapshot:
    squeue_lines: list[str] = []
    snap = Snapshot(None, complete=False)
    section = "squeue"
    for line in text.splitlines():
        if line.startswith("@scancel"):
            continue
        if line.startswith("@queue") or line == "@noqueue":
            rc = line.split()[1] if len(line.split()) > 1 else None
            if rc == "0":
                snap.jobs = parse_squeue_lines(squeue_lines)
            elif rc is not None:
                snap.squeue_error = (err.strip().splitlines() or [f"squeue exited with status {rc}"])[-1]
            section = "files"
            continue
        if line == "@end":
            snap.complete = True
            break
        if section == "squeue":
            squeue_lines.append(line)
        elif line.startswith(("@status ", "@jobid ", "@sbfail ")):
            tag, idx, body = line.split(" ", 2) if line.count(" ") >= 2 else ("", "", "")
            if idx.isdigit():
                {"@status": snap.statuses, "@jobid": snap.jobids, "@sbfail": snap.refused}[tag][int(idx)] = body
        elif line.startswith("@unlocked "):
            if line[10:].strip().isdigit():
                snap.unlocked.add(int(line[10:].strip()))
        else:
            size, sep, path = line.partition("|")
            if sep and size.isdigit():
                snap.sizes[path] = int(size)
    return snap


def parse_status_file(text: str) -> dict | None:
    """The wrapper's status.json as a dict (exit_code int, times float, signal str); None if unreadable."""
    try:
        d = json.loads(text)
        d["exit_code"] = int(d["exit_code"])
    except (ValueError, KeyError, TypeError):
        return None
    for k in ("started_at", "finished_at"):
        try:
            d[k] = float(d[k]) if d.get(k) not in (None, "") else None
        except (TypeError, ValueError):
            d[k] = None
    d["signal"] = d.get("signal") or ""
    return d


# ------------------------------------------------------------------------------- deciding

@dataclass(frozen=True, slots=True)
class Decision:
    """``state``: "queued" | "running" | "succeeded" | "failed" | "cancelled" | "wait" (nothing known yet)."""

    state: str
    reason: str | None = None  # the Slurm state for failures (TaskStatus.reason)
    message: str | None = None


def decide(job_id: str, squeue: tuple[str, ...] | None, squeue_ok: bool, status: dict | None,
           cancel_requested: bool, grace_over: bool) -> Decision:
    """One job's state from squeue's row (None: not listed) and its status file (None: not there yet).

    ``grace_over``: the status file had time enough to appear on a shared file
    system since Slurm called the job finished (or since it left squeue).
    """
    state = squeue[0] if squeue else None
    if status is not None:
        rc, sig = status["exit_code"], status.get("signal") or ""
        if rc == 0 and not sig:
            return Decision("succeeded")
        if state in RUNNING_STATES or state in QUEUED_STATES or (state is None and not squeue_ok):
            return Decision("running")  # Slurm's own verdict (TIMEOUT? CANCELLED?) is a cycle away
        if state in FAILED_STATES or state is None or state == "COMPLETED":
            reason = state if state in FAILED_STATES else ("CANCELLED" if sig and cancel_requested else "FAILED")
            return _failed(job_id, reason, rc, cancel_requested)
    if state in QUEUED_STATES:
        return Decision("queued")
    if state in RUNNING_STATES:
        return Decision("running")
    if state in ("COMPLETED", "FAILED"):
        if not grace_over:
            return Decision("wait")
        if state == "COMPLETED":
            return Decision("succeeded")
        return _failed(job_id, "FAILED", None, cancel_requested)
    if state in FAILED_STATES:
        return _failed(job_id, state, None, cancel_requested)
    if state is None and squeue_ok:  # gone from Slurm's memory without a status file
        return _failed(job_id, "LOST", None, cancel_requested) if grace_over else Decision("wait")
    return Decision("wait")  # an unknown state name, or squeue failed: look again next cycle


def _failed(job_id: str, reason: str, rc: int | None, cancel_requested: bool) -> Decision:
    if cancel_requested and reason in ("CANCELLED", "LOST", "FAILED"):
        return Decision("cancelled", "cancelled", f"Slurm job {job_id} was cancelled")
    if reason == "FAILED":
        msg = f"Slurm job {job_id} failed" + (f" (exit status {rc})" if rc is not None else "")
    elif reason == "LOST":
        msg = (f"Slurm job {job_id} is no longer known to Slurm and left no status file "
               f"(killed before it could write one, or purged)")
    else:
        msg = f"Slurm job {job_id} {_WHY.get(reason, 'ended')} ({reason})"
    return Decision("failed", reason, msg)
