"""files/*: Read Text, Write Text (atomic, parent folders created), Glob.

A relative path is taken from the run's base folder (``NodeContext.base_dir``)
or, when the engine sets none, from the current folder.
"""
from __future__ import annotations

from ...model.fileio import atomic_write_text
from ..types import LIST, STR, NodeError, NodeType, inp, out
from ._values import describe, is_numpy, text


def _read_text(i, ctx):
    path = ctx.resolve_path(text("Read Text", "path", i.get("path"), allow_empty=False))
    try:
        return {"text": path.read_text(encoding="utf-8")}
    except FileNotFoundError:
        raise NodeError(f"Read Text: no such file: {path}") from None
    except IsADirectoryError:
        raise NodeError(f"Read Text: {path} is a folder, not a file") from None
    except UnicodeDecodeError as e:
        raise NodeError(f"Read Text: {path} is not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise NodeError(f"Read Text: cannot read {path}: {e.strerror or e}") from None


def _write_text(i, ctx):
    path = ctx.resolve_path(text("Write Text", "path", i.get("path"), allow_empty=False))
    value = i.get("text")
    if value is None:
        raise NodeError("Write Text: 'text' has no value")
    if is_numpy(value) or isinstance(value, (dict, list, tuple, set)):
        raise NodeError(f"Write Text: 'text' must be text or a number, got {type(value).__name__} "
                        f"{describe(value)}")
    content = value if isinstance(value, str) else str(value)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, content)
    except IsADirectoryError:
        raise NodeError(f"Write Text: {path} is a folder") from None
    except OSError as e:
        raise NodeError(f"Write Text: cannot write {path}: {e.strerror or e}") from None
    return {"file": str(path.absolute())}


def _glob(i, ctx):
    directory = i.get("directory")
    directory = "" if directory is None else text("Glob", "directory", directory)
    pattern = text("Glob", "pattern", i.get("pattern"), allow_empty=False)
    folder = ctx.resolve_path(directory or ".")
    if not folder.is_dir():
        raise NodeError(f"Glob: no such folder: {folder}")
    try:
        found = sorted(str(p) for p in folder.glob(pattern))
    except (ValueError, NotImplementedError) as e:
        raise NodeError(f"Glob: bad pattern {pattern!r}: {e}") from None
    except OSError as e:
        raise NodeError(f"Glob: cannot list {folder}: {e.strerror or e}") from None
    return {"files": found}


TYPES = [
    NodeType(("files", "Read Text"),
             (inp("path", STR, "", "browse", browsetype="file"), out("text", STR)),
             function=_read_text, description="the contents of a UTF-8 text file"),
    NodeType(("files", "Write Text"),
             (inp("path", STR, "", "browse", browsetype="save"), inp("text", STR, "", "lineedit"),
              out("file", STR)),
             function=_write_text,
             description="writes text to a file atomically (creating folders); gives the file's path"),
    NodeType(("files", "Glob"),
             (inp("directory", STR, "", "browse", browsetype="directory"), inp("pattern", STR, "*", "lineedit"),
              out("files", LIST)),
             function=_glob, description="the sorted paths in a folder matching a pattern (** for subfolders)"),
]
