"""Showing a run on the terminal: a rich progress bar on a TTY, plain lines otherwise.

An observer of run events (it never touches run state). Failures, retries and
skips are printed as they happen, with the failed node's error; the bar
shows done/total, running, failed and elapsed time, and — given an
``EtaTracker`` (``history.eta``), registered as an observer before this one —
``ETA hh:mm (± n min)``.
"""
from __future__ import annotations

import sys
import time

from ..engine.events import EventKind, RunEvent


class ConsoleProgress:
    def __init__(self, *, stream=None, force_plain: bool = False, plain_interval_s: float = 2.0, eta=None):
        self.stream = stream or sys.stderr
        self.eta = eta  # an EtaTracker, or None: no ETA shown
        self.rich = not force_plain and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.plain_interval_s = plain_interval_s
        self._last_plain = 0.0
        self._progress = None
        self._task = None
        self._started = time.monotonic()
        self._total = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def _print(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self.stream, flush=True)

    def on_event(self, ev: RunEvent) -> None:
        k = ev.kind
        if k is EventKind.RUN_STARTED:
            self._total = ev.data.get("total", 0)
            self._started = time.monotonic()
            if self.rich:
                from rich.console import Console
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

                columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                           TextColumn("{task.fields[status]}"), TimeElapsedColumn()]
                if self.eta is not None:
                    columns.append(_eta_column(self.eta))
                self._progress = Progress(*columns, console=Console(file=self.stream), transient=False)
                self._progress.start()
                self._task = self._progress.add_task(f"run {ev.run_id}", total=self._total, status="")
            else:
                self._print(f"run {ev.run_id}: {self._total} nodes")
        elif k is EventKind.RUN_PROGRESS:
            d = ev.data
            status = f"running {d.get('running', 0)}  failed {d.get('failed', 0)}"
            if d.get("skipped"):
                status += f"  skipped {d['skipped']}"
            if self._progress is not None:
                self._progress.update(self._task, completed=d.get("done", 0), status=status)
            elif time.monotonic() - self._last_plain >= self.plain_interval_s or d.get("done") == d.get("total"):
                self._last_plain = time.monotonic()
                eta = f"{self._eta_text(ev.time)}, " if self.eta is not None and d.get("done") != d.get("total") \
                    else ""
                self._print(f"progress: {d.get('done', 0)}/{d.get('total', 0)} done, {status}, {eta}"
                            f"elapsed {time.monotonic() - self._started:.1f} s")
        elif k is EventKind.NODE_FAILED:
            self._print(f"FAILED {ev.node} (attempt {ev.attempt}): {ev.data.get('error')}")
            if ev.data.get("stderr_path"):
                self._print(f"  log: {ev.data['stderr_path']}")
        elif k is EventKind.NODE_RETRYING:
            self._print(f"retrying {ev.node} in {ev.data.get('delay_s', 0):g} s "
                        f"(attempt {ev.attempt} failed: {ev.data.get('error')})")
        elif k is EventKind.NODE_SKIPPED:
            self._print(f"skipped {ev.node}: {ev.data.get('reason')}")
        elif k is EventKind.RUN_FINISHED:
            counts = ", ".join(f"{v} {s}" for s, v in sorted(ev.data.get("counts", {}).items()))
            self.close()
            self._print(f"run {ev.run_id} {ev.data.get('state')}: {counts} "
                        f"in {time.monotonic() - self._started:.1f} s")

    def _eta_text(self, now: float | None = None) -> str:
        from ..history.eta import format_eta

        try:
            return format_eta(self.eta.update(now))
        except Exception:  # the ETA must never break the run's display
            return "ETA --:--"


def _eta_column(tracker):
    """A rich column showing the tracker's ETA; rich's refresh polls it (throttled by the tracker)."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    from ..history.eta import format_eta

    class EtaColumn(ProgressColumn):
        def render(self, task) -> Text:
            try:
                return Text(format_eta(tracker.update()), style="progress.remaining")
            except Exception:
                return Text("ETA --:--")

    return EtaColumn()
