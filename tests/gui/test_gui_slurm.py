"""The editor's Slurm side: profiles in the settings dialog, the host-key trust dialog
against a real throwaway sshd, and the re-attach offer when a workflow is reopened."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time

import pytest
from PySide6 import QtWidgets

from nodeflow.config import load_config
from nodeflow.gui import slurm_dialogs
from nodeflow.gui.settings_dialog import SettingsDialog, SlurmProfileDialog

SSHD = shutil.which("sshd", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def _filler(values: dict, name: str):
    def run(self, dlg):
        if isinstance(dlg, SlurmProfileDialog):
            if name is not None:
                dlg.name.setText(name)
            for k, v in values.items():
                dlg.set_field(k, v)
            dlg.try_accept()
            return dlg.result() == QtWidgets.QDialog.DialogCode.Accepted
        return False
    return run


def test_settings_add_edit_remove_slurm_profile(qtbot, home, dialogs, monkeypatch):
    from nodeflow.config import Config

    cfg = Config(path=home / "config" / "config.toml")
    dlg = SettingsDialog(cfg)
    qtbot.addWidget(dlg)
    monkeypatch.setattr(SettingsDialog, "_exec", _filler({"host": "login.example.org", "user": "alice",
                                                         "partition": "debug", "time_limit": "00:10:00",
                                                         "setup": ["module load python"]}, "hpc"))
    assert dlg.add_slurm()
    assert dlg.slurm_list.count() == 1
    assert dlg.executor.findText("slurm:hpc") >= 0  # the executor combo follows
    dlg.apply_to_config()
    saved = load_config(cfg.path)
    assert saved.slurm["hpc"]["host"] == "login.example.org"
    assert saved.slurm["hpc"]["setup"] == ["module load python"]
    assert saved.slurm["hpc"]["partition"] == "debug"

    # edit: rename and change the partition; a key the form does not show survives
    cfg = load_config(cfg.path)
    cfg.slurm["hpc"]["poll_cap_s"] = 5.0
    dlg = SettingsDialog(cfg)
    qtbot.addWidget(dlg)
    monkeypatch.setattr(SettingsDialog, "_exec", _filler({"partition": "long"}, "hpc2"))
    assert dlg.edit_slurm("hpc")
    dlg.apply_to_config()
    saved = load_config(cfg.path)
    assert list(saved.slurm) == ["hpc2"]
    assert saved.slurm["hpc2"]["partition"] == "long" and saved.slurm["hpc2"]["poll_cap_s"] == 5.0

    # an invalid value is refused in the dialog with the profile's own message
    dlg = SettingsDialog(saved)
    qtbot.addWidget(dlg)
    monkeypatch.setattr(SettingsDialog, "_exec", _filler({"host": "login", "time_limit": "soon"}, "bad"))
    assert not dlg.add_slurm()
    assert "bad" not in dlg.slurm

    assert dlg.remove_slurm("hpc2")
    dlg.apply_to_config()
    assert load_config(cfg.path).slurm == {}


def test_profile_dialog_needs_host_for_ssh(qtbot):
    d = SlurmProfileDialog("x", {})
    qtbot.addWidget(d)
    assert "host" in (d.validate() or "")
    d.set_field("transport", "local")
    assert d.validate() is None


def test_profile_and_server_dialogs_refuse_bad_and_taken_names(qtbot):
    from nodeflow.gui.settings_dialog import ServerAccountDialog

    d = SlurmProfileDialog("hpc", {"transport": "local"}, taken={"hpc"})
    s = ServerAccountDialog("team", "http://127.0.0.1:1", taken={"team"})
    for dlg in (d, s):
        qtbot.addWidget(dlg)
    s.token.setText("t")
    assert d.validate() == "There is a profile 'hpc' already."
    assert s.validate() == "There is a server 'team' already."
    for dlg in (d, s):
        dlg.name.setText("no spaces")
        assert "letters, digits" in dlg.validate()
        dlg.name.setText("fresh")
        assert dlg.validate() is None


# -- a real sshd for the trust dialog --------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sshd(tmp_path):
    if SSHD is None or shutil.which("ssh-keygen") is None:
        pytest.skip("OpenSSH server (sshd, ssh-keygen) is not installed")
    d = tmp_path / "sshd"
    d.mkdir()
    key = d / "host_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    port = _free_port()
    cfg = d / "sshd_config"
    cfg.write_text(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {key}\nPidFile {d / 'sshd.pid'}\n"
                   "UsePAM no\nPasswordAuthentication no\nStrictModes no\n")
    os.makedirs("/run/sshd", exist_ok=True)  # privilege separation directory (root)
    log = d / "sshd.log"
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(cfg)], stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    end = time.monotonic() + 10
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.skip(f"sshd could not start: {log.read_text()[-500:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.05)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "user_key")], check=True)
    pub = (d / "host_ed25519.pub").read_text().split()
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(d / "host_ed25519.pub")],
                         capture_output=True, text=True, check=True).stdout.split()[1]
    yield {"port": port, "fingerprint": out, "key_type": pub[0], "user_key": str(d / "user_key")}
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)


@pytest.mark.parametrize("accept", [True, False])
def test_trust_dialog_against_real_sshd(qtbot, home, dialogs, monkeypatch, tmp_path, sshd, accept):
    known = tmp_path / "ssh" / "known_hosts"  # fresh: the key is unknown
    table = {"host": "127.0.0.1", "port": sshd["port"], "user": "nobody", "key_file": sshd["user_key"],
             "use_agent": False, "known_hosts": str(known)}
    shown = []

    def ask(dlg):
        qtbot.addWidget(dlg)
        shown.append((dlg.entry, dlg.key_type, dlg.fingerprint, dlg.fp_field.text()))
        return accept

    monkeypatch.setattr(slurm_dialogs, "ask_trust", ask)
    ok = slurm_dialogs.trust_profile(None, "loop", table)
    assert ok is accept
    entry = f"[127.0.0.1]:{sshd['port']}"
    assert shown == [(entry, sshd["key_type"], sshd["fingerprint"], sshd["fingerprint"])]
    if not accept:
        assert not known.exists()
        return
    line = known.read_text().split()
    assert line[0] == entry and line[1] == sshd["key_type"]
    assert oct(known.stat().st_mode & 0o777) == "0o600"
    # the real transport now accepts the host key (and fails later, on the login: no user key)
    from nodeflow.executors.slurm.errors import AuthError, HostKeyError
    from nodeflow.executors.slurm.hostkeys import verified_client
    from nodeflow.executors.slurm.profile import SlurmProfile

    p = SlurmProfile.from_dict("loop", table)
    with pytest.raises(AuthError):
        verified_client(p, "127.0.0.1", sshd["port"], "nobody")
    # a second check says it is trusted already, without asking
    shown.clear()
    assert slurm_dialogs.trust_profile(None, "loop", table)
    assert shown == [] and "trusted already" in dialogs.of("information")[-1][2]
    # before trusting, the same transport refuses the unknown key
    other = dict(table, known_hosts=str(tmp_path / "empty_known_hosts"))
    with pytest.raises(HostKeyError) as e:
        verified_client(SlurmProfile.from_dict("loop", other), "127.0.0.1", sshd["port"], "nobody")
    assert "nodeflow slurm trust loop" in str(e.value)


def test_settings_trust_button_uses_selected_profile(qtbot, home, dialogs, monkeypatch, tmp_path, sshd):
    from nodeflow.config import Config

    known = tmp_path / "kh"
    cfg = Config(slurm={"loop": {"host": "127.0.0.1", "port": sshd["port"], "use_agent": True,
                                 "known_hosts": str(known)}}, path=home / "config.toml")
    dlg = SettingsDialog(cfg)
    qtbot.addWidget(dlg)
    monkeypatch.setattr(slurm_dialogs, "ask_trust", lambda d: True)
    dlg.slurm_list.setCurrentRow(0)
    assert dlg.trust_slurm()
    assert f"[127.0.0.1]:{sshd['port']}" in known.read_text()


# -- re-attach offer on reopening a workflow -------------------------------------------------------

def _unfinished_run(tmp_path, path, run_id="r-unfinished", jobs=True, state=None):
    from nodeflow.history.store import HistoryStore

    store = HistoryStore(tmp_path / "history.sqlite")  # the window's history (conftest make_window)
    from nodeflow import model

    wf = model.load(path)
    node = sorted(wf.nodes)[0]
    store.begin_run(run_id, workflow_path=os.path.abspath(path), workflow_hash=None, workflow_name="arithmetic",
                    executor="local", host="here", started_at=time.time() - 60, node_count=len(wf.nodes))
    if jobs:
        store.journal_job(run_id, node, 1, "local", "4242", None, time.time() - 50)
    if state:
        store.finish_run(run_id, state, time.time())
    store.close()
    return node


def test_reopening_offers_reattach_and_finishes_the_run(window, qtbot, dialogs, tmp_path, example):
    from nodeflow.history.store import HistoryStore

    path = example("arithmetic.nc")
    _unfinished_run(tmp_path, path)
    assert window.files.open_path(path, ask=False)
    asked = [c for c in dialogs.of("question") if "Re-attach to run r-unfinished?" in c[2]]
    assert asked, dialogs.calls
    qtbot.waitUntil(lambda: not window.run.running, timeout=60_000)
    assert window.run.last_run_id == "r-unfinished" and window.run.last_state == "succeeded"
    store = HistoryStore(tmp_path / "history.sqlite")
    assert store.run("r-unfinished")["state"] == "succeeded"
    assert len(store.runs(workflow_path=os.path.abspath(path))) == 1  # the same run finished, no new one
    store.close()
    # reopening now offers nothing
    dialogs.calls.clear()
    assert window.files.open_path(path, ask=False)
    assert not [c for c in dialogs.of("question") if "Re-attach" in c[2]]


def test_reattach_declined_or_not_applicable(window, qtbot, dialogs, tmp_path, example):
    path = example("arithmetic.nc")
    _unfinished_run(tmp_path, path, "r-nojobs", jobs=False)  # nothing journaled: nothing to re-attach to
    _unfinished_run(tmp_path, path, "r-done", state="succeeded")
    assert window.files.open_path(path, ask=False)
    assert not [c for c in dialogs.of("question") if "Re-attach" in c[2]]
    _unfinished_run(tmp_path, path, "r-live")
    dialogs.answers["question"] = QtWidgets.QMessageBox.StandardButton.No
    assert window.files.open_path(path, ask=False)
    assert [c for c in dialogs.of("question") if "Re-attach to run r-live?" in c[2]]
    assert not window.run.running
    dialogs.calls.clear()
    assert window.files.open_path(path, ask=False)  # declined once: not asked again in this window
    assert not [c for c in dialogs.of("question") if "Re-attach" in c[2]]


def test_run_refused_on_unknown_host_key_offers_trust_dialog(make_window, qtbot, dialogs, monkeypatch, tmp_path,
                                                             sshd, example):
    """A real run on slurm:loop (the throwaway sshd, a fresh known_hosts): the nodes fail on the unknown
    host key, the window offers the trust dialog, and accepting it writes known_hosts."""
    window = make_window()
    known = tmp_path / "fresh_known_hosts"
    window.config.slurm = {"loop": {"host": "127.0.0.1", "port": sshd["port"], "user": "nobody",
                                    "key_file": sshd["user_key"], "use_agent": False, "known_hosts": str(known),
                                    "connect_timeout_s": 5}}
    window.apply_settings()
    shown = []
    monkeypatch.setattr(slurm_dialogs, "ask_trust", lambda d: shown.append(d.fingerprint) or True)
    assert window.files.open_path(example("arithmetic.nc"), ask=False)
    window.runs.refresh_executors(prefer="slurm:loop")
    assert window.runs.executor.currentText() == "slurm:loop"
    assert window.runs.start()
    qtbot.waitUntil(lambda: not window.run.running, timeout=120_000)
    offered = [c for c in dialogs.of("question") if "slurm:loop" in c[2]]
    assert offered and "not in" in offered[0][2], dialogs.calls
    assert shown == [sshd["fingerprint"]]
    assert f"[127.0.0.1]:{sshd['port']}" in known.read_text()
