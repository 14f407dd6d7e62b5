"""history/gantt.py: timelines drawn with the Agg canvas, in-process."""
from __future__ import annotations

from nodeflow.history.eta import Estimate, EtaTracker, NodeEstimate, NodeSpec, ScheduleModel
from nodeflow.history.gantt import STATE_COLOURS, draw_gantt, render_gantt

PNG = b"\x89PNG\r\n\x1a\n"
T0 = 1_700_000_000.0


def att(node, q, s, f, state="succeeded", attempt=1):
    return {"node": node, "attempt": attempt, "queued_at": None if q is None else T0 + q,
            "started_at": None if s is None else T0 + s, "finished_at": None if f is None else T0 + f,
            "state": state}


ATTEMPTS = [att("prep", 0, 1, 30), att("solve", 30, 45, 200, "failed"), att("solve", 210, 212, 400, attempt=2),
            att("plot", None, None, 400, "skipped"), att("report", 400, 401, None, "running")]


def test_draws_every_state_and_writes_a_png(tmp_path):
    fig = render_gantt(ATTEMPTS, title="flow", run_started=T0, now=T0 + 450)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["prep", "solve", "plot", "report"]  # by first time
    labels = {t.get_text() for t in ax.get_legend().get_texts()}
    assert {"succeeded", "failed", "skipped", "running", "waiting in queue"} <= labels
    assert ax.get_xlabel().endswith("(min)")  # 450 s: minutes
    out = draw_gantt(ATTEMPTS, tmp_path / "g.png", title="flow", run_started=T0)
    data = (tmp_path / "g.png").read_bytes()
    assert out == str(tmp_path / "g.png") and data[:8] == PNG
    assert not [p for p in tmp_path.iterdir() if p.name != "g.png"]  # written atomically: no leftovers


def test_many_nodes_drop_the_names_but_still_draw(tmp_path):
    attempts = [att(f"n{i:04d}", i, i + 1, i + 30) for i in range(600)]
    fig = render_gantt(attempts)
    assert len(fig.axes[0].get_yticks()) == 0 and "600 nodes" in fig.axes[0].get_ylabel()
    draw_gantt(attempts, tmp_path / "big.png")
    assert (tmp_path / "big.png").read_bytes()[:8] == PNG


def test_a_forecast_adds_the_predicted_part_and_the_eta_band(tmp_path):
    names = ["prep", "solve", "plot"]
    tracker = EtaTracker(ScheduleModel(names, [("prep", "solve"), ("solve", "plot")], ["local"] * 3, {"local": 1}),
                         [NodeSpec(n, "t/T") for n in names],
                         [NodeEstimate(Estimate(100.0, 20.0, "history:node", 4))] * 3, auto=False)
    from nodeflow.engine.events import EventKind as K
    from nodeflow.engine.events import RunEvent

    for kind, node, t in ((K.NODE_STARTED, "prep", 0), (K.NODE_SUCCEEDED, "prep", 90), (K.NODE_STARTED, "solve", 90)):
        tracker.on_event(RunEvent(kind, "r", T0 + t, node, 1, {}))
    fc = tracker.recompute(T0 + 120)
    attempts = [att("prep", 0, 0, 90), att("solve", 90, 90, None, "running")]
    fig = render_gantt(attempts, run_started=T0, forecast=fc)
    ax = fig.axes[0]
    assert "predicted" in {t.get_text() for t in ax.get_legend().get_texts()}
    assert [t.get_text() for t in ax.get_yticklabels()] == ["prep", "solve", "plot"]  # plot: predicted only
    assert ax.get_xlim()[1] * 60 >= fc.eta_high - T0  # the band is in view
    draw_gantt(attempts, tmp_path / "live.png", run_started=T0, forecast=fc)
    assert (tmp_path / "live.png").read_bytes()[:8] == PNG


def test_state_colours_cover_every_node_state():
    from nodeflow.engine.states import NodeState

    assert {s.value for s in NodeState} <= set(STATE_COLOURS)


def test_no_qt_needed(tmp_path):
    """The ETA and the timeline work with Qt made unimportable (pytest-qt has loaded it here: a subprocess)."""
    import subprocess
    import sys

    code = """
import sys
for m in ("PySide6", "PyQt5", "PyQt6", "NodeGraphQt", "Qt"):
    sys.modules[m] = None
from nodeflow.history.eta import EtaTracker, Estimator
from nodeflow.history.gantt import draw_gantt
import nodeflow.commands.estimate_cmd, nodeflow.commands.progress
draw_gantt([{"node": "a", "attempt": 1, "queued_at": 0.0, "started_at": 1.0, "finished_at": 2.0,
             "state": "succeeded"}], sys.argv[1])
print("ok")
"""
    p = subprocess.run([sys.executable, "-c", code, str(tmp_path / "a.png")], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr
    assert (tmp_path / "a.png").read_bytes()[:8] == PNG
