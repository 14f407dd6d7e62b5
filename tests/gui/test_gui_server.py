"""The editor's server side against a REAL ``nodeflow server`` subprocess (uvicorn on a free
loopback port) and one real ``nodeflow runner`` process: server accounts in the settings
dialog (token in the 0600 file, never in config.toml), push, open from server, history +
diff + open an old version, the runners view, and runner executors in the executor lists."""
from __future__ import annotations

import signal
import stat
import sys
from pathlib import Path

import pytest
from PySide6 import QtWidgets

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.remote.conftest import RunnerProc, ServerProc, wait_until  # noqa: E402

from nodeflow.config import load_config  # noqa: E402
from nodeflow.gui import server_dialogs  # noqa: E402
from nodeflow.gui.server_dialogs import HistoryDialog, OpenFromServerDialog, PushDialog  # noqa: E402
from nodeflow.gui.settings_dialog import ServerAccountDialog, SettingsDialog  # noqa: E402


@pytest.fixture(autouse=True)
def _file_tokens(monkeypatch):
    monkeypatch.setenv("NODEFLOW_NO_KEYRING", "1")  # the 0600 file store, whatever the machine has


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gui-server")
    server = ServerProc(tmp / "data", "--heartbeat", "1").start()
    alice = server.add_user("alice", admin=True)
    with server.client(alice) as c:
        runner_token = c.request("POST", "/tokens", json={"kind": "runner", "label": "gui"})["token"]
    runner = RunnerProc(server, runner_token, tmp, "gui-r1", "gpu,linux", 3).start()

    class S:
        pass

    s = S()
    s.server, s.alice, s.runner, s.tmp = server, alice, runner, tmp
    yield s
    runner.stop()
    server.kill(signal.SIGTERM)


def _account(name, url, token):
    def run(self, dlg):
        if isinstance(dlg, ServerAccountDialog):
            dlg.name.setText(name)
            dlg.url.setText(url)
            dlg.token.setText(token)
            dlg.try_accept()
            return dlg.result() == QtWidgets.QDialog.DialogCode.Accepted
        return False
    return run


def _configure(window, srv, monkeypatch, name="team"):
    """Add the server account through the settings dialog, as a user would."""
    dlg = SettingsDialog(window.config, window)
    monkeypatch.setattr(SettingsDialog, "_exec", _account(name, srv.server.url, srv.alice))
    assert dlg.add_server()
    dlg.apply_to_config()
    window.apply_settings()


def test_settings_server_account_token_in_private_file(qtbot, home, dialogs, monkeypatch, srv):
    from nodeflow.config import Config
    from nodeflow.remote.credentials import load_token, tokens_dir

    cfg = Config(path=home / "config" / "config.toml")
    dlg = SettingsDialog(cfg)
    qtbot.addWidget(dlg)
    monkeypatch.setattr(SettingsDialog, "_exec", _account("team", srv.server.url, "secret-token-123"))
    assert dlg.add_server()
    assert dlg.executor.findText("runner:team") >= 0
    assert load_token("team") is None  # nothing written before OK
    dlg.apply_to_config()
    text = cfg.path.read_text()
    assert srv.server.url in text and "secret-token-123" not in text and "token" not in text
    f = tokens_dir() / "team"
    assert f.read_text().strip() == "secret-token-123"
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert load_token("team") == "secret-token-123"

    # edit: a new URL and token, renamed
    cfg = load_config(cfg.path)
    dlg = SettingsDialog(cfg)
    qtbot.addWidget(dlg)
    monkeypatch.setattr(SettingsDialog, "_exec", _account("team2", "http://127.0.0.1:1", "tok-2"))
    assert dlg.edit_server("team")
    dlg.apply_to_config()
    saved = load_config(cfg.path)
    assert saved.server == {"team2": {"url": "http://127.0.0.1:1"}}
    assert load_token("team2") == "tok-2" and load_token("team") is None
    assert "tok-2" not in cfg.path.read_text()

    # edit with an empty token keeps the stored one
    dlg = SettingsDialog(saved)
    qtbot.addWidget(dlg)
    monkeypatch.setattr(SettingsDialog, "_exec", _account("team2", "http://127.0.0.1:2", ""))
    assert dlg.edit_server("team2")
    dlg.apply_to_config()
    assert load_token("team2") == "tok-2"

    # Test connection: the real server says who the token is; a bad token is reported
    d = ServerAccountDialog()
    qtbot.addWidget(d)
    d.url.setText(srv.server.url)
    d.token.setText(srv.alice)
    assert d.test_connection().startswith("OK: signed in as alice")
    d.token.setText("wrong")
    assert "401" in d.test_connection() or "token" in d.error.text().lower()

    # a bad URL is refused in the dialog
    d = ServerAccountDialog()
    qtbot.addWidget(d)
    d.name.setText("x")
    d.url.setText("ftp://nope")
    d.token.setText("t")
    assert "http" in d.validate()

    # remove: the URL leaves config.toml and the token file goes
    dlg = SettingsDialog(load_config(cfg.path))
    qtbot.addWidget(dlg)
    assert dlg.remove_server("team2")
    dlg.apply_to_config()
    assert load_config(cfg.path).server == {}
    assert not (tokens_dir() / "team2").exists()


def test_push_open_history_diff_against_real_server(window, dialogs, monkeypatch, srv, example):
    _configure(window, srv, monkeypatch)
    sa = window.server_actions
    assert window.files.open_path(example("arithmetic.nc"), ask=False)
    messages = iter(["first", "second", "third"])

    def exec_(self, dlg):
        qtbot_widgets.append(dlg)
        if isinstance(dlg, PushDialog):
            assert dlg.server.currentText() == "team"
            dlg.name.setText("gui-flow")
            dlg.message.setText(next(messages))
            return True
        if isinstance(dlg, OpenFromServerDialog):
            assert dlg.select_workflow("gui-flow", "alice")
            rows = dlg.history.versions()
            assert rows == [3, 2, 1]
            dlg.history.select_versions(1)
            return True
        if isinstance(dlg, HistoryDialog):
            history_seen.append(dlg)
            return True
        raise AssertionError(dlg)

    qtbot_widgets: list = []
    history_seen: list = []
    monkeypatch.setattr(server_dialogs.ServerActions, "_exec", exec_)
    out = sa.push()
    assert out["version"] == 1 and out["owner"] == "alice"
    v1_nodes = set(window.doc.workflow.nodes)
    # change the workflow (delete a node) and push twice more
    victim = sorted(v1_nodes)[0]
    from nodeflow.model import dumps, loads

    wf = loads(dumps(window.doc.workflow))
    wf.remove_node(victim)
    window.doc.open_text(dumps(wf), None, modified=True)
    assert sa.push()["version"] == 2
    assert sa.push()["version"] == 3
    with srv.server.client(srv.alice) as c:
        hist = c.history("gui-flow")
    assert [h["message"] for h in sorted(hist, key=lambda h: h["version"])] == ["first", "second", "third"]

    # open from server: version 1 comes back as an unsaved document
    assert sa.open_from_server()
    assert window.doc.path is None and window.doc.modified
    assert set(window.doc.workflow.nodes) == v1_nodes

    # history dialog: three versions with author and message; diff 1..2 names the removed node
    dlg = sa.show_history()
    assert history_seen and dlg is history_seen[0]
    table = dlg.pane.table
    assert table.rowCount() == 3
    assert [table.item(r, 1).text() for r in range(3)] == ["alice"] * 3
    assert [table.item(r, 3).text() for r in range(3)] == ["third", "second", "first"]
    dlg.pane.select_versions(1, 2)
    diff = dlg.show_diff()
    assert sorted(dlg.pane.selected_versions()) == [1, 2], dialogs.calls
    assert diff and victim in diff, dialogs.calls
    assert victim in dlg.pane.diff.toPlainText()
    # open version 2 from the history dialog
    dlg.pane.select_versions(2)
    assert dlg.open_selected()
    assert victim not in window.doc.workflow.nodes
    assert "version 2" in window.statusBar().currentMessage()


def test_push_reports_server_errors(window, dialogs, monkeypatch, srv):
    from nodeflow.remote.credentials import store_token

    window.config.server = {"bad": {"url": srv.server.url}}
    store_token("bad", "not-a-valid-token")
    monkeypatch.setattr(server_dialogs.ServerActions, "_exec", lambda self, dlg: True)
    assert window.server_actions.push() is None
    kind, title, text = dialogs.of("warning")[-1]
    assert title == "Push failed" and ("401" in text or "token" in text.lower())


def test_runners_view_lists_real_runner(window, qtbot, dialogs, monkeypatch, srv):
    _configure(window, srv, monkeypatch)
    view = window.runners_view
    assert "runners" in window.docks

    def listed():
        runners = view.refresh()
        return runners if runners and any(r["name"] == "gui-r1" for r in runners) else None

    wait_until(listed, 20, what="the runner in the runners view")
    row = [r for r in view.rows() if r[0] == "gui-r1"][0]
    name, host, tags, slots, state, heartbeat, tasks = row
    assert tags == "gpu, linux" and slots == "3" and state == "online"
    assert "s ago" in heartbeat and tasks == "—"
    assert "runners on team" in view.status.text()

    # shown (its dock raised): it fetches in the background by itself, and again on the timer
    view.table.setRowCount(0)
    view.status.setText("")
    window.docks["runners"].show()
    window.docks["runners"].raise_()
    qtbot.waitUntil(lambda: view.isVisible() and any(r[0] == "gui-r1" for r in view.rows()), timeout=20_000)
    view.table.setRowCount(0)
    view.timer.setInterval(200)
    qtbot.waitUntil(lambda: any(r[0] == "gui-r1" for r in view.rows()), timeout=20_000)


def test_runner_executor_offered_per_run_and_per_node(window, qtbot, dialogs, monkeypatch, srv):
    _configure(window, srv, monkeypatch)
    combo = window.runs.executor
    assert combo.findText("runner:team") >= 0
    assert "runner:team" in window._executor_names()
    # per node: the run-settings executor list offers runner:team, and tags are edited beside it
    name = window.doc.add_node(("math", "Power"))
    window.canvas.select([name])
    qtbot.waitUntil(lambda: window.properties.name == name)
    s = window.properties.setting
    ex = s("executor")
    assert ex.findText("runner:team") >= 0
    ex.setCurrentText("runner:team")
    ex.lineEdit().editingFinished.emit()
    s("tags").setText("gpu, linux")
    s("tags").editingFinished.emit()
    from nodeflow.engine.settings import NodeSettings

    got = NodeSettings.of(window.doc.workflow.nodes[name])
    assert (got.executor, got.tags) == ("runner:team", ("gpu", "linux"))
    window.doc.undo_stack.undo()  # the tags edit is one undoable step
    assert NodeSettings.of(window.doc.workflow.nodes[name]).tags == ()
    qtbot.waitUntil(lambda: s("tags").text() == "")


def test_run_through_real_runner_from_the_editor(window, qtbot, dialogs, monkeypatch, srv, example):
    """Per run: runner:team picked in the executor combo; the nodes run on the real runner process."""
    _configure(window, srv, monkeypatch)
    assert window.files.open_path(example("arithmetic.nc"), ask=False)
    combo = window.runs.executor
    i = combo.findText("runner:team")
    assert i >= 0 and combo.model().item(i).isEnabled(), combo.model().item(i).toolTip()
    before = set(srv.runner.tasks_run())
    window.runs.refresh_executors(prefer="runner:team")
    assert window.runs.start()
    qtbot.waitUntil(lambda: not window.run.running, timeout=120_000)
    assert window.run.last_state == "succeeded", dialogs.calls
    assert set(srv.runner.tasks_run()) - before  # task folders on the runner: it ran them
