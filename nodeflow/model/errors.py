"""Errors raised by the model when a workflow file cannot be read."""
from __future__ import annotations


class WorkflowFileError(ValueError):
    """A workflow file that cannot be loaded, with where and what is wrong.

    ``uniquename`` and ``field`` name the object and field at fault when the
    file parsed as JSON; ``line`` and ``column`` are set when it did not.
    """

    def __init__(self, message: str, *, path: str | None = None, uniquename: str | None = None,
                 field: str | None = None, line: int | None = None, column: int | None = None):
        self.path = path
        self.uniquename = uniquename
        self.field = field
        self.line = line
        self.column = column
        self.detail = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.path:
            where.append(str(self.path))
        if self.line is not None:
            where.append(f"line {self.line}, column {self.column}")
        if self.uniquename is not None:
            where.append(repr(self.uniquename))
        if self.field is not None:
            where.append(f"field {self.field!r}")
        return (": ".join(where) + ": " if where else "") + self.detail

    def with_path(self, path: str) -> "WorkflowFileError":
        return WorkflowFileError(self.detail, path=path, uniquename=self.uniquename, field=self.field,
                                 line=self.line, column=self.column)
