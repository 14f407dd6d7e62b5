"""transport = "pyslurm": a login-node transport whose job-table query goes through pyslurm.

Only used when ``import pyslurm`` works AND its version matches the
cluster's Slurm (major.minor of ``sinfo --version``): PyPI's pyslurm builds
only against the Slurm release it was made for (see stack-notes). Otherwise
``connect()`` raises a TransportError that says so and suggests transport
"local". Submitting and cancelling stay with sbatch/scancel (as on "local");
what pyslurm replaces is the per-cycle squeue call.
"""
from __future__ import annotations

import shutil
import subprocess

from .transport import LocalTransport, TransportError


class PyslurmTransport(LocalTransport):
    """The local transport whose job-table query uses pyslurm (when it imports and matches the cluster)."""

    kind = "pyslurm"

    @property
    def connected(self) -> bool:
        return self._ever_connected

    def connect(self) -> None:
        try:
            import pyslurm  # noqa: F401
        except ImportError as e:
            raise TransportError(
                f"[slurm.{self.profile.name}] transport \"pyslurm\" needs pyslurm built for this cluster's Slurm "
                f"(pip install 'nodeflow[slurm-local]'; it cannot be imported: {e}); use transport = \"local\" "
                f"to drive Slurm's commands instead") from None
        theirs = _major_minor(getattr(pyslurm, "__version__", ""))
        sinfo = shutil.which("sinfo")
        out = subprocess.run([sinfo, "--version"], capture_output=True, text=True).stdout if sinfo else ""
        ours = _major_minor(out.split()[-1] if out.split() else "")
        if theirs is None or theirs != ours:
            raise TransportError(
                f"[slurm.{self.profile.name}] pyslurm {getattr(pyslurm, '__version__', '?')} does not match this "
                f"cluster's Slurm ({out.strip() or 'sinfo not found'}); use transport = \"local\"")
        super().connect()

    def job_table(self, names: list[str]) -> list[str] | None:
        import pyslurm

        self.counts["pyslurm"] += 1
        wanted = set(names)
        lines = []
        for job in pyslurm.Jobs.load().values():
            if job.name in wanted:
                task = getattr(job, "array_task_id", None)
                jid = f"{job.array_id}_{task}" if task is not None and getattr(job, "array_id", None) else job.id
                lines.append(f"{jid}|{job.state}|{job.allocated_nodes or ''}|{job.state_reason or 'None'}")
        return lines


def _major_minor(text: str) -> tuple[int, int] | None:
    parts = text.strip().split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None
