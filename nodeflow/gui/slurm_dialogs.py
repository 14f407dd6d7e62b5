"""The GUI's side of Slurm host keys: the trust dialog (``nodeflow slurm trust PROFILE`` as a dialog).

``trust_profile(parent, name, table)`` walks the same hops as the CLI (jump
host, then login node) through ``executors.slurm.hostkeys.trust_host_keys``:
it says when a key is trusted already or when it changed (possible attack:
never offered), and otherwise shows ``HostKeyDialog`` with the key type and
SHA256 fingerprint; only on "Trust" is the key appended to the profile's
known_hosts. Nothing here ever accepts a key without the user.

``ReattachOffer`` watches files being opened: a run of that file still
"running" in the history with journaled jobs is offered for re-attaching
(``run_workflow(attach=RUN_ID)`` through the window's run actions).
"""
from __future__ import annotations

import os
import re
import time

from PySide6 import QtCore, QtWidgets

Btn = QtWidgets.QMessageBox.StandardButton
TRUST_HINT = re.compile(r"nodeflow slurm trust ([A-Za-z0-9_.-]+)")


class HostKeyDialog(QtWidgets.QDialog):
    """Shows one host key and asks whether to trust it."""

    def __init__(self, what: str, entry: str, key_type: str, fp: str, known_hosts: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Trust this host key?")
        self.what, self.entry, self.key_type, self.fingerprint, self.known_hosts = what, entry, key_type, fp, \
            known_hosts
        text = QtWidgets.QLabel(
            f"The {what} <b>{entry}</b> presents this {key_type} host key:"
            f"<pre>    {fp}</pre>"
            "Compare it with the fingerprint your cluster's admins publish before you accept it.<br>"
            f"Trust it and add it to <tt>{known_hosts}</tt>?")
        text.setWordWrap(True)
        self.fp_field = QtWidgets.QLineEdit(fp)  # selectable, to copy and compare
        self.fp_field.setReadOnly(True)
        buttons = QtWidgets.QDialogButtonBox()
        self.trust_button = buttons.addButton("Trust", QtWidgets.QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QtWidgets.QVBoxLayout(self)
        lay.addWidget(text)
        lay.addWidget(self.fp_field)
        lay.addWidget(buttons)


def ask_trust(dlg: HostKeyDialog) -> bool:
    """Run the dialog modally (tests replace this)."""
    return dlg.exec() == QtWidgets.QDialog.DialogCode.Accepted


def trust_profile(parent, name: str, table: dict) -> bool:
    """Check (and on the user's word, trust) the host keys of Slurm profile ``name``; True when all are trusted."""
    try:
        from ..executors.slurm.hostkeys import TrustRefused, trust_host_keys
        from ..executors.slurm.profile import SlurmProfile

        profile = SlurmProfile.from_dict(name, table)
    except Exception as e:
        QtWidgets.QMessageBox.warning(parent, "Cannot check the host key", f"slurm:{name}: {e}")
        return False
    if profile.transport != "ssh":
        QtWidgets.QMessageBox.information(parent, "No host key", f"slurm:{name} uses transport "
                                          f"{profile.transport!r}: there is no host key to trust.")
        return True

    def accept(what, entry, key, fp, known_hosts) -> bool:
        return ask_trust(HostKeyDialog(what, entry, key.get_name(), fp, known_hosts, parent))

    try:
        notes = trust_host_keys(profile, accept)
    except TrustRefused as e:
        if not e.declined:
            box = QtWidgets.QMessageBox.critical if e.title == "Host key changed" else QtWidgets.QMessageBox.warning
            box(parent, e.title, str(e))
        return False
    if notes:
        QtWidgets.QMessageBox.information(parent, "Host keys", "\n".join(n[:1].upper() + n[1:] + "." for n in notes))
    return True


def offer_trust_for_error(window, message: str) -> bool | None:
    """When a run failed on an unknown/changed host key (its message names ``nodeflow slurm trust P``),
    offer the trust dialog for profile P; None when the message is not about host keys."""
    m = TRUST_HINT.search(message or "")
    if not m or m.group(1) not in window.config.slurm:
        return None
    if "MISMATCH" in message:
        return False  # a changed key is never offered: the message says what to check
    name = m.group(1)
    answer = QtWidgets.QMessageBox.question(window, "Unknown host key",
                                            f"{message}\n\nCheck the host key of slurm:{name} now?",
                                            Btn.Yes | Btn.No, Btn.Yes)
    if answer != Btn.Yes:
        return False
    return trust_profile(window, name, window.config.slurm[name])


def offer_trust_for_failures(window, nodes: dict) -> bool | None:
    """After a run: when nodes failed because a Slurm host key is not trusted, offer the trust dialog once."""
    for info in nodes.values():
        err = getattr(info, "error", None) or ""
        if getattr(info, "state", None) == "failed" and TRUST_HINT.search(err):
            got = offer_trust_for_error(window, err.strip())
            if got is not None:
                return got
    return None


class ReattachOffer(QtCore.QObject):
    """On opening a workflow whose history has a run still "running" with journaled jobs (its process
    died or the app was closed mid-run), offer "Re-attach to run RUN_ID?" and, if accepted, finish that
    run through the window's run actions with ``attach=RUN_ID`` (nothing is submitted twice)."""

    def __init__(self, window):
        super().__init__(window)
        self.w = window
        self.declined: set[str] = set()
        window.files.opened.connect(self.check)

    def candidate(self, path: str) -> dict | None:
        """The newest unfinished run of ``path`` with journaled jobs that this window is not running."""
        hp = self.w.run.history_path
        if not path or hp is None or not os.path.exists(hp):
            return None
        from ..history.store import HistoryStore

        try:
            store = HistoryStore(hp)
            try:
                for row in store.runs(workflow_path=os.path.abspath(path), limit=20):
                    rid = row.get("run_id")
                    if row.get("state") != "running" or rid in self.declined:
                        continue
                    if self.w.run.running and self.w.run.run_id == rid:
                        continue  # ours, alive
                    if store.jobs(rid):
                        return row
            finally:
                close = getattr(store, "close", None)
                if close is not None:
                    close()
        except Exception:  # an unreadable history never stops a file from opening
            return None
        return None

    def check(self, path: str) -> bool:
        row = self.candidate(path)
        if row is None or self.w.run.running:
            return False
        rid = row["run_id"]
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(row["started_at"])) if row.get("started_at") else "?"
        answer = QtWidgets.QMessageBox.question(
            self.w, "Unfinished run",
            f"The run {rid} of this workflow (started {started} on {row.get('executor') or 'local'}) did not "
            f"finish: its jobs may still be running.\n\nRe-attach to run {rid}?", Btn.Yes | Btn.No, Btn.Yes)
        if answer != Btn.Yes:
            self.declined.add(rid)
            return False
        if row.get("executor"):
            self.w.runs.refresh_executors(prefer=row["executor"])
        return self.w.runs.start(attach=rid)
