"""Big workflows: the far-zoom overview, editing in it, a full run, and closing without leaks."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from gui_helpers import connections, drawn_connections

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_gui import generate  # noqa: E402  (the benchmark's workflow generator)

pytestmark = pytest.mark.gui


@pytest.fixture
def big(tmp_path):
    path = tmp_path / "big.nc"
    path.write_text(json.dumps(generate(400, seed=3)))
    return str(path)


def test_big_workflow_opens_in_overview_and_stays_editable(window, qtbot, big):
    assert window.files.open_path(big)
    c = window.canvas
    assert len(c.node_names()) == 400 and drawn_connections(window) == connections(window)
    assert c.overview_on  # framed whole, it is far too small for text: blocks in one item
    c.select_all()
    assert len(c.selected_names()) == 400
    name = c.node_names()[-1]
    c.select([name])
    window.act_delete.trigger()
    assert name not in c.node_names() and name not in window.doc.workflow.nodes
    assert all(it in c.scene.items() for it in c.overview.item.items)
    window.doc.undo_stack.undo()
    assert name in c.node_names() and drawn_connections(window) == connections(window)
    assert c.item(name) in c.overview.item.items
    # zoomed in, nodes draw themselves again
    c.select([name])
    c.frame_selection()
    assert not c.overview_on
    assert not (c.item(name).flags() & c.item(name).GraphicsItemFlag.ItemHasNoContents)


def test_big_workflow_runs_and_every_node_succeeds(window, qtbot, big):
    window.files.open_path(big)
    window.runs.start()
    qtbot.waitUntil(lambda: not window.run.running, timeout=120_000)
    assert window.run.last_state == "succeeded"
    assert {window.canvas.state_of(n) for n in window.canvas.node_names()} == {"succeeded"}
    assert window.runs.progress.bar.value() == 400


def test_reopening_frees_the_old_views(window, big):
    import gc
    import weakref

    window.files.open_path(big)
    first = weakref.ref(window.canvas.graph.model.nodes[next(iter(window.canvas.graph.model.nodes))])
    window.files.open_path(big)
    gc.collect()
    assert first() is None
    assert len(window.canvas.graph.model.nodes) == 400
    assert len([i for i in window.canvas.scene.items() if hasattr(i, "uniquename")]) == 400
