"""The node palette (a tree of the library by path, with a search box) and the Tab search popup.

Both list the registry's node types that are not ``hidden``. The palette
offers a type by drag and drop onto the canvas (mime ``NODE_MIME`` plus
``text/plain``, which NodeGraphQt's viewer accepts) or by double-click /
Enter (``add_requested``). The Tab popup is the keyboard way: type a few
letters, Enter adds the node where the cursor was.
"""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets

NODE_MIME = "application/x-nodeflow-node"
_TEXT_PREFIX = "nodeflow-node:"
PATH_ROLE = QtCore.Qt.ItemDataRole.UserRole + 1


def mime_for(path: tuple[str, ...]) -> QtCore.QMimeData:
    mime = QtCore.QMimeData()
    text = "/".join(path)
    mime.setData(NODE_MIME, QtCore.QByteArray(text.encode("utf-8")))
    mime.setText(_TEXT_PREFIX + text)
    return mime


def path_from_mime(mime: QtCore.QMimeData) -> tuple[str, ...] | None:
    if mime.hasFormat(NODE_MIME):
        return tuple(bytes(mime.data(NODE_MIME)).decode("utf-8").split("/"))
    if mime.hasText() and mime.text().startswith(_TEXT_PREFIX):
        return tuple(mime.text()[len(_TEXT_PREFIX):].split("/"))
    return None


def offered_types(registry) -> list:
    return [t for t in registry if not t.hidden]


def _matches(t, words: list[str]) -> bool:
    hay = ("/".join(t.path) + " " + (t.description or "")).lower()
    return all(w in hay for w in words)


class _Tree(QtWidgets.QTreeWidget):
    def mimeData(self, items):
        for it in items:
            path = it.data(0, PATH_ROLE)
            if path:
                return mime_for(tuple(path))
        return QtCore.QMimeData()

    def mimeTypes(self):
        return [NODE_MIME, "text/plain"]


class NodePalette(QtWidgets.QWidget):
    add_requested = QtCore.Signal(tuple)  # a node type's path

    def __init__(self, registry, parent=None):
        super().__init__(parent)
        self.registry = registry
        self.search = QtWidgets.QLineEdit()
        self.search.setPlaceholderText("Search nodes…")
        self.search.setClearButtonEnabled(True)
        self.tree = _Tree()
        self.tree.setHeaderHidden(True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QtWidgets.QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setUniformRowHeights(True)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.search)
        lay.addWidget(self.tree)
        self.search.textChanged.connect(self._filter)
        self.search.returnPressed.connect(self._add_first_visible)
        self.tree.itemActivated.connect(self._activated)
        self._leaves: list[QtWidgets.QTreeWidgetItem] = []
        self.populate()

    def populate(self) -> None:
        self.tree.clear()
        self._leaves.clear()
        folders: dict[tuple[str, ...], QtWidgets.QTreeWidgetItem] = {}
        for t in offered_types(self.registry):
            parent = None
            for depth in range(1, len(t.path)):
                key = t.path[:depth]
                item = folders.get(key)
                if item is None:
                    item = QtWidgets.QTreeWidgetItem([key[-1]])
                    item.setFlags(QtCore.Qt.ItemFlag.ItemIsEnabled)
                    font = item.font(0)
                    font.setBold(True)
                    item.setFont(0, font)
                    (parent.addChild(item) if parent is not None else self.tree.addTopLevelItem(item))
                    folders[key] = item
                parent = item
            leaf = QtWidgets.QTreeWidgetItem([t.name])
            leaf.setData(0, PATH_ROLE, list(t.path))
            leaf.setToolTip(0, f"{'/'.join(t.path)}\n{t.description}" if t.description else "/".join(t.path))
            leaf.setFlags(QtCore.Qt.ItemFlag.ItemIsEnabled | QtCore.Qt.ItemFlag.ItemIsSelectable
                          | QtCore.Qt.ItemFlag.ItemIsDragEnabled)
            leaf._type = t
            (parent.addChild(leaf) if parent is not None else self.tree.addTopLevelItem(leaf))
            self._leaves.append(leaf)
        self.tree.expandAll()

    def leaf(self, path: tuple[str, ...]) -> QtWidgets.QTreeWidgetItem | None:
        for leaf in self._leaves:
            if tuple(leaf.data(0, PATH_ROLE)) == tuple(path):
                return leaf
        return None

    def _filter(self, text: str) -> None:
        words = text.lower().split()
        for leaf in self._leaves:
            leaf.setHidden(bool(words) and not _matches(leaf._type, words))
        for i in range(self.tree.topLevelItemCount()):
            self._hide_empty(self.tree.topLevelItem(i))
        self.tree.expandAll()

    def _hide_empty(self, item) -> bool:
        if item.data(0, PATH_ROLE):
            return not item.isHidden()
        visible = False
        for i in range(item.childCount()):
            visible = self._hide_empty(item.child(i)) or visible
        item.setHidden(not visible)
        return visible

    def visible_paths(self) -> list[tuple[str, ...]]:
        return [tuple(leaf.data(0, PATH_ROLE)) for leaf in self._leaves if not leaf.isHidden()]

    def _add_first_visible(self) -> None:
        paths = self.visible_paths()
        if paths:
            self.add_requested.emit(paths[0])

    def _activated(self, item, column) -> None:
        path = item.data(0, PATH_ROLE)
        if path:
            self.add_requested.emit(tuple(path))


class TabSearchPopup(QtWidgets.QFrame):
    """Type to find a node type; Enter adds it (``chosen``)."""

    chosen = QtCore.Signal(tuple)

    def __init__(self, registry, parent=None):
        super().__init__(parent, QtCore.Qt.WindowType.Popup)
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        self.registry = registry
        self.edit = QtWidgets.QLineEdit()
        self.edit.setPlaceholderText("Add node…")
        self.list = QtWidgets.QListWidget()
        self.list.setMinimumWidth(260)
        self.list.setMaximumHeight(260)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.edit)
        lay.addWidget(self.list)
        self.edit.textChanged.connect(self._fill)
        self.edit.installEventFilter(self)
        self.list.itemActivated.connect(lambda it: self._choose(it))

    def popup_at(self, global_pos: QtCore.QPoint) -> None:
        self.edit.clear()
        self._fill("")
        self.move(global_pos)
        self.show()
        self.edit.setFocus()

    def _fill(self, text: str) -> None:
        words = text.lower().split()
        self.list.clear()
        for t in offered_types(self.registry):
            if not words or _matches(t, words):
                it = QtWidgets.QListWidgetItem(f"{t.name}    ({'/'.join(t.path[:-1])})")
                it.setData(PATH_ROLE, list(t.path))
                self.list.addItem(it)
        if self.list.count():
            self.list.setCurrentRow(0)

    def eventFilter(self, obj, event):
        if obj is self.edit and event.type() == QtCore.QEvent.Type.KeyPress:
            key = event.key()
            if key in (QtCore.Qt.Key.Key_Down, QtCore.Qt.Key.Key_Up):
                row = self.list.currentRow() + (1 if key == QtCore.Qt.Key.Key_Down else -1)
                self.list.setCurrentRow(max(0, min(row, self.list.count() - 1)))
                return True
            if key in (QtCore.Qt.Key.Key_Return, QtCore.Qt.Key.Key_Enter):
                self._choose(self.list.currentItem())
                return True
            if key == QtCore.Qt.Key.Key_Escape:
                self.hide()
                return True
        return super().eventFilter(obj, event)

    def choose_text(self, text: str) -> bool:
        """Programmatic use (tests, scripting): filter by ``text`` and take the first match."""
        self._fill(text)
        return self._choose(self.list.currentItem())

    def _choose(self, item) -> bool:
        if item is None:
            return False
        path = tuple(item.data(PATH_ROLE))
        self.hide()
        self.chosen.emit(path)
        return True
