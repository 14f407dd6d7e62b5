"""Shell text the Slurm executor sends: the job script of a node and the batch-submit script.

Job script (``job.sh`` in the node's job folder ``<workdir>/<run_id>/<node dir>/``)::

    #!/bin/bash
    #SBATCH --job-name=<run id>          one squeue --name query covers the run
    #SBATCH --output=stdout.txt / --error=stderr.txt   (relative: sbatch runs in the folder)
    #SBATCH --partition=… --time=… …     from JobResources (validated plain tokens)
    <setup lines>                         the profile's, verbatim (module load …)
    export NAME='value'                   command nodes' environment, quoted
    '<argv0>' '<argv1>' … </dev/null &    every element through shlex.quote
    wait …; write status.json             exit code, start/end times, signal — tmp file then mv

The wrapper traps TERM/INT (Slurm's cancel and time limit), waits for the
command and still records how it ended. Command nodes need nothing of
nodeflow on the cluster; Python nodes run ``<python> -m nodeflow.worker
spec.json``.

Submit script (one ``/bin/sh -s`` per batch): creates the job folders and
writes their (text) files itself, or unpacks a tar uploaded over SFTP when a
batch carries arrays (``.npy``) or is large; then per node either *adopts* the job a previous try of the same
attempt already submitted (its ``jobid`` file says so — a connection lost in
the middle of a batch never submits twice) or cleans the folder and runs
``sbatch --parsable job.sh``, leaving ``jobid`` or ``sbatch.failed`` behind.
It ignores SIGHUP and holds a lock, so a batch cut off by a dropped
connection (or by a timeout: sbatch sleeps and retries while slurmctld is
full) finishes on its own, and a poll cycle can tell from those files and
the lock what became of each job.
"""
from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Iterable, Mapping

from .profile import JobResources, ProfileError, env_name_ok

STATUS_FILE = "status.json"
JOB_SCRIPT = "job.sh"
JOBID_FILE = "jobid"
FAILED_FILE = "sbatch.failed"  # "<attempt> <sbatch's error>" when sbatch refused the job
LOCK_FILE = ".nodeflow-submit.lock"
#: files a new attempt must not see from an earlier one
STALE_FILES = (STATUS_FILE, STATUS_FILE + ".tmp", "result.json", "stdout.txt", "stderr.txt", JOBID_FILE,
               "sbatch.err", FAILED_FILE)


def q(value: str) -> str:
    return shlex.quote(str(value))


def render_job_script(*, run_id: str, node: str, attempt: int, argv: list[str], env: Mapping[str, str] | None,
                      resources: JobResources, setup: Iterable[str] = ()) -> str:
    if not argv:
        raise ProfileError(f"node {node!r}: nothing to run (empty command)")
    for name in env or {}:
        if not env_name_ok(name):
            raise ProfileError(f"node {node!r}: {name!r} is not a valid environment variable name")
    lines = ["#!/bin/bash",
             f"#SBATCH --job-name={run_id}",
             "#SBATCH --output=stdout.txt",
             "#SBATCH --error=stderr.txt"]
    lines += [f"#SBATCH {opt}" for opt in resources.sbatch_options()]
    lines += [f"# nodeflow job: node {json.dumps(node)}, attempt {int(attempt)}, run {run_id}",
              "nf_sig=",
              "trap 'nf_sig=TERM' TERM",
              "trap 'nf_sig=INT' INT",
              "nf_status() {",
              "    printf '{\"exit_code\": %s, \"started_at\": %s, \"finished_at\": %s, \"signal\": \"%s\", "
              "\"job_id\": \"%s\", \"host\": \"%s\"}\\n' \"$1\" \"$2\" \"$(date +%s.%N)\" \"$nf_sig\" "
              "\"${SLURM_JOB_ID:-}\" \"$(hostname)\" > status.json.tmp && mv -f status.json.tmp status.json",
              "}"]
    if setup:
        lines.append("# set-up lines of the profile")
        lines += list(setup)
    for name, value in (env or {}).items():
        lines.append(f"export {name}={q(value)}")
    lines += ["nf_start=$(date +%s.%N)",
              " ".join(q(a) for a in argv) + " </dev/null &",
              "nf_pid=$!",
              # a trapped signal interrupts wait: wait again until the command is really gone
              "while :; do wait \"$nf_pid\"; nf_rc=$?; kill -0 \"$nf_pid\" 2>/dev/null || break; done",
              "nf_status \"$nf_rc\" \"$nf_start\"",
              "exit \"$nf_rc\"",
              ""]
    return "\n".join(lines)


def worker_argv(python: str, spec_name: str = "spec.json") -> list[str]:
    """``<python> -m nodeflow.worker spec.json``; the profile's python may be several words."""
    return [*shlex.split(python), "-m", "nodeflow.worker", spec_name]


@dataclass(frozen=True, slots=True)
class SubmitEntry:
    index: int
    dirname: str  # the node's folder inside the run folder (safe characters only)
    attempt: int


def render_submit_script(run_dir: str, entries: Iterable[SubmitEntry], *, tar_name: str | None = None,
                         files: Iterable[tuple[str, str]] = ()) -> str:
    """The batch-submit script. Job files come either in ``tar_name`` (uploaded beside, over SFTP) or as
    ``files`` — (path in the run folder, text) written by the shell itself (no extra round trip)."""
    entries = list(entries)
    fatal = "{ echo " + q("@fatal cannot prepare the run folder " + run_dir) + "; exit 0; }"
    lines = ["set -u",
             "trap '' HUP PIPE",
             "mkdir -p -- " + " ".join(q(f"{run_dir}/{e.dirname}") for e in entries) + " || " + fatal,
             f"cd {q(run_dir)} || " + fatal,
             f"if command -v flock >/dev/null 2>&1; then exec 8>{LOCK_FILE}; flock -w 300 8; fi"]
    if tar_name:
        lines.append(f"tar -xf {q(tar_name)} && rm -f {q(tar_name)} || "
                     f"{{ echo '@fatal cannot unpack the uploaded job folders'; exit 0; }}")
    for path, text in files:  # printf is a builtin: no process per file
        lines.append(f"printf '%s' {q(text)} > {q(path)} || " + fatal)
    lines += [f"nf_run={q(run_dir)}",
              "nf_nl='\n'",  # a newline, without a subshell
              "nf_submit() {",
              "  cd \"$nf_run/$2\" || { printf '@err %s cannot enter folder %s\\n' \"$1\" \"$2\"; return; }",
              f"  if [ -s {JOBID_FILE} ] && read -r nf_j nf_a < {JOBID_FILE} && [ \"$nf_a\" = \"$3\" ]; then",
              "    printf '@adopt %s %s\\n' \"$1\" \"$nf_j\"; return",
              "  fi",
              "  for nf_f in " + " ".join(STALE_FILES) + "; do",
              "    if [ -e \"$nf_f\" ]; then rm -f " + " ".join(STALE_FILES) + "; break; fi",
              "  done",
              f"  if nf_j=$(sbatch --parsable {JOB_SCRIPT} 2>sbatch.err); then",
              "    nf_j=${nf_j##*\"$nf_nl\"}; nf_j=${nf_j%%;*}",
              # one small write under the lock: no reader sees it half-written
              f"    printf '%s %s\\n' \"$nf_j\" \"$3\" > {JOBID_FILE}",
              "    printf '@ok %s %s\\n' \"$1\" \"$nf_j\"",
              "  else",
              "    nf_e=$(tr '\\n' ' ' < sbatch.err)",
              f"    printf '%s %s\\n' \"$3\" \"$nf_e\" > {FAILED_FILE}",
              "    printf '@err %s %s\\n' \"$1\" \"$nf_e\"",
              "  fi",
              "}"]
    for e in entries:
        lines.append(f"nf_submit {int(e.index)} {q(e.dirname)} {int(e.attempt)}")
    lines.append("")
    return "\n".join(lines)


@dataclass(slots=True)
class SubmitOutcome:
    job_ids: dict[int, str]  # index -> job id (submitted now or adopted)
    errors: dict[int, str]  # index -> why sbatch refused it
    adopted: set[int]
    fatal: str | None = None


def parse_submit_output(text: str) -> SubmitOutcome:
    out = SubmitOutcome({}, {}, set())
    for line in text.splitlines():
        if not line.startswith("@"):
            continue
        tag, _, rest = line.partition(" ")
        if tag == "@fatal":
            out.fatal = rest.strip()
            continue
        idx, _, value = rest.partition(" ")
        try:
            i = int(idx)
        except ValueError:
            continue
        value = value.strip()
        if tag in ("@ok", "@adopt") and value:
            out.job_ids[i] = value
            if tag == "@adopt":
                out.adopted.add(i)
        elif tag == "@err" or tag in ("@ok", "@adopt"):
            out.errors[i] = value or "sbatch gave no job id"
    return out
