"""Clocks the scheduler waits on: the real one, and a manual one for tests.

The scheduler never calls ``time`` or ``sleep`` itself; it asks its clock,
so retry intervals, timeouts and back-off can be tested without waiting.
"""
from __future__ import annotations

import threading
import time


class SystemClock:
    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        """Block until ``event`` is set or ``timeout`` seconds pass; True if set."""
        return event.wait(timeout)


class ManualClock:
    """Time moves only when the scheduler would wait with nothing to do.

    ``wait`` gives real work (threads, subprocesses) a short real moment to
    report; if nothing comes, the clock jumps forward by the whole timeout.
    """

    def __init__(self, start: float = 1_000_000.0, real_grace_s: float = 0.02):
        self.now = start
        self.real_grace_s = real_grace_s
        self.waits: list[float] = []

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        if event.wait(self.real_grace_s if timeout is not None else None):
            return True
        self.waits.append(timeout)
        self.now += timeout
        return False
