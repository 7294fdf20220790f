"""Bulk import of Federal-Register-shaped JSON lines (what `regwatch import` runs).

Enters: an open `Archive` and lines (bytes or text, numbered from 1 in the order given; a line that
could not be read is a `jsonl.BadLine`), read from a regular file or standard input opened by
`files.open_input`, decompressed if compressed (`jsonl.unpacked`) and split by `jsonl.bounded_lines`
(`read_ahead`).
Leaves: the records stored in batches of lines, with their index documents
(`indexdoc.encoded_document`), through `Archive.store_encoded` inside `Archive.bulk()` (one index
commit at the end; a crash mid-way is caught up on the next open), and an `ImportResult`
counting them. A line that is not UTF-8, not JSON, not an object, or not
normalisable (`crawlers.normalize`) is rejected with its line number and reason; the other lines of
its batch are stored; a batch ends after `batch_size` lines or `BATCH_BYTES`, whichever comes
first, so memory stays bounded whatever the lines hold. With worker processes (a large input:
`workers_for`), they parse, check and encode the batches and build their index documents, while
this process reads, stores and indexes in order: the same rows, hashes, rejections and index as
one process; a worker that dies stops the import with one line naming the last line stored, and
Ctrl-C stops the workers too.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import marshal
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

import crawlers.normalize as normalize
from archive import indexdoc, rows
from archive.errors import ArchiveError
from regwatch.jsonl import BadLine, LineError, bounded_lines, parse_lines, unpacked

if TYPE_CHECKING:
    from archive import Archive

BATCH_BYTES = 64 * 1024 * 1024  # a batch ends when its lines hold this much
POOL_FROM = 2_000_000  # bytes (~1,000 Federal Register records): smaller, no worker processes
AHEAD = 2  # batches queued per worker
# A line's encoded publication (`rows.Encoded` as a plain tuple: a named tuple crosses between
# processes three times slower, and cannot be marshalled) followed by its index document; or why
# the line is rejected.
Ready = tuple[str, str, tuple[object, ...], str, str]
Prepared = Ready | str
Line = bytes | str | BadLine


@dataclass(slots=True)
class ImportResult:
    """Counts of one import; `rejected` holds `(line_number, reason)` pairs."""

    stored: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    repaired: int = 0  # unchanged, but damaged stored lists or raw were written again
    rejected: list[tuple[int, str]] = field(default_factory=list)


def import_records(
    archive: Archive,
    lines: Iterable[Line],
    batch_size: int = 1000,
    progress: Callable[[int], None] | None = None,
    source: str = normalize.SOURCE,
    workers: int = 1,
) -> ImportResult:
    """Normalise and store `lines` in batches of `batch_size` lines; `progress(lines_read)` is
    called after each batch.

    With `workers` > 1 (`workers_for`), that many processes parse, check and encode the batches
    and build their index documents while this one stores them, in order.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    result = ImportResult()
    last = done = 0
    try:
        with _pool(workers) as pool, archive.bulk():
            for last, prepared in _prepared(
                pool, _batches(iter(lines), batch_size), source, workers
            ):
                accepted = []
                for number, item in prepared:
                    if isinstance(item, str):
                        result.rejected.append((number, item))
                    else:
                        accepted.append((number, item))
                _flush(archive, accepted, result, last, progress)
                done = last
    except BrokenProcessPool:
        raise ValueError(
            f"import stopped after line {last}: a worker process ended unexpectedly "
            f"(lines 1-{last} are stored)"
        ) from None
    except ArchiveError as exc:  # a full disk, a database locked too long or damaged meanwhile
        if not done:
            raise
        raise ArchiveError(
            f"import stopped at line {done + 1} (lines 1-{done} are stored): {exc}"
        ) from None
    return result


def read_ahead(
    stream: BinaryIO, size: int | None, name: str, workers: int | None = None
) -> tuple[Iterable[bytes | BadLine], int]:
    """The lines of `stream`, the file `name` (`jsonl.unpacked`, then `jsonl.bounded_lines`), and
    the `workers` to import them with (given, or `workers_for`); to decide, an input of unknown
    `size` (standard input) is read up to `POOL_FROM` bytes first."""
    lines = bounded_lines(unpacked(stream, name))
    if workers is not None or size is not None:
        return lines, workers or workers_for(size)
    head: list[bytes | BadLine] = []
    held = 0
    for line in lines:
        head.append(line)
        held += _size(line)
        if held >= POOL_FROM:
            return itertools.chain(head, lines), workers_for(None)
    return head, workers_for(held)


def workers_for(size: int | None) -> int:
    """The `workers` for an input of `size` bytes (None: unknown, such as standard input): one
    per core when the input holds `POOL_FROM` bytes or more and a core is idle (the last minute's
    load average below the cores less a half), else 1 (measured: with two cores, workers import
    40% faster beside one busy process, but 10-30% slower beside two, their hand-offs only adding
    work)."""
    cores = os.cpu_count() or 1
    if (size is not None and size < POOL_FROM) or cores < 2:
        return 1
    return cores if os.getloadavg()[0] < cores - 0.5 else 1


def prepare(batch: tuple[int, list[Line]], source: str) -> list[tuple[int, Prepared]]:
    """`(line number, Prepared)` per non-blank line of a batch `(number of its first line, lines)`:
    the line's encoded publication and index document, or why the line is rejected."""
    first, lines = batch
    prepared: list[tuple[int, Prepared]] = []
    for number, record in parse_lines(lines, start=first):
        if isinstance(record, LineError):
            prepared.append((number, record.reason))
            continue
        try:
            item = rows.encoded(normalize.publication_from_fr(record, source))
        except ValueError as exc:
            prepared.append((number, str(exc)))
        else:
            prepared.append((number, (*item, indexdoc.encoded_document(item))))
    return prepared


def _batches(lines: Iterator[Line], size: int) -> Iterator[tuple[int, list[Line]]]:
    """`(number of the first line, lines)` per `size` lines, or fewer holding `BATCH_BYTES`."""
    first, batch, held = 1, [], 0
    for line in lines:
        batch.append(line)
        held += _size(line)
        if len(batch) == size or held >= BATCH_BYTES:
            yield first, batch
            first, batch, held = first + len(batch), [], 0
    if batch:
        yield first, batch


@contextlib.contextmanager
def _pool(workers: int) -> Iterator[ProcessPoolExecutor | None]:
    """`workers` processes ignoring Ctrl-C (this one stops them), or None for one; on leaving,
    queued batches are dropped and every worker is waited for."""
    if workers < 2:
        yield None
        return
    # Forked before the index writer starts its threads (a fork beside running threads may
    # hang); forked, not spawned: spawning runs the caller's main module again.
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_ignore_interrupts)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _prepared(
    pool: ProcessPoolExecutor | None,
    batches: Iterator[tuple[int, list[Line]]],
    source: str,
    workers: int,
) -> Iterator[tuple[int, list[tuple[int, Prepared]]]]:
    """`(number of the batch's last line, prepare(batch))` per batch, in order; with a pool,
    `AHEAD` batches per worker are queued beyond the one being stored."""
    if pool is None:
        for batch in batches:
            yield _last(batch), prepare(batch, source)
        return
    queued: collections.deque[tuple[int, Future]] = collections.deque()
    for batch in batches:
        queued.append((_last(batch), pool.submit(_marshalled, batch, source)))
        if len(queued) > AHEAD * workers:
            last, future = queued.popleft()
            yield last, marshal.loads(future.result())
    for last, future in queued:
        yield last, marshal.loads(future.result())


def _marshalled(batch: tuple[int, list[Line]], source: str) -> bytes:
    """`prepare(batch)` as a worker hands it over: marshalled (plain values only: written and read
    back three times faster than pickled, between processes of one Python)."""
    return marshal.dumps(prepare(batch, source))


def _size(line: Line) -> int:
    return 0 if isinstance(line, BadLine) else len(line)


def _last(batch: tuple[int, list[Line]]) -> int:
    return batch[0] + len(batch[1]) - 1


def _flush(
    archive: Archive,
    batch: list[tuple[int, Ready]],
    result: ImportResult,
    number: int,
    progress: Callable[[int], None] | None,
) -> None:
    if batch:
        items = [rows.Encoded._make(item[:4]) for _, item in batch]
        stored = archive.store_encoded(items, [item[4] for _, item in batch])
        result.stored += len(batch)
        result.inserted += stored.inserted
        result.updated += stored.updated
        result.unchanged += stored.unchanged
        result.repaired += stored.repaired
    if progress:
        progress(number)
