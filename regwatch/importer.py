"""Bulk import of Federal-Register-shaped records (what `regwatch import` runs).

Enters: an open `Archive` and records — dicts, or JSON-lines strings, numbered from 1 in the order
given. Leaves: the records stored in batches through `Archive.store` inside `Archive.bulk()` (one
index commit at the end; a crash mid-way is caught up on the next open), and an
`ImportResult` counting them; a record that is not valid JSON, not an object, or not storable is
rejected with its line number and reason instead of stopping the import.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import crawlers.normalize as normalize
from archive import Publication, rows

if TYPE_CHECKING:
    from archive import Archive


@dataclass(slots=True)
class ImportResult:
    """Counts of one import; `rejected` holds `(line_number, reason)` pairs."""

    stored: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


def import_records(
    archive: Archive,
    records: Iterable[dict[str, Any] | str],
    batch_size: int = 1000,
    progress: Callable[[int], None] | None = None,
    source: str = normalize.SOURCE,
) -> ImportResult:
    """Normalise and store `records`; `progress(lines_read)` is called after each batch."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    result = ImportResult()
    batch: list[Publication] = []
    line_no = 0
    with archive.bulk():
        for line_no, record in enumerate(records, start=1):
            pub = _publication(record, source, line_no, result)
            if pub is not None:
                batch.append(pub)
            if len(batch) >= batch_size:
                _flush(archive, batch, result, line_no, progress)
        _flush(archive, batch, result, line_no, progress)
    return result


def _publication(
    record: dict[str, Any] | str, source: str, line_no: int, result: ImportResult
) -> Publication | None:
    try:
        if isinstance(record, str):
            if not record.strip():
                return None
            record = json.loads(record)
        pub = normalize.publication_from_fr(record, source)
        rows.check(pub)
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        result.rejected.append((line_no, _reason(exc)))
        return None
    return pub


def _reason(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON: {exc.msg} (column {exc.colno})"
    return str(exc)


def _flush(
    archive: Archive,
    batch: list[Publication],
    result: ImportResult,
    line_no: int,
    progress: Callable[[int], None] | None,
) -> None:
    if batch:
        stored = archive.store(batch)
        result.stored += len(batch)
        result.inserted += stored.inserted
        result.updated += stored.updated
        result.unchanged += stored.unchanged
        batch.clear()
    if progress:
        progress(line_no)
