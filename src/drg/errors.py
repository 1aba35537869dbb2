"""Errors and warnings raised by DRG.

Every error about user input names the file, the line or record, and what was expected, so that a user can
fix the input without reading a traceback.
"""

from __future__ import annotations

from os import PathLike


class DRGError(Exception):
    """Base class of every error DRG raises on purpose.

    Parameters
    ----------
    message
        What was wrong and what was expected.
    path
        The file the problem was found in, if any.
    line
        1-based line number in ``path``, if known.
    record
        Name of the record (region, sequence, motif, ...) the problem concerns, if known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | PathLike[str] | None = None,
        line: int | None = None,
        record: str | None = None,
    ) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        self.record = record
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path if self.line is None else f"{self.path}, line {self.line}"
        if self.record is not None:
            where = f"{where}, record {self.record!r}" if where else f"record {self.record!r}"
        return f"{where}: {self.message}" if where else self.message


class InputError(DRGError, ValueError):
    """A user-supplied file or value is malformed or inconsistent."""


class DRGWarning(UserWarning):
    """Warning about data DRG changed or dropped on the user's behalf (always says how much)."""
