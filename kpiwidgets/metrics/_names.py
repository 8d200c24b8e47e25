"""Names of the columns the core adds to a plan: one prefix, so they never clash with a
column of the user's (a user's ``_e`` or ``n1`` stays theirs)."""

from __future__ import annotations

__all__ = ["PREFIX", "internal"]

PREFIX = "__kw_"


def internal(name: str) -> str:
    """The plan-internal column called ``name`` (``internal("row")`` -> ``"__kw_row"``)."""
    return f"{PREFIX}{name}"
