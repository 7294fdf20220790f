"""Errors the archive raises to its callers.

Enters: nothing. Leaves: `ArchiveError` (storage problems, one clear line) and `QueryError`
(a search the user typed cannot be run; a `ValueError`, so callers may treat it as bad input).
"""

from __future__ import annotations


class ArchiveError(Exception):
    """The archive cannot do what was asked; the message is one line a user can act on."""


class QueryError(ValueError):
    """A search query or its options are malformed; the message says what to change."""
