"""Bulk import of Federal-Register-shaped JSON lines (what `regwatch import` runs).

Enters: an open `Archive` and lines (bytes or text, numbered from 1 in the order given), read from a
regular file or standard input through `open_input`.
Leaves: the records stored in batches through `Archive.store` inside `Archive.bulk()` (one index
commit at the end; a crash mid-way is caught up on the next open), and an `ImportResult` counting
them. A line that is not UTF-8, not JSON, not an object, or not normalisable
(`crawlers.normalize`) is rejected with its line number and reason; the other lines of its batch
are stored. `open_input` refuses anything that is not a readable regular file in one line.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

import crawlers.normalize as normalize
from archive import Publication, rows
from regwatch.jsonl import LineError, parse_lines

if TYPE_CHECKING:
    from archive import Archive

STDIN = "-"
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


@dataclass(slots=True)
class ImportResult:
    """Counts of one import; `rejected` holds `(line_number, reason)` pairs."""

    stored: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


@contextlib.contextmanager
def open_input(name: str) -> Iterator[tuple[BinaryIO, int | None]]:
    """The binary stream of file `name` (`-`: standard input) and its size (None for stdin).

    Raises `ValueError` with one line when `name` is missing, unreadable or not a regular file
    (a directory, a named pipe, a device such as /dev/zero): nothing would end or be importable.
    """
    if name == STDIN:
        yield sys.stdin.buffer, None
        return
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK)  # a named pipe must not block the open
    except OSError as exc:
        raise ValueError(f"cannot import {name}: {exc.strerror.lower()}") from None
    except ValueError:  # a NUL character in the name
        raise ValueError(f"cannot import {name!r}: not a file name") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        kind = next((what for test, what in _KINDS if test(info.st_mode)), "something else")
        raise ValueError(f"cannot import {name}: it is {kind}, not a regular file")
    with os.fdopen(fd, "rb") as stream:
        yield stream, info.st_size


def import_records(
    archive: Archive,
    lines: Iterable[bytes | str],
    batch_size: int = 1000,
    progress: Callable[[int], None] | None = None,
    source: str = normalize.SOURCE,
) -> ImportResult:
    """Normalise and store `lines`; `progress(lines_read)` is called after each batch."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    result = ImportResult()
    batch: list[tuple[int, Publication]] = []
    number = 0
    with archive.bulk():
        for number, record in parse_lines(lines):
            pub = _publication(record, source, number, result)
            if pub is not None:
                batch.append((number, pub))
            if len(batch) >= batch_size:
                _flush(archive, batch, result, number, progress)
        _flush(archive, batch, result, number, progress)
    return result


def _publication(
    record: dict | LineError, source: str, number: int, result: ImportResult
) -> Publication | None:
    if isinstance(record, LineError):
        result.rejected.append((number, record.reason))
        return None
    try:
        pub = normalize.publication_from_fr(record, source)
        rows.check(pub)
    except ValueError as exc:
        result.rejected.append((number, str(exc)))
        return None
    return pub


def _flush(
    archive: Archive,
    batch: list[tuple[int, Publication]],
    result: ImportResult,
    number: int,
    progress: Callable[[int], None] | None,
) -> None:
    try:
        _store(archive, [pub for _, pub in batch], result)
    except ValueError:  # the archive refused the batch: store one by one, reject the bad ones
        for line, pub in batch:
            try:
                _store(archive, [pub], result)
            except ValueError as exc:
                result.rejected.append((line, str(exc)))
        result.rejected.sort()
    batch.clear()
    if progress:
        progress(number)


def _store(archive: Archive, pubs: list[Publication], result: ImportResult) -> None:
    if not pubs:
        return
    stored = archive.store(pubs)
    result.stored += len(pubs)
    result.inserted += stored.inserted
    result.updated += stored.updated
    result.unchanged += stored.unchanged
