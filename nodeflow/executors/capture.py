"""A local subprocess's stdout and stderr: read from pipes into log files made on first output.

The local executor gives each subprocess two pipes and lets the worker thread
that waits for it pump them (``OutputCapture.pump``): every chunk goes at
once into the node's ``stdout.txt``/``stderr.txt`` (so the files stay the
full record while the program runs and ``LogTail`` streams them as log
lines) and is kept for the node's outputs. A file, and the node's folder, is
made only when its stream writes something: a short command that prints
nothing touches no disk at all, which on a slow disk cost more than the
command itself (a folder and two empty files per node).

When the program exits while something it started still holds the pipes
open (a daemon), what is in the pipes is read and the capture ends; that
leftover process gets EPIPE if it writes later.
"""
from __future__ import annotations

import os
import select
import subprocess
import time
from typing import Callable

from .logtail import STREAMS

#: how often (seconds) a pump with quiet pipes checks that the program is still running
EXIT_CHECK_S = 1.0
CHUNK = 1 << 16
#: what a capture that does not keep everything keeps of each stream (bytes, at least)
TAIL_BYTES = 1 << 16


class OutputCapture:
    """Pipes for a subprocess's stdout/stderr, and where their bytes go.

    ``folder``: the node's folder, made by ``ensure_dir`` when the first byte arrives;
    ``stale``: log files an earlier attempt left there are removed first (a retry)."""

    def __init__(self, folder: str, ensure_dir: Callable[[str], None], stale: bool = False,
                 keep_all: bool = True):
        """``keep_all``: keep every byte for ``text()`` (a command's outputs); otherwise only about
        the last ``TAIL_BYTES`` of each stream (an error message's last line)."""
        self.folder = folder
        self._keep_all = keep_all
        self._kept = [0, 0]
        self.paths = (os.path.join(folder, "stdout.txt"), os.path.join(folder, "stderr.txt"))
        self._ensure_dir = ensure_dir
        self._files: list = [None, None]
        self._chunks: tuple[list[bytes], list[bytes]] = ([], [])
        if stale:
            for p in self.paths:
                try:
                    os.unlink(p)
                except FileNotFoundError:
                    pass
        self._read_fds: list[int] = []
        self.child_fds: tuple[int, int] | None = None

    def open_pipes(self) -> tuple[int, int]:
        """The write ends to give the child (close them here once it started: ``started()``)."""
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        self._read_fds = [out_r, err_r]
        self.child_fds = (out_w, err_w)
        return out_w, err_w

    def started(self) -> None:
        """The child has its copies of the write ends: close ours, so its exit ends the pipes."""
        if self.child_fds:
            for fd in self.child_fds:
                os.close(fd)
            self.child_fds = None

    def pump(self, proc: subprocess.Popen) -> int:
        """Read both pipes until they end (or the program has exited and they are empty), then
        wait for it; its exit status."""
        fds = self._read_fds
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
        live = {fd: i for i, fd in enumerate(fds)}
        checked = time.monotonic()
        try:
            while live:
                events = poller.poll(EXIT_CHECK_S * 1000)
                for fd, _ in events:
                    data = os.read(fd, CHUNK)
                    if data:
                        self._keep(live[fd], data)
                    else:
                        poller.unregister(fd)
                        del live[fd]
                if live and (not events or time.monotonic() - checked >= EXIT_CHECK_S):
                    checked = time.monotonic()
                    if proc.poll() is not None:  # exited; a process it left behind holds the pipes
                        self._drain(live)
                        break
            return proc.wait()
        finally:
            self.close()

    def _drain(self, live: dict[int, int]) -> None:
        for fd, i in live.items():
            os.set_blocking(fd, False)
            while True:
                try:
                    data = os.read(fd, CHUNK)
                except BlockingIOError:
                    break
                if not data:
                    break
                self._keep(i, data)

    def _keep(self, i: int, data: bytes) -> None:
        chunks = self._chunks[i]
        chunks.append(data)
        if not self._keep_all:
            self._kept[i] += len(data)
            while len(chunks) > 1 and self._kept[i] - len(chunks[0]) >= TAIL_BYTES:
                self._kept[i] -= len(chunks.pop(0))
        f = self._files[i]
        if f is None:
            self._ensure_dir(self.folder)
            f = self._files[i] = open(self.paths[i], "wb", buffering=0)
        f.write(data)

    def text(self, stream: str) -> str:
        """All a stream wrote ("" when nothing; its end only, without ``keep_all``)."""
        chunks = self._chunks[STREAMS.index(stream)]
        return b"".join(chunks).decode("utf-8", errors="replace") if chunks else ""

    def write_note(self, stream: str, message: str) -> None:
        """Add a line of our own to a stream's log (e.g. why the program could not start)."""
        self._keep(STREAMS.index(stream), (message + "\n").encode())

    def close(self) -> None:
        for fd in self._read_fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self._read_fds = []
        self.started()  # the write ends too, when the child never started
        for i, f in enumerate(self._files):
            if f is not None:
                f.close()
                self._files[i] = None
