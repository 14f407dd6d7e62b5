"""Slurm executor: nodes as Slurm jobs, over one SSH connection per profile or on a login node.

Modules: ``profile`` (the ``[slurm.NAME]`` config tables, job resources),
``hostkeys`` (fingerprints, trusting a key, the verified paramiko client),
``errors``, ``transport`` (SSH / local, one connection per profile, reconnect
with back-off), ``pyslurm_transport``, ``script`` (job and submit scripts),
``status`` (one squeue per poll cycle, state mapping, back-off), ``jobfiles``
(upload bundle, log mirror, results), ``submit`` (batches, cut-off
submissions), ``executor`` (``SlurmExecutor``).
"""
from .errors import AuthError, ConnectionLost, HostKeyError, TransportError
from .executor import SlurmExecutor, SlurmJob
from .profile import JobResources, ProfileError, SlurmProfile
from .transport import LocalTransport, SSHTransport, Transport, make_transport

__all__ = ["AuthError", "ConnectionLost", "HostKeyError", "JobResources", "LocalTransport", "ProfileError",
           "SSHTransport", "SlurmExecutor", "SlurmJob", "SlurmProfile", "Transport", "TransportError",
           "make_transport"]
