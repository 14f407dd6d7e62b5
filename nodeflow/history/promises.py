"""``WritePromises``: writes other threads owe a history store, and waiting for them.

The recorder's writer thread finishes a run's row after the run returned
(``background.py``). It promises that to the store; the store's reads and
``close()`` settle first, so whoever reads through that store sees the run
whole. A read waits only for promises made before it, by threads that still
live: on a server that finishes runs all the time readers are not starved,
and a thread that died owes nothing any more.
"""
from __future__ import annotations

import threading
import time

__all__ = ["WritePromises"]

#: how often a waiting read looks again whether a thread that owes it is still alive (seconds)
RECHECK_S = 0.5


class WritePromises:
    def __init__(self):
        self._cond = threading.Condition(threading.Lock())
        self._owed: dict[int, threading.Thread] = {}  # ticket -> the thread that owes it
        self._next_ticket = 0

    def make(self, thread: threading.Thread) -> int:
        """``thread`` will write something the caller did not wait for; returns its ticket."""
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            self._owed[ticket] = thread
            return ticket

    def keep(self, ticket: int) -> None:
        """The write of ``ticket`` is done (or failed)."""
        with self._cond:
            self._owed.pop(ticket, None)
            self._cond.notify_all()

    def settle(self, timeout: float | None = None) -> bool:
        """Wait for the promises made before this call by other threads that still live; False if
        ``timeout`` passed first. A thread's own promises do not make it wait."""
        if not self._owed:  # the usual case: nothing owed
            return True
        me = threading.current_thread()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            horizon = self._next_ticket
            while True:
                if not any(k < horizon and t is not me and t.is_alive() for k, t in self._owed.items()):
                    return True
                wait = RECHECK_S if deadline is None else min(RECHECK_S, deadline - time.monotonic())
                if wait <= 0:
                    return False
                self._cond.wait(wait)
