"""Starting the editor: the QApplication, the theme, the main window, crash recovery.

``run(path)`` is what ``nodeflow gui [FILE]`` (and plain ``nodeflow``) calls.
It makes or reuses the QApplication, applies the configured theme (dark by
default) and the application icon, opens the main window, offers to recover
what an autosave kept after a crash, then opens ``path`` if one was given.
"""
from __future__ import annotations

import sys

from PySide6 import QtWidgets

from . import qtsetup


def make_app(argv: list[str] | None = None) -> QtWidgets.QApplication:
    qtsetup.apply()
    app = QtWidgets.QApplication.instance()
    if app is None:
        app = QtWidgets.QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("nodeflow")
    app.setOrganizationName("nodeflow")
    app.setDesktopFileName("nodeflow")
    from .resources import app_icon

    app.setWindowIcon(app_icon())
    return app


def run(path: str | None = None, *, exec_loop: bool = True) -> int:
    app = make_app()
    from .main_window import MainWindow

    window = MainWindow()  # applies the configured theme
    window.show()
    recovered = window.files.offer_recovery()
    if path and not recovered:
        window.files.open_path(path, ask=False)
    if not exec_loop:
        return 0
    return app.exec()
