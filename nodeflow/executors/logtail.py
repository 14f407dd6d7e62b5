"""Following a task's stdout/stderr files: new complete lines since the last read.

Used by the local executor at each poll (and by remote executors on files they
fetched), so a node's output streams as log events while the files on disk stay
the full record. Files are opened once and kept open until ``close()``; a task
that finished before it was ever tailed hands its whole text over instead
(``finish(texts)``), so short commands cost no extra file reads.
"""
from __future__ import annotations

from pathlib import Path

MAX_LINES_PER_READ = 5000
STREAMS = ("stdout", "stderr")


class LogTail:
    def __init__(self, stdout: str | Path, stderr: str | Path):
        self._paths = {"stdout": stdout, "stderr": stderr}  # kept as given: opened only if ever read
        self._files: dict[str, object] = {}
        self._partial = {"stdout": b"", "stderr": b""}
        self._read_any = False

    def _chunk(self, stream: str) -> bytes:
        f = self._files.get(stream)
        if f is None:
            try:
                f = self._files[stream] = open(self._paths[stream], "rb")
            except FileNotFoundError:
                return b""
        return f.read()

    def read_new(self, final: bool = False) -> list[tuple[str, str]]:
        """(stream, line) pairs; with ``final`` an unterminated last line is included."""
        self._read_any = True
        lines: list[tuple[str, str]] = []
        for stream in STREAMS:
            data = self._chunk(stream)
            if not data and not (final and self._partial[stream]):
                continue
            self._split(stream, self._partial[stream] + data, final, lines)
        return lines

    def finish(self, texts: dict[str, str] | None = None) -> list[tuple[str, str]]:
        """The lines not delivered yet, then close. ``texts``: the streams' whole text, when known."""
        try:
            if texts is not None and not self._read_any:
                lines: list[tuple[str, str]] = []
                for stream in STREAMS:
                    text = texts.get(stream) or ""
                    if text:
                        self._split(stream, text.encode("utf-8", errors="replace"), True, lines)
                return lines
            return self.read_new(final=True)
        finally:
            self.close()

    def _split(self, stream: str, data: bytes, final: bool, lines: list) -> None:
        parts = data.split(b"\n")
        self._partial[stream] = b"" if final else parts.pop()
        if final and parts and parts[-1] == b"":
            parts.pop()
        for p in parts[:MAX_LINES_PER_READ]:
            lines.append((stream, p.decode("utf-8", errors="replace").rstrip("\r")))
        if len(parts) > MAX_LINES_PER_READ:
            lines.append((stream, f"[{len(parts) - MAX_LINES_PER_READ} more lines in {self._paths[stream]}]"))

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()
