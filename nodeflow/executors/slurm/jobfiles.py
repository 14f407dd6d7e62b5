"""A Slurm job's files on both sides: the upload bundle, the local mirror of logs, results.

Each node has a job folder on the cluster (``<workdir>/<run_id>/<node dir>/``)
and the node's folder in the local run folder. ``bundle()`` packs what a
batch of jobs needs (``job.sh``; for Python nodes ``spec.json`` and its
``.npy`` inputs) into one tar, uploaded with a single SFTP write. While a job
runs, ``RemoteLogs`` appends the bytes its ``stdout.txt``/``stderr.txt`` grew
by to the local copies and hands out new lines (``LogTail`` on the copies);
at the end the rest is fetched, so the local run folder holds the full logs.
``fetch_result`` downloads a Python node's ``result.json`` and the arrays it
names, and reads them with ``TaskResult.read``; ``final_status`` turns a
finished job (decision, status file, logs, result) into the ``TaskStatus``
the scheduler gets: command nodes hand back stdout/stderr/exitcode (the node
type's ``collect`` decides), unless Slurm killed the job (TIMEOUT …), which
is then the error, with the last line of stderr.
"""
from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path

from ...model.values import ARRAY_KEY
from ..base import CANCELLED, FAILED, SUCCEEDED, TaskResult, TaskStatus
from ..logtail import LogTail

STREAMS = ("stdout", "stderr")
TAIL_CHUNK = 1 << 20  # at most this much of a log per poll while a job runs


def bundle(files: list[tuple[str, bytes]]) -> bytes:
    """A tar (in memory) of ``(path inside the run folder, content)`` pairs."""
    buf = io.BytesIO()
    now = time.time()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = now
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class RemoteLogs:
    """Mirror of a job's stdout/stderr in its local folder, fed from the remote files."""

    def __init__(self, local_dir: Path, remote_dir: str):
        self.local_dir = local_dir
        self.remote = {s: f"{remote_dir}/{s}.txt" for s in STREAMS}
        self.local = {s: local_dir / f"{s}.txt" for s in STREAMS}
        self.offsets = {s: 0 for s in STREAMS}
        local_dir.mkdir(parents=True, exist_ok=True)
        for p in self.local.values():
            p.write_bytes(b"")
        self.tail = LogTail(self.local["stdout"], self.local["stderr"])

    def remote_paths(self) -> list[str]:
        return list(self.remote.values())

    def grew(self, sizes: dict[str, int]) -> bool:
        return any(sizes.get(self.remote[s], 0) > self.offsets[s] for s in STREAMS)

    def pull(self, transport, sizes: dict[str, int] | None, final: bool = False) -> list[tuple[str, str]]:
        """Fetch what grew (``sizes`` from the poll; None: look at everything) and return new lines."""
        for s in STREAMS:
            size = None if sizes is None else sizes.get(self.remote[s])
            if sizes is not None and (size is None or size <= self.offsets[s]):
                continue
            try:
                data = transport.get_bytes(self.remote[s], self.offsets[s], None if final else TAIL_CHUNK)
            except FileNotFoundError:
                continue
            if data:
                with open(self.local[s], "ab") as f:
                    f.write(data)
                self.offsets[s] += len(data)
        return self.tail.read_new(final=final)

    def text(self, stream: str) -> str:
        try:
            return self.local[stream].read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def last_error_line(self) -> str:
        lines = [ln for ln in self.text("stderr").strip().splitlines() if ln.strip()]
        return lines[-1].strip() if lines else ""


def _array_names(value, out: list[str]) -> list[str]:
    if isinstance(value, dict):
        if ARRAY_KEY in value and not value.get("inline"):
            out.append(str(value[ARRAY_KEY]))
        else:
            for v in value.values():
                _array_names(v, out)
    elif isinstance(value, list):
        for v in value:
            _array_names(v, out)
    return out


def fetch_result(transport, remote_dir: str, local_dir: Path) -> TaskResult | None:
    """A Python node's result (downloaded beside its local folder), None when the worker wrote none."""
    try:
        raw = transport.get_bytes(f"{remote_dir}/result.json")
    except FileNotFoundError:
        return None
    try:
        d = json.loads(raw)
    except ValueError as e:
        return TaskResult(False, error=f"unreadable worker result: {e}")
    for name in _array_names(d.get("outputs") or {}, []):
        if "/" in name or name.startswith("."):
            return TaskResult(False, error=f"bad array file name {name!r} in the worker result")
        (local_dir / name).write_bytes(transport.get_bytes(f"{remote_dir}/{name}"))
    (local_dir / "result.json").write_bytes(raw)
    try:
        return TaskResult.read(local_dir / "result.json")
    except (OSError, ValueError, KeyError) as e:
        return TaskResult(False, error=f"unreadable worker result: {e}")


def final_status(kind: str, job_id: str, d, status: dict | None, logs: RemoteLogs, result: TaskResult | None,
                 lines: list[tuple[str, str]], host: str | None) -> TaskStatus:
    """The TaskStatus of a finished job; ``d`` is status.decide's Decision, ``status`` the status file."""
    rc = status["exit_code"] if status else (0 if d.state == "succeeded" else None)
    started = status.get("started_at") if status else None
    finished = status.get("finished_at") if status else None
    common = dict(new_log=lines, job_id=job_id, started_at=started, host=host)
    if d.state == "cancelled":
        return TaskStatus(CANCELLED, TaskResult(False, error="cancelled", exit_code=rc), reason="cancelled", **common)
    killed = d.reason not in (None, "FAILED")  # TIMEOUT, OUT_OF_MEMORY, CANCELLED by others, LOST …
    message = d.message
    last = logs.last_error_line()
    if message and killed and last:
        message += f": {last}"
    if kind == "command":
        outputs = {} if killed or rc is None else \
            {"stdout": logs.text("stdout"), "stderr": logs.text("stderr"), "exitcode": rc}
        res = TaskResult(d.state == "succeeded", outputs, None if d.state == "succeeded" else message, rc,
                         started, finished)
    else:
        res = result
        if res is None:
            res = TaskResult(False, error=(message or f"the worker of Slurm job {job_id} wrote no result")
                             + (f": {last}" if last and not killed else ""))
        elif killed and message:
            res.ok, res.error = False, message
        res.exit_code, res.started_at, res.finished_at = rc, started, finished
    ok = d.state == "succeeded" and res.ok
    return TaskStatus(SUCCEEDED if ok else FAILED, res, reason=None if ok else (d.reason or "error"), **common)
