"""``nodeflow history [FILE] [--history PATH] [--run RUN_ID] [--limit N] [--gantt OUT.png]``: earlier runs.

Without ``--run`` it lists runs newest first (only those of FILE when given:
runs whose workflow path is FILE's absolute path), then the per-node rows of
the latest of them; with ``--run`` it shows that run and its per-node rows.
``--gantt OUT.png`` also draws that run's timeline (``history/gantt.py``).
Exit 0; 1 when the history file does not exist (or can't be read) or the
picture can't be written; 2 for an unknown run id.
"""
from __future__ import annotations

import os
import sqlite3
import sys
from datetime import datetime
from typing import Any, Sequence


def add_parser(sub):
    p = sub.add_parser("history", help="list earlier runs and how long their nodes took",
                       description="List earlier runs (newest first) and the per-node timings of one of them.")
    p.add_argument("file", nargs="?", metavar="FILE", help="only runs of this workflow file")
    p.add_argument("--history", metavar="PATH", help="history file (default: the user's nodeflow history)")
    p.add_argument("--run", metavar="RUN_ID", help="show this run's per-node rows")
    p.add_argument("--limit", type=int, default=20, metavar="N", help="list at most N runs (default 20)")
    p.add_argument("--gantt", metavar="OUT.png",
                   help="draw the timeline of the run shown (--run, else the latest) as a PNG")
    p.set_defaults(handler=run)
    return p


def run(args) -> int:
    from ..history.store import HistoryError, HistoryStore, default_history_path

    path = getattr(args, "history", None) or default_history_path()
    if not os.path.isfile(path):
        print(f"no run history at {path}", file=sys.stderr)
        return 1
    try:
        store = HistoryStore(path)
    except (HistoryError, OSError, sqlite3.Error) as e:
        print(f"{path}: cannot read the run history: {e}", file=sys.stderr)
        return 1
    with store:
        run_id = getattr(args, "run", None)
        if run_id:
            info = store.run(run_id)
            if info is None:
                print(f"{path}: no run {run_id!r}", file=sys.stderr)
                return 2
            _print_runs([info], with_workflow=True)
        else:
            limit = max(1, getattr(args, "limit", None) or 20)
            file = getattr(args, "file", None)
            if file:
                runs = _runs_of_file(store, file, limit)
                if not runs:
                    print(f"no runs of {os.path.abspath(file)} recorded")
                    return _nothing_to_draw(args)
                print(f"runs of {os.path.abspath(file)}, newest first:")
            else:
                runs = store.runs(limit=limit)
                if not runs:
                    print("no runs recorded")
                    return _nothing_to_draw(args)
                print("runs, newest first:")
            _print_runs(runs, with_workflow=not file)
            info = runs[0]
        print()
        print(f"nodes of run {info['run_id']}:")
        attempts = store.attempts(info["run_id"])
        _print_attempts(attempts)
    gantt = getattr(args, "gantt", None)
    if gantt:
        return _draw(gantt, info, attempts)
    return 0


def _nothing_to_draw(args) -> int:
    if getattr(args, "gantt", None):
        print(f"{args.gantt}: not written: there is no run to draw", file=sys.stderr)
        return 1
    return 0


def _draw(out: str, info: dict[str, Any], attempts: list[dict[str, Any]]) -> int:
    from ..history.gantt import draw_gantt

    name = info.get("workflow_name") or os.path.basename(info.get("workflow_path") or "") or "run"
    title = f"{name} — run {info['run_id']} ({info.get('state') or '-'}, " \
            f"{_duration(info.get('started_at'), info.get('finished_at'))})"
    try:
        draw_gantt(attempts, out, title=title, run_started=info.get("started_at"),
                   now=info.get("finished_at"))
    except OSError as e:
        print(f"{out}: cannot write the timeline: {e.strerror or e}", file=sys.stderr)
        return 1
    print(f"timeline of run {info['run_id']} written to {out}")
    return 0


def _runs_of_file(store, file: str, limit: int) -> list[dict[str, Any]]:
    absolute = os.path.abspath(file)
    runs = store.runs(workflow_path=absolute, limit=limit)
    real = os.path.realpath(file)
    if real != absolute:  # the engine may have recorded the resolved path
        seen = {r["run_id"] for r in runs}
        runs += [r for r in store.runs(workflow_path=real, limit=limit) if r["run_id"] not in seen]
        runs.sort(key=lambda r: r["started_at"] or 0.0, reverse=True)
        runs = runs[:limit]
    return runs


def _print_runs(runs: list[dict[str, Any]], with_workflow: bool = False) -> None:
    header = ["RUN", "STARTED", "DURATION", "STATE", "NODES"] + (["WORKFLOW"] if with_workflow else [])
    rows = []
    for r in runs:
        row = [r["run_id"], _when(r["started_at"]), _duration(r["started_at"], r["finished_at"]),
               r["state"] or "-", "-" if r["node_count"] is None else str(r["node_count"])]
        if with_workflow:
            row.append(r["workflow_name"] or r["workflow_path"] or "-")
        rows.append(row)
    _table(header, rows, right={2, 4})


def _print_attempts(attempts: list[dict[str, Any]]) -> None:
    if not attempts:
        print("  (no node rows)")
        return
    attempts = sorted(attempts, key=lambda a: (_first_time(a), a["node"], a["attempt"]))
    rows = []
    for a in attempts:
        if a["started_at"] is not None and a["finished_at"] is not None:
            secs = f"{a['finished_at'] - a['started_at']:.2f}"
        else:
            secs = "-"
        state = a["state"] or "-"
        if a["reused"]:
            state += " (reused)"
        rows.append([a["node"], a["node_type"] or "-", a["executor"] or "-", state, str(a["attempt"]), secs])
    _table(["NODE", "TYPE", "EXECUTOR", "STATE", "ATTEMPT", "DURATION (s)"], rows, right={4, 5})


def _first_time(a: dict[str, Any]) -> float:
    for key in ("queued_at", "started_at", "finished_at"):
        if a[key] is not None:
            return a[key]
    return float("inf")


def _table(header: Sequence[str], rows: list[Sequence[str]], right: set[int] = frozenset()) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]

    def line(cells):
        out = [str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "  ".join(out).rstrip()

    print(line(header))
    for r in rows:
        print(line(r))


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _duration(start: float | None, end: float | None) -> str:
    if start is None or end is None:
        return "-"
    s = max(0.0, end - start)
    if s < 60:
        return f"{s:.1f}s"
    m, s = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m}m {s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m {s:02d}s"
