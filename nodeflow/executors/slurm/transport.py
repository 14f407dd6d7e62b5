"""How the Slurm executor reaches a cluster: SSH (paramiko), a local subprocess, or pyslurm.

A transport runs POSIX ``sh`` scripts (sent on stdin, so the login shell's
quoting rules never matter: only the constant ``/bin/sh -s`` goes through
it) and moves files. ``SSHTransport`` keeps ONE persistent connection per
profile (exec channels and one SFTP session over it), with keepalive; host
keys are checked against the profile's known_hosts with a RejectPolicy (an
unknown or changed key is refused with a message saying how to trust it); a
jump host is crossed with a ``direct-tcpip`` channel.

When the connection drops, operations raise ``ConnectionLost`` and the
transport reconnects on the next ``ensure_connected()`` — at once, then no
earlier than the back-off allows: 1, 2, 4, 8, 8 … s after consecutive
failures (never blocking the caller unless it asks to wait with
``wait_connected``). ``LocalTransport`` does the same work with subprocesses
on a login node; ``PyslurmTransport`` (pyslurm_transport.py) is the local one
whose job-table query goes through pyslurm.

Nothing connects in a constructor: ``connect()`` / ``close()``. ``counts``
tallies what was done (scripts, SFTP calls, connects), for tests and benchmarks.
"""
from __future__ import annotations

import logging
import os
import select
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .errors import AuthError, CommandTimeout, ConnectionLost, HostKeyError, TransportError
from .hostkeys import verified_client
from .profile import SlurmProfile, parse_jump_host

BACKOFF_S = (1.0, 2.0, 4.0, 8.0)
log = logging.getLogger("nodeflow.slurm")


@dataclass(slots=True)
class Completed:
    rc: int
    stdout: str
    stderr: str


class Transport:
    """What every transport offers (see the module docstring)."""

    kind = "?"

    def __init__(self, profile: SlurmProfile):
        self.profile = profile
        self.counts: Counter = Counter()
        self.reconnects = 0  # successful connects after the first
        self._lock = threading.RLock()  # one operation at a time over the connection
        self._failures = 0
        self._next_try = 0.0
        self._ever_connected = False
        self.lost_since: float | None = None  # monotonic time the connection was lost, None when up

    # -- connection -------------------------------------------------------------------
    def connect(self) -> None:
        self._ever_connected = True

    def close(self) -> None:
        pass

    @property
    def connected(self) -> bool:
        return True

    def ensure_connected(self) -> None:
        """Connect if needed, at most as often as the back-off allows; raises ConnectionLost meanwhile."""
        with self._lock:
            if self.connected:
                return
            now = time.monotonic()
            if self.lost_since is None:
                self.lost_since = now
            if now < self._next_try:
                raise ConnectionLost(f"{self.profile.where}: not connected (next try in {self._next_try - now:.1f} s)")
            was = self._ever_connected
            try:
                self.connect()
            except TransportError as e:
                if e.retryable:
                    self._next_try = now + BACKOFF_S[min(self._failures, len(BACKOFF_S) - 1)]
                    self._failures += 1
                raise
            if was:
                self.reconnects += 1
                log.warning("reconnected to %s after %.1f s", self.profile.where, now - self.lost_since)
            self._failures = 0
            self._next_try = 0.0
            self.lost_since = None

    def wait_connected(self, max_wait_s: float) -> None:
        """``ensure_connected``, sleeping through the back-off for up to ``max_wait_s``."""
        deadline = time.monotonic() + max_wait_s
        while True:
            try:
                return self.ensure_connected()
            except ConnectionLost:
                wait = self._next_try - time.monotonic()
                if time.monotonic() + max(wait, 0) > deadline:
                    raise
                time.sleep(max(wait, 0.0))

    # -- work ---------------------------------------------------------------------------
    def run(self, script: str, *, timeout: float | None = None) -> Completed:
        raise NotImplementedError

    def home(self) -> str:
        raise NotImplementedError

    def put_bytes(self, path: str, data: bytes) -> None:
        raise NotImplementedError

    def get_bytes(self, path: str, offset: int = 0, limit: int | None = None) -> bytes:
        """Bytes of a file from ``offset`` (at most ``limit``); FileNotFoundError when it is missing."""
        raise NotImplementedError

    def makedirs(self, path: str) -> None:
        raise NotImplementedError

    def job_table(self, names: list[str]) -> list[str] | None:
        """squeue-like ``id|STATE|nodes|reason`` lines, when this transport has its own way (else None)."""
        return None


# ------------------------------------------------------------------------------- SSH

class SSHTransport(Transport):
    kind = "ssh"

    def __init__(self, profile: SlurmProfile):
        super().__init__(profile)
        self._client = None
        self._jump = None
        self._sftp = None
        self._home: str | None = None

    @property
    def connected(self) -> bool:
        c = self._client
        t = c.get_transport() if c is not None else None
        return t is not None and t.is_active()

    def connect(self) -> None:
        # paramiko logs a dropped socket as an ERROR from its own thread; we report and repair it ourselves
        plog = logging.getLogger("paramiko")
        if not plog.handlers:
            plog.addHandler(logging.NullHandler())
        with self._lock:
            self.close()
            p = self.profile
            self.counts["connect"] += 1
            sock = None
            if p.jump_host:
                juser, jhost, jport = parse_jump_host(p.jump_host, p.user)
                self._jump = verified_client(p, jhost, jport, juser)
                try:
                    sock = self._jump.get_transport().open_channel(
                        "direct-tcpip", (p.host, p.port), ("127.0.0.1", 0), timeout=p.connect_timeout_s)
                except Exception as e:
                    self.close()
                    raise ConnectionLost(f"jump host {p.jump_host} cannot reach {p.host}:{p.port}: {e}") from None
            try:
                self._client = verified_client(p, p.host, p.port, p.user, sock)
            except Exception:
                self.close()
                raise
            super().connect()

    def close(self) -> None:
        with self._lock:
            for c in (self._sftp, self._client, self._jump):
                if c is not None:
                    try:
                        c.close()
                    except Exception:
                        pass
            self._sftp = self._client = self._jump = None

    def local_port(self) -> int | None:
        """The client-side TCP port of the connection (tests find the sshd serving it by this)."""
        t = self._client.get_transport() if self._client is not None else None
        try:
            return t.sock.getsockname()[1] if t is not None else None
        except (OSError, AttributeError):
            return None

    def _lost(self, e: BaseException) -> ConnectionLost:
        self.close()
        if self.lost_since is None:
            self.lost_since = time.monotonic()
            log.warning("connection to %s lost (%s); reconnecting — the jobs keep running", self.profile.where,
                        f"{type(e).__name__}: {e}" if str(e) else type(e).__name__)
        return ConnectionLost(f"connection to {self.profile.where} lost: {type(e).__name__}: {e}")

    def run(self, script: str, *, timeout: float | None = None) -> Completed:
        import paramiko

        timeout = timeout or self.profile.command_timeout_s
        with self._lock:
            self.ensure_connected()
            self.counts["run"] += 1
            try:
                chan = self._client.get_transport().open_session(timeout=self.profile.connect_timeout_s)
                chan.exec_command("/bin/sh -s")
                chan.sendall(script.encode("utf-8"))
                chan.shutdown_write()
                out, err = bytearray(), bytearray()
                deadline = time.monotonic() + timeout
                while True:
                    got = False
                    if chan.recv_ready():
                        out += chan.recv(1 << 16)
                        got = True
                    if chan.recv_stderr_ready():
                        err += chan.recv_stderr(1 << 16)
                        got = True
                    if got:
                        continue
                    if chan.exit_status_ready() or chan.closed:
                        break  # the data before the exit status is all in the buffers now
                    left = deadline - time.monotonic()
                    if left <= 0:
                        chan.close()
                        raise CommandTimeout(f"{self.profile.where}: a command took longer than {timeout:g} s")
                    select.select([chan], [], [], min(left, 1.0))
                while chan.recv_ready():
                    out += chan.recv(1 << 16)
                while chan.recv_stderr_ready():
                    err += chan.recv_stderr(1 << 16)
                rc = chan.recv_exit_status()
                chan.close()
            except CommandTimeout:
                raise
            except (paramiko.SSHException, OSError, EOFError) as e:
                raise self._lost(e) from None
            if rc == -1:  # no exit status: the channel died with the connection
                if not self.connected:
                    raise self._lost(EOFError("no exit status"))
            return Completed(rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))

    def _sftp_do(self, fn):
        import paramiko

        with self._lock:
            self.ensure_connected()
            self.counts["sftp"] += 1
            try:
                if self._sftp is None:
                    self._sftp = self._client.open_sftp()
                return fn(self._sftp)
            except FileNotFoundError:
                raise
            except (paramiko.SSHException, OSError, EOFError) as e:
                if not self.connected:
                    raise self._lost(e) from None
                raise

    def home(self) -> str:
        if self._home is None:
            self._home = self._sftp_do(lambda s: s.normalize("."))
        return self._home

    def put_bytes(self, path: str, data: bytes) -> None:
        def put(s):
            with s.open(path, "wb") as f:
                f.set_pipelined(True)
                f.write(data)
        self._sftp_do(put)

    def get_bytes(self, path: str, offset: int = 0, limit: int | None = None) -> bytes:
        def get(s):
            with s.open(path, "rb") as f:
                if offset:
                    f.seek(offset)
                if limit is None:
                    f.prefetch()
                    return f.read()
                return f.read(limit)
        return self._sftp_do(get)

    def makedirs(self, path: str) -> None:
        def mk(s):
            parts, cur = path.strip("/").split("/"), "/" if path.startswith("/") else ""
            for part in parts:
                cur = f"{cur}{part}" if cur in ("", "/") else f"{cur}/{part}"
                try:
                    s.stat(cur)
                except FileNotFoundError:
                    try:
                        s.mkdir(cur)
                    except OSError:
                        s.stat(cur)  # made meanwhile by someone else is fine
        self._sftp_do(mk)


# ------------------------------------------------------------------------------- local

class LocalTransport(Transport):
    """On a login node: scripts run as subprocesses, files are local."""

    kind = "local"

    def run(self, script: str, *, timeout: float | None = None) -> Completed:
        self.counts["run"] += 1
        try:
            p = subprocess.run(["/bin/sh", "-s"], input=script.encode("utf-8"), capture_output=True,
                               timeout=timeout or self.profile.command_timeout_s)
        except subprocess.TimeoutExpired:
            raise CommandTimeout(f"a command took longer than {timeout or self.profile.command_timeout_s:g} s")
        return Completed(p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"))

    def home(self) -> str:
        return os.path.expanduser("~")

    def put_bytes(self, path: str, data: bytes) -> None:
        self.counts["file"] += 1
        Path(path).write_bytes(data)

    def get_bytes(self, path: str, offset: int = 0, limit: int | None = None) -> bytes:
        self.counts["file"] += 1
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read() if limit is None else f.read(limit)

    def makedirs(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)


def make_transport(profile: SlurmProfile) -> Transport:
    if profile.transport == "pyslurm":
        from .pyslurm_transport import PyslurmTransport

        return PyslurmTransport(profile)
    return {"ssh": SSHTransport, "local": LocalTransport}[profile.transport](profile)


__all__ = ["AuthError", "BACKOFF_S", "CommandTimeout", "Completed", "ConnectionLost", "HostKeyError",
           "LocalTransport", "SSHTransport", "Transport", "TransportError", "make_transport"]
