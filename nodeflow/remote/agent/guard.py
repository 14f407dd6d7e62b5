"""``python -I -S guard.py PARENT_PID -- ARGV…``: run ARGV, and
kill it (its whole process group) the moment the runner PARENT_PID is gone.

The runner agent wraps every command node in this guard. Without it a
runner killed with ``kill -9`` would leave its commands running as orphans
while the server hands their tasks to another runner — the same work done
twice. The local executor starts the guard in a new session, so the guard
and the command share a process group: a cancel (SIGTERM/SIGKILL to the
group) reaches both, and the guard's ``killpg`` reaches everything the
command started. The guard exits with the command's status (re-raising the
signal that ended it, so the executor sees the same status). It is run as a
plain script and imports only the standard library, so it starts fast.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading


def _watch_parent(parent: int) -> None:
    import time

    while True:
        time.sleep(0.2)
        if os.getppid() != parent:
            try:
                os.killpg(os.getpgid(0), signal.SIGKILL)
            finally:
                os._exit(137)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -I -S guard.py PARENT_PID -- COMMAND [ARGS…]", file=sys.stderr)
        return 2
    parent = int(argv[0])
    cmd = argv[2:]
    if os.getppid() != parent:
        return 137
    signal.signal(signal.SIGTERM, lambda *_: None)  # the group's SIGTERM reaches the command directly
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    try:
        proc = subprocess.Popen(cmd)
    except OSError as e:
        print(f"cannot run {cmd[0]!r}: {e.strerror or e}", file=sys.stderr)
        return 127
    rc = proc.wait()
    if rc < 0:
        sys.stdout.flush()
        signal.signal(-rc, signal.SIG_DFL)
        os.kill(os.getpid(), -rc)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
