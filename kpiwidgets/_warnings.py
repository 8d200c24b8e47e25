"""Warnings shared by every layer (a leaf module: it imports nothing of kpiwidgets)."""

from __future__ import annotations

__all__ = ["DataQualityWarning", "DroppedRowsWarning"]


class DroppedRowsWarning(UserWarning):
    """Rows of the input could not be used (null ids or timestamps) and were left out.

    ``counts`` holds the numbers (reason -> rows, plus ``"rows left out"``), whatever the
    engine: widgets read them to say in their status line how many rows were left out.
    """

    def __init__(self, message: str, counts: dict[str, int] | None = None) -> None:
        super().__init__(message)
        self.counts = dict(counts or {})


class DataQualityWarning(UserWarning):
    """A dataset's rows are kept but inconsistent (a deal closed before it was created, ...).

    ``findings`` is the frame ``Dataset.quality()`` returns.
    """

    def __init__(self, message: str, findings=None) -> None:
        super().__init__(message)
        self.findings = findings
