"""Run ids and the names of run folders: ``<runs>/<run_id>/<node folder>/``.

A run id sorts by start time and is unique (``20261121-113257-333b5a``); it is
also the Slurm job name of the run's jobs. A node's folder is its uniquename
where that is a safe file name, else a safe form plus a short hash.
"""
from __future__ import annotations

import hashlib
import re
import time
import uuid

_SAFE_NAME = re.compile(r"[\w.\-]+")


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]


def node_dirname(uniquename: str) -> str:
    """A folder name for a node: the uniquename where it is safe, else made safe + short hash."""
    if uniquename.isalnum():  # the usual "add12": safe as it is (a quicker test than the pattern)
        return uniquename
    if _SAFE_NAME.fullmatch(uniquename) and uniquename not in (".", ".."):
        return uniquename
    safe = re.sub(r"[^\w.\-]", "_", uniquename)
    return f"{safe}-{hashlib.blake2b(uniquename.encode(), digest_size=3).hexdigest()}"
