"""Issue 7 in the window: ETA text on the progress bar, expected starts, the Timeline dock."""
from __future__ import annotations

import shlex

import pytest
from PySide6 import QtCore
from PySide6.QtTest import QTest

pytestmark = pytest.mark.gui
RUN_TIMEOUT_MS = 90_000


def sleepy_workflow(window, tmp_path, seconds="0.7"):
    """Three chained sleeping commands (~2 s), saved so the history knows the file. While the
    file ``tmp_path / "hold"`` exists the last one goes on waiting (at most a minute): a test
    holds a run that way instead of betting on the machine's speed."""
    doc = window.doc
    names = []
    hold = shlex.quote(str(tmp_path / "hold"))
    for i in range(3):
        n = doc.add_node(("shell", "Command"), (i * 300, 0))
        if i < 2:
            doc.set_value(n, "command", "sleep")
            doc.set_value(n, "args", [seconds])
        else:
            doc.set_value(n, "command", "sh")
            doc.set_value(n, "args", ["-c", f"sleep {seconds}; n=0; while [ -e {hold} ] && [ $n -lt 1200 ]; "
                                            "do sleep 0.05; n=$((n+1)); done"])
        names.append(n)
    for a, b in zip(names, names[1:]):
        assert doc.connect((a, "stdout"), (b, "after")) is None
    path = tmp_path / "sleepy.nc"
    doc.save(str(path))
    return names


def run_and_wait(window, qtbot):
    window.runs.act_run.trigger()
    qtbot.waitUntil(lambda: not window.run.running, timeout=RUN_TIMEOUT_MS)


def test_eta_from_priors_then_from_history_and_timeline(window, qtbot, tmp_path):
    names = sleepy_workflow(window, tmp_path)
    eta = window.runs.progress.eta
    # first run: no history, so the ETA says it comes from priors
    window.runs.act_run.trigger()
    qtbot.waitUntil(lambda: eta.text().startswith("ETA"), timeout=30_000)
    assert "from priors" in eta.text()
    qtbot.waitUntil(lambda: not window.run.running, timeout=RUN_TIMEOUT_MS)
    assert window.run.last_state == "succeeded"
    assert eta.text().startswith("done")
    panel = window.eta_view.panel
    assert panel.past.count() == 1  # the run just made is now history of this file
    # second run: with history, ETA and band during the run, predicted bars hatched in the Timeline dock
    hold = tmp_path / "hold"
    hold.touch()  # the last node waits until the checks below are done
    window.runs.act_run.trigger()
    qtbot.waitUntil(lambda: eta.text().startswith("ETA"), timeout=30_000)
    assert "±" in eta.text() and "from priors" not in eta.text()
    dock = window.docks["timeline"]
    dock.show()
    dock.raise_()
    qtbot.waitUntil(lambda: any(b.predicted for b in panel.view.bars), timeout=30_000)
    assert window.run.running
    # a queued/pending node shows its expected start on hover
    waiting = [n for n in names if window.run.info(n) is None or window.run.info(n).state in ("pending", "queued")]
    if waiting:
        assert "expected start" in window.canvas.item(waiting[-1]).toolTip()
    hold.unlink()
    qtbot.waitUntil(lambda: not window.run.running, timeout=RUN_TIMEOUT_MS)
    # past runs can be drawn next to the current one
    assert panel.past.count() == 2
    panel.check_run(panel.past.item(1).data(QtCore.Qt.ItemDataRole.UserRole))
    runs = {b.run for b in panel.view.bars}
    assert len(runs) == 2 and panel.CURRENT in runs
    assert not any(b.predicted for b in panel.view.bars)  # finished: all actual
    assert not window.canvas.item(names[-1]).toolTip().startswith(names[-1] + ": pending")


def test_clicking_a_timeline_bar_selects_the_node(window, qtbot, tmp_path):
    names = sleepy_workflow(window, tmp_path, seconds="0.1")
    run_and_wait(window, qtbot)
    dock = window.docks["timeline"]
    dock.show()
    dock.raise_()
    view = window.eta_view.panel.view
    window.eta_view.panel.redraw()
    bar = view.bar_of(names[1], window.eta_view.panel.CURRENT)
    assert bar is not None
    window.canvas.select([])
    view.ensureVisible(bar)
    QtCore.QCoreApplication.processEvents()
    pos = view.mapFromScene(bar.sceneBoundingRect().center())
    QTest.mouseClick(view.viewport(), QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.NoModifier, pos)
    qtbot.waitUntil(lambda: window.canvas.selected_names() == [names[1]])
