"""Following a task's stdout/stderr files: new complete lines since the last read.

Used by the local executor at each poll (and by remote executors on files they
fetched), so a node's output streams as log events while the files on disk stay
the full record.
"""
from __future__ import annotations

from pathlib import Path

MAX_LINES_PER_READ = 5000


class LogTail:
    def __init__(self, stdout: str | Path, stderr: str | Path):
        self._files = {"stdout": Path(stdout), "stderr": Path(stderr)}
        self._offsets = {"stdout": 0, "stderr": 0}
        self._partial = {"stdout": b"", "stderr": b""}

    def read_new(self, final: bool = False) -> list[tuple[str, str]]:
        """(stream, line) pairs; with ``final`` an unterminated last line is included."""
        lines: list[tuple[str, str]] = []
        for stream, path in self._files.items():
            try:
                with open(path, "rb") as f:
                    f.seek(self._offsets[stream])
                    data = f.read()
            except FileNotFoundError:
                continue
            if not data and not (final and self._partial[stream]):
                continue
            self._offsets[stream] += len(data)
            data = self._partial[stream] + data
            parts = data.split(b"\n")
            self._partial[stream] = b"" if final else parts.pop()
            if final and parts and parts[-1] == b"":
                parts.pop()
            for p in parts[:MAX_LINES_PER_READ]:
                lines.append((stream, p.decode("utf-8", errors="replace").rstrip("\r")))
            if len(parts) > MAX_LINES_PER_READ:
                lines.append((stream, f"[{len(parts) - MAX_LINES_PER_READ} more lines in {path}]"))
        return lines
