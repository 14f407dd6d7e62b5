"""The main window: canvas in the middle, docks around it, menus, toolbar, status bar.

``MainWindow`` puts the parts together and owns nothing of their logic:
the document (model, file, undo), the canvas (view), the palette, the
properties panel, the docks (``_create_docks`` — the one place docks are
made; ``add_dock`` is how a later feature such as issue 7's Timeline adds
one), file actions (``FileController``), run actions (``RunActions`` with the
``RunController``), autosave, validation (debounced, into the Problems dock),
and the settings dialog.
"""
from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from .. import appdirs
from ..config import ConfigError, load_config
from ..model import validate as validate_model
from .autosave import Autosaver
from .canvas import Canvas
from .docks import FigurePanel, LogPanel, ProblemsPanel
from .document import FRAGMENT_MIME, WorkflowDocument
from .file_actions import FileController
from .palette import NodePalette
from .properties import PropertiesPanel
from .resources import app_icon
from .run_actions import RunActions
from .run_controller import RunController, settle_heap
from .settings_dialog import SettingsDialog, executor_choices
from .theme import apply_theme, canvas_style

VALIDATE_DELAY_MS = 300
Area = QtCore.Qt.DockWidgetArea


class MainWindow(QtWidgets.QMainWindow):
    def __init__(self, *, config=None, registry=None, history_path=None, runs_dir=None, parent=None):
        super().__init__(parent)
        if config is None:
            try:
                config = load_config()
            except ConfigError as e:
                from ..config import Config

                config, self._config_error = Config(), str(e)
        self.config = config
        if registry is None:
            from ..library import default_registry

            registry = default_registry()
        self.registry = registry
        self.setWindowIcon(app_icon())
        app = QtWidgets.QApplication.instance()
        if app is not None:
            apply_theme(app, config.app.theme)
        self.resize(1400, 880)
        self.setDockNestingEnabled(True)

        self.doc = WorkflowDocument(registry, self)
        self.canvas = Canvas(self.doc, canvas_style(config.app.theme), self)
        self.setCentralWidget(self.canvas.widget)
        self.run = RunController(registry, config_loader=lambda: self.config,
                                 history_path=history_path if history_path is not None else appdirs.history_path(),
                                 runs_dir=runs_dir if runs_dir is not None else appdirs.runs_dir(), parent=self)
        self.autosaver = Autosaver(self.doc, int(config.app.autosave_interval_s), self)
        self.files = FileController(self, self.doc, self.autosaver)
        self.selected_node: str | None = None
        self._problems: list = []
        self._validated_revision = -1
        self.docks: dict[str, QtWidgets.QDockWidget] = {}
        self._create_docks()
        self.runs = RunActions(self)
        from .slurm_dialogs import ReattachOffer  # issue 5: finish a run whose process died, on reopening

        self.reattach = ReattachOffer(self)
        self._create_actions()
        self._create_menus()
        self._create_toolbar()
        self._create_statusbar()
        from .subworkflow_view import SubworkflowView  # issue 8: sub-workflows, badges, generators, imports

        self.subflows = SubworkflowView(self)
        self._validate_timer = QtCore.QTimer(self, singleShot=True, interval=VALIDATE_DELAY_MS)
        self._validate_timer.timeout.connect(self.validate_now)
        self._wire()
        self._update_title()
        self.validate_now()

    # -- layout ---------------------------------------------------------------
    def add_dock(self, name: str, title: str, widget: QtWidgets.QWidget, area: Area,
                 tabify_with: str | None = None) -> QtWidgets.QDockWidget:
        dock = QtWidgets.QDockWidget(title, self)
        dock.setObjectName(f"dock-{name}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        if tabify_with and tabify_with in self.docks:
            self.tabifyDockWidget(self.docks[tabify_with], dock)
        self.docks[name] = dock
        return dock

    def _create_docks(self) -> None:
        self.palette = NodePalette(self.registry)
        self.properties = PropertiesPanel(self.doc, self._executor_names)
        self.problems = ProblemsPanel()
        self.log_panel = LogPanel()
        self.figure_panel = FigurePanel()
        self.add_dock("palette", "Nodes", self.palette, Area.LeftDockWidgetArea)
        self.add_dock("properties", "Properties", self.properties, Area.RightDockWidgetArea)
        self.add_dock("problems", "Problems", self.problems, Area.BottomDockWidgetArea)
        self.add_dock("log", "Log", self.log_panel, Area.BottomDockWidgetArea, tabify_with="problems")
        self.add_dock("figure", "Figure", self.figure_panel, Area.BottomDockWidgetArea, tabify_with="problems")
        from .eta_view import EtaView  # issue 7: ETA text, expected starts, Timeline dock

        self.eta_view = EtaView(self)
        self.add_dock("timeline", "Timeline", self.eta_view.panel, Area.BottomDockWidgetArea, tabify_with="problems")
        from .server_dialogs import RunnersView  # issue 6: runners of the configured servers

        self.runners_view = RunnersView(self)
        self.add_dock("runners", "Runners", self.runners_view, Area.BottomDockWidgetArea, tabify_with="problems")
        self.docks["problems"].raise_()
        self.resizeDocks([self.docks["palette"], self.docks["properties"]], [230, 320],
                         QtCore.Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks["problems"]], [200], QtCore.Qt.Orientation.Vertical)

    def _action(self, text, slot, shortcut=None, icon=None, tip=None, canvas_only=False) -> QtGui.QAction:
        a = QtGui.QAction(text, self)
        if icon is not None:
            a.setIcon(self.style().standardIcon(icon))
        if shortcut:
            a.setShortcuts(shortcut if isinstance(shortcut, list) else [shortcut])
        if tip:
            a.setToolTip(tip)
        a.triggered.connect(slot)
        if canvas_only:  # keys like Delete and Ctrl+C belong to text fields when they have focus
            a.setShortcutContext(QtCore.Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.canvas.widget.addAction(a)
        else:
            self.addAction(a)
        return a

    def _create_actions(self) -> None:
        SP = QtWidgets.QStyle.StandardPixmap
        K = QtGui.QKeySequence.StandardKey
        f = self.files
        self.act_new = self._action("&New", f.new, QtGui.QKeySequence(K.New), SP.SP_FileIcon)
        self.act_open = self._action("&Open…", f.open, QtGui.QKeySequence(K.Open), SP.SP_DirOpenIcon)
        self.act_save = self._action("&Save", f.save, QtGui.QKeySequence(K.Save), SP.SP_DialogSaveButton)
        self.act_save_as = self._action("Save &As…", lambda: f.save_as(), QtGui.QKeySequence(K.SaveAs))
        self.act_revert = self._action("&Revert", f.revert)
        self.act_settings = self._action("Se&ttings…", self.open_settings, "Ctrl+,")
        self.act_quit = self._action("&Quit", self.close, QtGui.QKeySequence(K.Quit))
        self.act_undo = self.doc.undo_stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcuts(QtGui.QKeySequence.keyBindings(K.Undo))
        self.act_undo.setIcon(self.style().standardIcon(SP.SP_ArrowBack))
        self.act_undo.setIconText("Undo")  # the toolbar keeps a short label; the menu says what is undone
        self.act_redo = self.doc.undo_stack.createRedoAction(self, "&Redo")
        self.act_redo.setShortcuts([QtGui.QKeySequence("Ctrl+Shift+Z"), QtGui.QKeySequence("Ctrl+Y")])
        self.act_redo.setIcon(self.style().standardIcon(SP.SP_ArrowForward))
        self.act_redo.setIconText("Redo")
        self.addActions([self.act_undo, self.act_redo])
        self.act_copy = self._action("&Copy", self.copy, QtGui.QKeySequence(K.Copy), canvas_only=True)
        self.act_paste = self._action("&Paste", self.paste, QtGui.QKeySequence(K.Paste), canvas_only=True)
        self.act_duplicate = self._action("D&uplicate", self.duplicate, "Ctrl+D", canvas_only=True)
        self.act_delete = self._action("&Delete", self.delete_selected,
                                       [QtGui.QKeySequence(QtCore.Qt.Key.Key_Delete),
                                        QtGui.QKeySequence(QtCore.Qt.Key.Key_Backspace)], canvas_only=True)
        self.act_select_all = self._action("Select &All", self.canvas.select_all, QtGui.QKeySequence(K.SelectAll),
                                           canvas_only=True)
        self.act_add_node = self._action("Add &Node…", lambda: self.canvas.show_search(), "Ctrl+Space")
        self.act_fit = self._action("Zoom to &Fit", self.canvas.frame_all, "F", canvas_only=True)
        self.act_fit_sel = self._action("Zoom to &Selection", self.canvas.frame_selection, "Shift+F",
                                        canvas_only=True)
        self.act_validate = self._action("&Validate", self.validate_now, "F7")
        self.act_about = self._action("&About nodeflow", self.about)

    def _create_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        m.addActions([self.act_new, self.act_open])
        self.recent_menu = m.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        m.addActions([self.act_save, self.act_save_as, self.act_revert])
        from .server_dialogs import ServerActions  # issue 6: push / open from / history of a server

        self.server_actions = ServerActions(self)
        m.addSeparator()
        m.addActions(self.server_actions.actions())
        m.addSeparator()
        m.addAction(self.act_settings)
        m.addSeparator()
        m.addAction(self.act_quit)
        m = mb.addMenu("&Edit")
        m.addActions([self.act_undo, self.act_redo])
        m.addSeparator()
        m.addActions([self.act_copy, self.act_paste, self.act_duplicate, self.act_delete, self.act_select_all])
        m.addSeparator()
        m.addAction(self.act_add_node)
        m = mb.addMenu("&View")
        m.addActions([self.act_fit, self.act_fit_sel])
        m.addSeparator()
        for dock in self.docks.values():
            m.addAction(dock.toggleViewAction())
        m = mb.addMenu("&Run")
        m.addActions(self.runs.actions())
        m.addSeparator()
        m.addAction(self.act_validate)
        m = mb.addMenu("&Help")
        m.addAction(self.act_about)

    def _create_toolbar(self) -> None:
        tb = self.addToolBar("Main")
        tb.setObjectName("toolbar-main")
        tb.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tb.addActions([self.act_new, self.act_open, self.act_save])
        tb.addSeparator()
        tb.addActions([self.act_undo, self.act_redo])
        tb.addSeparator()
        tb.addActions(self.runs.actions())
        tb.addWidget(QtWidgets.QLabel("  on "))
        tb.addWidget(self.runs.executor)
        tb.addSeparator()
        tb.addAction(self.act_fit)

    def _create_statusbar(self) -> None:
        sb = self.statusBar()
        sb.addPermanentWidget(self.runs.progress)

    def _wire(self) -> None:
        d, c = self.doc, self.canvas
        d.modified_changed.connect(lambda _m: self._update_title())
        d.path_changed.connect(lambda _p: self._update_title())
        d.changed.connect(self._validate_timer.start)
        d.reset.connect(self._on_reset)
        c.selection_changed.connect(self._on_selection)
        c.status_message.connect(self.show_message)
        c.node_activated.connect(self._on_activated)
        c.open_requested.connect(self.files.open_path)
        c.context_menu_requested.connect(self._context_menu)
        self.palette.add_requested.connect(lambda path: c.add_node_at(path, c.scene_center()))
        self.properties.status_message.connect(self.show_message)
        self.problems.problem_activated.connect(self._on_problem)
        if getattr(self, "_config_error", None):
            QtCore.QTimer.singleShot(0, lambda: self.show_message(f"Settings not read: {self._config_error}"))

    # -- helpers ----------------------------------------------------------------
    def show_message(self, text: str, ms: int = 8000) -> None:
        self.statusBar().showMessage(text, ms)

    def show_problems(self) -> None:
        self.docks["problems"].show()
        self.docks["problems"].raise_()

    def _executor_names(self) -> list[str]:
        return [name for name, _why in executor_choices(self.config)]

    def _update_title(self) -> None:
        self.setWindowTitle(f"{self.doc.title}[*] — nodeflow")
        self.setWindowModified(self.doc.modified)
        self.act_revert.setEnabled(bool(self.doc.path))

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = self.files.recent_files()
        for path in recent:
            self.recent_menu.addAction(path, lambda p=path: self.files.open_path(p))
        if recent:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self.files.clear_recent)
        else:
            self.recent_menu.addAction("(none)").setEnabled(False)

    # -- validation ---------------------------------------------------------------
    def current_problems(self) -> list:
        """Validation results of the workflow as it is now (re-validated only if it changed)."""
        if self._validated_revision != self.doc.revision:
            return self.validate_now()
        return self._problems

    def validate_now(self) -> list:
        reg = self.registry
        problems = validate_model(self.doc.workflow, known_types=reg.known_paths(),
                                  extra_rules=reg.validation_rules())
        self._problems, self._validated_revision = problems, self.doc.revision
        self.problems.set_problems(problems)
        cyc = set()
        for p in problems:
            if p.code in ("cycle", "self-loop"):
                cyc.update(p.nodes)
        self.canvas.mark(cyc)
        return problems

    def _on_problem(self, problem) -> None:
        names = [n for n in (problem.nodes or (problem.uniquename,)) if self.canvas.item(n) is not None]
        if not names and self.canvas.item(problem.uniquename) is not None:
            names = [problem.uniquename]
        if names:
            self.canvas.select(names[:1] if problem.code != "cycle" else names)
            self.canvas.center_on(names[0])

    # -- selection ---------------------------------------------------------------------
    def _on_reset(self) -> None:
        settle_heap()  # what the previous workflow left goes now, the new one is frozen (see settle_heap)
        self.problems.set_problems([])
        self._validate_timer.start(0)  # after the graph is shown
        self.log_panel.show_node(None, None)

    def _on_selection(self, names: list) -> None:
        self.selected_node = names[0] if len(names) == 1 else None
        self.properties.show_node(self.selected_node)
        self.log_panel.show_node(self.selected_node,
                                 self.run.info(self.selected_node) if self.selected_node else None)
        if self.selected_node and self.docks["figure"].isVisible() and self._figure_of(self.selected_node):
            self.show_figure(self.selected_node, reveal=False)

    def _figure_of(self, name: str) -> str | None:
        info = self.run.info(name)
        if info is not None and info.outputs and isinstance(info.outputs.get("figure"), str):
            return info.outputs["figure"]
        node = self.doc.node(name)
        term = node.terminals.get("figure") if node is not None else None
        return term.value if term is not None and isinstance(term.value, str) and term.value else None

    def show_figure(self, name: str, reveal: bool = True) -> bool:
        ok = self.figure_panel.show_file(self._figure_of(name), name)
        if reveal:
            self.docks["figure"].show()
            self.docks["figure"].raise_()
        return ok

    def _on_activated(self, name: str) -> None:
        node = self.doc.node(name)
        if node is None:
            return
        if "figure" in node.terminals and node.terminals["figure"].is_output:
            self.show_figure(name)
        else:
            self.docks["properties"].show()
            self.docks["properties"].raise_()

    # -- edit actions -------------------------------------------------------------------
    def copy(self) -> None:
        names = self.canvas.selected_names()
        if not names:
            return
        import json

        mime = QtCore.QMimeData()
        data = json.dumps(self.doc.fragment(names))
        mime.setData(FRAGMENT_MIME, QtCore.QByteArray(data.encode("utf-8")))
        mime.setText(data)
        QtWidgets.QApplication.clipboard().setMimeData(mime)
        self.show_message(f"Copied {len(names)} node(s)")

    def paste(self) -> None:
        import json

        mime = QtWidgets.QApplication.clipboard().mimeData()
        raw = bytes(mime.data(FRAGMENT_MIME)).decode("utf-8") if mime.hasFormat(FRAGMENT_MIME) else mime.text()
        try:
            fragment = json.loads(raw)
            names = self.doc.paste(fragment)
        except (ValueError, KeyError, TypeError) as e:  # WorkflowFileError is a ValueError
            self.show_message(f"Nothing to paste: the clipboard holds no nodes ({e})")
            return
        self.canvas.select(names)

    def duplicate(self) -> None:
        names = self.canvas.selected_names()
        if names:
            self.canvas.select(self.doc.paste(self.doc.fragment(names)))

    def delete_selected(self) -> None:
        names = self.canvas.selected_names()
        if names:
            self.doc.remove_nodes(names)

    def _context_menu(self, global_pos, scene_pos, name) -> None:
        menu = QtWidgets.QMenu(self)
        if name is not None:
            menu.addActions([self.runs.act_run_selected, self.act_duplicate, self.act_copy, self.act_delete])
            node = self.doc.node(name)
            if node is not None and "figure" in node.terminals:
                menu.addAction("Show figure", lambda: self.show_figure(name))
        else:
            menu.addAction("Add node…", lambda: self.canvas.show_search(self.canvas.viewer.mapFromScene(scene_pos)))
            menu.addActions([self.act_paste, self.act_select_all, self.act_fit])
        menu.popup(global_pos)

    # -- dialogs ---------------------------------------------------------------------------
    def open_settings(self) -> None:
        dlg = SettingsDialog(self.config, self)
        if dlg.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return
        try:
            dlg.apply_to_config()
        except OSError as e:
            QtWidgets.QMessageBox.warning(self, "Settings not saved", str(e))
        self.apply_settings()

    def apply_settings(self) -> None:
        app = QtWidgets.QApplication.instance()
        if app is not None:
            apply_theme(app, self.config.app.theme)
        style = canvas_style(self.config.app.theme)
        if style is not self.canvas.style:
            self.canvas.set_style(style)
        self.autosaver.set_interval(int(self.config.app.autosave_interval_s))
        self.runs.refresh_executors()

    def about(self) -> None:
        from .. import __version__

        QtWidgets.QMessageBox.about(self, "About nodeflow",
                                    f"<b>nodeflow {__version__}</b><p>Draw, run and schedule MFiX Nodeworks "
                                    "workflows — locally, on Slurm, or on remote runners.</p>")

    def closeEvent(self, event) -> None:
        if self.run.running:
            answer = QtWidgets.QMessageBox.question(self, "A run is in progress", "Stop the run and quit?",
                                                    QtWidgets.QMessageBox.StandardButton.Yes
                                                    | QtWidgets.QMessageBox.StandardButton.No)
            if answer != QtWidgets.QMessageBox.StandardButton.Yes:
                event.ignore()
                return
            self.run.stop()
            self.run.wait(15)
        if not self.files.maybe_discard():
            event.ignore()
            return
        self.autosaver.discard()
        event.accept()
