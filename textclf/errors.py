"""Exceptions raised by textclf.

Every error subclasses both `TextclfError` and the matching builtin, following
Ludwig's `error.py`, so callers can catch either. Errors about input data carry
the file, the 1-based row as a spreadsheet shows it (the header is row 1) and
the column, and render as one line; the CLI prints that line and exits with
status 2.
"""

from __future__ import annotations


class TextclfError(Exception):
    """Base class of every error textclf raises on purpose."""


class ConfigError(TextclfError, ValueError):
    """A parameter has a value outside its allowed set or range."""


class InputTypeError(TextclfError, TypeError):
    """An argument has the wrong type, e.g. one string where a list of texts is expected."""


class InputDataError(TextclfError, ValueError):
    """A data file cannot be used: missing, unreadable, or a bad cell.

    Args:
        message: What is wrong, without the location.
        file: Path of the offending file, if any.
        row: 1-based row number as a spreadsheet shows it (header = row 1).
        column: Column name, if the problem is in one column.
    """

    def __init__(self, message, *, file=None, row=None, column=None):
        self.message = message
        self.file = None if file is None else str(file)
        self.row = row
        self.column = column
        super().__init__(self._render())

    def _render(self):
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        text = " ".join(str(self.message).split())  # always one line
        return f"{', '.join(where)}: {text}" if where else text


class EmbeddingsError(InputDataError):
    """An embeddings file is missing, empty, ragged or otherwise unreadable.

    `row` is the 1-based line number in the file.
    """


class ModelFileError(TextclfError, ValueError):
    """A saved model directory is missing, incomplete, corrupted or unsafe."""
