"""Wake-ups by topic: the glue between writers and long-polls.

Writers (any thread) call ``notify(topic, …)`` after their transaction
commits. A long-poll reads ``gen(topic)`` *before* it looks at the database,
and if it found nothing it awaits ``wait(topic, gen, timeout)``, which returns
at once when the generation moved meanwhile — so no wake-up is ever lost.
Plain callbacks (``subscribe``) serve in-process listeners such as the
server's own runner executor.

Topics: ``queue`` (a task became leasable), ``tasks`` (any task changed),
``client:<id>`` (a task of that submitter changed), ``run:<id>`` (a server run
has new events).
"""
from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from typing import Callable


class Notifier:
    def __init__(self):
        self._lock = threading.Lock()
        self._gen: dict[str, int] = defaultdict(int)
        self._waiters: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Future]]] = defaultdict(list)
        self._callbacks: dict[str, list[Callable[[], None]]] = defaultdict(list)
        self._closed = False

    def gen(self, topic: str) -> int:
        with self._lock:
            return self._gen.get(topic, 0)

    def notify(self, *topics: str) -> None:
        wake: list[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = []
        calls: list[Callable[[], None]] = []
        with self._lock:
            if len(self._gen) > 50_000:  # forget old client topics; waiters just wake once for nothing
                self._gen = defaultdict(int, {t: g for t, g in self._gen.items() if t in self._waiters})
            for t in topics:
                self._gen[t] += 1
                w = self._waiters.pop(t, None)
                if w:
                    wake.extend(w)
                cb = self._callbacks.get(t)
                if cb:
                    calls.extend(cb)
        for loop, fut in wake:
            _resolve(loop, fut)
        for cb in calls:
            try:
                cb()
            except Exception:  # a listener's bug must not break the writer
                pass

    def subscribe(self, topic: str, callback: Callable[[], None]) -> None:
        with self._lock:
            self._callbacks[topic].append(callback)

    def unsubscribe(self, topic: str, callback: Callable[[], None]) -> None:
        with self._lock:
            cbs = self._callbacks.get(topic)
            if cbs and callback in cbs:
                cbs.remove(callback)
                if not cbs:
                    del self._callbacks[topic]

    async def wait(self, topic: str, gen: int, timeout: float) -> bool:
        """Until ``topic`` moves past ``gen`` (True) or ``timeout`` passes (False)."""
        if timeout <= 0:
            return self.gen(topic) != gen
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        with self._lock:
            if self._closed or self._gen.get(topic, 0) != gen:
                return True
            self._waiters[topic].append((loop, fut))
        try:
            await asyncio.wait_for(fut, timeout)
            return True
        except asyncio.TimeoutError:
            with self._lock:
                w = self._waiters.get(topic)
                if w:
                    try:
                        w.remove((loop, fut))
                    except ValueError:
                        pass
                    if not w:
                        del self._waiters[topic]
            return False

    def close(self) -> None:
        """Wake every waiter (server shutdown); later waits return at once."""
        with self._lock:
            self._closed = True
            all_w = [x for w in self._waiters.values() for x in w]
            self._waiters.clear()
        for loop, fut in all_w:
            _resolve(loop, fut)


def _resolve(loop: asyncio.AbstractEventLoop, fut: asyncio.Future) -> None:
    def done():
        if not fut.done():
            fut.set_result(True)

    try:
        loop.call_soon_threadsafe(done)
    except RuntimeError:  # the loop is closed
        pass
