"""A run's timeline as a picture: one row per node, a bar per attempt, coloured by state.

``draw_gantt(attempts, out_path)`` draws the attempts of one run (rows of
``HistoryStore.attempts``) with matplotlib's Agg canvas (``Figure`` +
``FigureCanvasAgg``: no GUI toolkit, no global pyplot state) and writes a
PNG atomically. The wait between queued and started is a thin pale bar in
front of the run bar. With a ``Forecast`` (``history.eta``) of a run still
going, the nodes' predicted remainder is drawn hatched and the ETA band
shaded. ``render_gantt`` returns the ``Figure`` for callers that embed it.
"""
from __future__ import annotations

import io
import os
from typing import Any, Iterable, Mapping

__all__ = ["STATE_COLOURS", "draw_gantt", "render_gantt"]

STATE_COLOURS = {
    "succeeded": "#2e9d57",
    "failed": "#d1453b",
    "cancelled": "#e69a28",
    "skipped": "#9aa0a6",
    "running": "#3b7dd8",
    "queued": "#b9c7da",
    "pending": "#d9dde3",
}
_QUEUE_COLOUR = "#c9d3e0"
_MAX_LABELS = 80  # more rows than this: no node names on the axis


def _first(a: Mapping[str, Any]) -> float:
    for key in ("queued_at", "started_at", "finished_at"):
        if a.get(key) is not None:
            return a[key]
    return float("inf")


def render_gantt(attempts: Iterable[Mapping[str, Any]], *, title: str | None = None,
                 run_started: float | None = None, now: float | None = None, forecast=None):
    """The timeline as a matplotlib ``Figure`` (x: seconds — or minutes/hours — since the run started)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    attempts = sorted(attempts, key=lambda a: (_first(a), a["node"], a.get("attempt", 0)))
    rows: dict[str, int] = {}
    for a in attempts:
        rows.setdefault(a["node"], len(rows))
    if forecast is not None:  # nodes not begun yet get rows too, in expected order
        pending = [(s, n) for n, s in zip(forecast.names, forecast.start) if n not in rows and s is not None]
        for _s, n in sorted(pending):
            rows[n] = len(rows)
    times = [t for a in attempts for t in (a.get("queued_at"), a.get("started_at"), a.get("finished_at"))
             if t is not None]
    t0 = run_started if run_started is not None else (min(times) if times else 0.0)
    t_end = max(times) if times else t0
    if forecast is not None and not forecast.finished:
        t_end = max(t_end, forecast.eta_high)
        now = forecast.computed_at if now is None else now
    span = max(t_end - t0, 1e-9)
    unit, scale = ("h", 3600.0) if span > 3 * 3600 else ("min", 60.0) if span > 180 else ("s", 1.0)

    def x(t: float) -> float:
        return (t - t0) / scale

    n = max(len(rows), 1)
    height = min(max(2.5, 0.22 * min(n, _MAX_LABELS) + 1.4 + 0.01 * max(n - _MAX_LABELS, 0)), 24.0)
    fig = Figure(figsize=(11, height), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    bar_h = 0.7 if n <= 400 else 0.9
    # one barh call per colour: a few artists, not one per attempt
    queue_bars: list[tuple[float, float, int]] = []
    run_bars: dict[str, list[tuple[float, float, int]]] = {}
    for a in attempts:
        y = rows[a["node"]]
        state = a.get("state") or "pending"
        q, s, f = a.get("queued_at"), a.get("started_at"), a.get("finished_at")
        if q is not None and (s or f) is not None and (s or f) > q:
            queue_bars.append((x(q), x(s or f) - x(q), y))
        if s is not None:
            end = f if f is not None else (now if now is not None else t_end)
            run_bars.setdefault(state, []).append((x(s), max(x(end) - x(s), span / scale * 1e-3), y))
        elif f is not None and state in ("skipped", "failed", "cancelled"):
            run_bars.setdefault(state, []).append((x(f), span / scale * 4e-3, y))
    if queue_bars:
        _bars(ax, queue_bars, bar_h * 0.35, facecolor=_QUEUE_COLOUR, linewidth=0)
    for state, bars in run_bars.items():
        _bars(ax, bars, bar_h, facecolor=STATE_COLOURS.get(state, "#777777"), linewidth=0)
    legend = [Patch(color=STATE_COLOURS[s], label=s) for s in STATE_COLOURS if s in run_bars]
    if queue_bars:
        legend.append(Patch(color=_QUEUE_COLOUR, label="waiting in queue"))
    if forecast is not None and not forecast.finished:
        pred = []
        for name, st, s, f in zip(forecast.names, forecast.states, forecast.start, forecast.finish):
            if name in rows and f is not None and st <= 2:  # pending, queued, running: the part still to come
                b = max(s if s is not None else now, now)
                if f > b:
                    pred.append((x(b), x(f) - x(b), rows[name]))
        if pred:
            _bars(ax, pred, bar_h, facecolor="none", edgecolor=STATE_COLOURS["running"], hatch="///",
                  linewidth=0.5)
            legend.append(Patch(facecolor="none", edgecolor=STATE_COLOURS["running"], hatch="///",
                                label="predicted"))
        ax.axvspan(x(forecast.eta_low), x(forecast.eta_high), color="#3b7dd8", alpha=0.12, linewidth=0)
        ax.axvline(x(forecast.eta), color="#3b7dd8", linewidth=1.2, linestyle="--")
        ax.axvline(x(now), color="#444444", linewidth=0.8)
    ax.set_ylim(n - 0.5, -0.5)  # first row on top
    if len(rows) <= _MAX_LABELS:
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels(list(rows), fontsize=8 if len(rows) > 30 else 9)
    else:
        ax.set_yticks([])
        ax.set_ylabel(f"{len(rows)} nodes, in order of start")
    ax.set_xlim(0, max(x(t_end), 1e-9) * 1.02)
    ax.set_xlabel(f"time since the run started ({unit})")
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    if title:
        ax.set_title(title, fontsize=10)
    if legend:
        ax.legend(handles=legend, loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def _bars(ax, bars: list[tuple[float, float, int]], height: float, **style) -> None:
    """(left, width, row) bars as ONE collection (``barh`` makes a patch per bar: seconds for 1,000 nodes)."""
    from matplotlib.collections import PolyCollection

    h = height / 2
    verts = [((x0, y - h), (x0 + w, y - h), (x0 + w, y + h), (x0, y + h)) for x0, w, y in bars]
    ax.add_collection(PolyCollection(verts, **style))


def draw_gantt(attempts: Iterable[Mapping[str, Any]], out_path: str | os.PathLike, *, title: str | None = None,
               run_started: float | None = None, now: float | None = None, forecast=None) -> str:
    """Draw the timeline and write it as a PNG at ``out_path`` (atomically); returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from ..model.fileio import atomic_write_bytes

    fig = render_gantt(attempts, title=title, run_started=run_started, now=now, forecast=forecast)
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write_bytes(out_path, buf.getvalue())
    return os.fspath(out_path)
