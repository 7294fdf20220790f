"""The tantivy search index: schema, documents, and keeping it level with SQLite.

Enters: a directory path and an open SQLite connection. Leaves: an index whose documents mirror the
`publications` rows (fields in `indexdoc`), a
`searcher()` for queries, and a state file recording the highest `change_seq` indexed. `sync`
indexes every row changed after that mark, so a crash between a SQLite commit and the index commit
loses nothing; every document is deleted by id before it is added, so indexing twice never
duplicates; a bulk import hands over the documents its worker processes built of what it stored
(`indexdoc.encoded_document`), used for each row still holding exactly that content, untagged.
Opened for reading, an index is never created, changed or deleted; a writer changes it
only while holding the writer lock, and rebuilds (a missing or damaged index, `reindex`) beside the
live directory, swapping the result in only when it is complete. The database records which
archive it is and the last change it handed the index (`index_mark`, written before the index
commits it); the index records the archive too. An index of another archive, or claiming a later
change, holds changes this database never made (another archive's database copied in, a database
restored from a backup, whose new changes reuse the numbers) and is rebuilt (`foreign`). The
engine failing to write (a full disk) is one `ArchiveError` line naming the index.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import tantivy

from archive.db import MARKS, rows_in, snapshot, transaction
from archive.errors import ArchiveError
from archive.indexdir import (
    Unusable,
    WriterLock,
    build_dir,
    check_ours,
    open_index,
    recover,
    save_state,
    state,
    swap_in,
)
from archive.indexdoc import ROWS_SQL, SCHEMA, document, identified
from archive.interrupts import held_back

SCHEMA_VERSION = 5  # 2: title / abstract / body, stop-word pairs, filters; 3: pairs per field;
# 4: facet combination fields; 5: text in its plain form (`nlp.fold`)
WRITER_HEAP = 256_000_000
WRITER_THREADS = 1
LOCK_WAIT = 10.0  # seconds to wait for another process's index writer before leaving it behind
READ_BATCH = 2000
# Index documents built before storing, by (source, source_id): (content hash,
# `indexdoc.encoded_document`).
Prepared = Mapping[tuple[str, str], tuple[str, str]]
# What `sync` reads of a changed row to use its prepared document (else it reads `ROWS_SQL`).
KEYS_SQL = (
    "SELECT p.id, p.change_seq, p.source, p.source_id, p.content_hash, "
    "EXISTS (SELECT 1 FROM publication_tags t WHERE t.publication_id = p.id) "
    "OR EXISTS (SELECT 1 FROM tag_results r WHERE r.publication_id = p.id) FROM publications p "
)
LAST_ROWID = 2**63 - 1


class SearchIndex:
    """One tantivy index directory kept level with the `publications` table.

    `problem` is None when the live index opened, else why not ("missing", "damaged (…)", …).
    """

    def __init__(self, path: Path, *, writable: bool) -> None:
        self.path = path
        self.schema = SCHEMA
        self.writable = writable
        self.lock = WriterLock(path)
        self.problem: str | None = None
        self._index: tantivy.Index | None = None
        self._view: Path | None = None  # symbolic links to a read-only index, removed on close
        self._writer: tantivy.IndexWriter | None = None
        self._searcher: tantivy.Searcher | None = None
        self._seen: tuple[int, int, int] | None = None  # meta.json the searcher was opened on
        self._pending: int | None = None  # change_seq added to the writer, not yet committed
        self._archive: str | None = None  # the archive `_pending` was handed over by
        self._refused = False  # the lock was held elsewhere when last asked for: do not wait again
        if writable:
            check_ours(path)
        self._open()

    def _open(self) -> None:
        self._drop_view()
        self._index, self.problem, self._searcher = None, None, None
        try:
            self._index, self._view = open_index(self.path)
        except Unusable as exc:
            self.problem = str(exc)
            return
        found = state(self.path).get("schema", SCHEMA_VERSION)  # absent: a first build under way
        if found != SCHEMA_VERSION:
            self._index, self.problem = None, f"from another regwatch version (schema {found})"

    def reopen(self) -> None:
        """Open the live index again: it may have been moved, rebuilt or damaged since
        (`problem` says how it is now)."""
        self._open()

    def _drop_view(self) -> None:
        if self._view is not None:
            shutil.rmtree(self._view, ignore_errors=True)
            self._view = None

    @property
    def watermark(self) -> int:
        """The highest `change_seq` known to be in the index."""
        return int(state(self.path).get("seq", 0))

    @property
    def archive(self) -> str | None:
        """The archive (`index_mark.archive`) whose changes the index holds, if recorded."""
        return state(self.path).get("archive")

    def searcher(self) -> tantivy.Searcher:
        """A searcher over the latest committed index (the same one until a commit replaces
        meta.json: reloading costs more than many searches)."""
        if self._index is None:
            raise ArchiveError(f"search index {self.path} is {self.problem}")
        try:
            meta = (self.path / "meta.json").stat()
            seen = (meta.st_ino, meta.st_mtime_ns, meta.st_size)
        except OSError:
            seen = None
        if self._searcher is None or seen is None or seen != self._seen:
            self._index.reload()
            self._searcher, self._seen = self._index.searcher(), seen
        return self._searcher

    def document_count(self) -> int | None:
        """Documents in the committed index, or None if it cannot be opened."""
        return None if self._index is None else self.searcher().num_docs

    def _take(self, last: bool) -> bool:
        """Hold the writer lock and, if the live index is usable, a tantivy writer on it."""
        if self._writer is not None:
            return True
        if not self.writable:
            return False
        self._refused = not self.lock.acquire(0 if self._refused and not last else LOCK_WAIT)
        if self._refused:
            return False
        recover(self.path.resolve())
        self._open()  # another writer may have swapped in a new index meanwhile
        if self._index is not None:
            try:
                with _writing(self.path):
                    self._writer = self._index.writer(WRITER_HEAP, WRITER_THREADS)
            except ArchiveError:
                self.lock.release()
                raise
        return True

    def sync(
        self,
        conn: sqlite3.Connection,
        *,
        commit: bool = True,
        prepared: Prepared | None = None,
        last: bool = False,
    ) -> int:
        """Add every row changed after the watermark; return how many were added.

        With `commit=False` the additions wait for a later commit and the writer stays open (bulk
        imports); otherwise they are committed and the index lock released. A row whose content
        hash and key are in `prepared` and which has no tags is indexed with the document
        prepared for it (a bulk import's); any other is read. If another process
        keeps the index locked, or this one only reads, does nothing (the next writer catches up);
        having waited `LOCK_WAIT` for the lock in vain, it does not wait again until it gets it (a
        long import elsewhere made every batch of a crawl wait that long), unless this is the
        `last` catch-up of a bulk write or of the archive's writer.
        Rebuilds if the index is missing or damaged, or claims rows the database does not have (a
        restored database).
        """
        if self._pending is None and self._index is not None:
            mark = self.watermark
            if _newest(conn) == mark and not foreign(conn, mark, self.archive):
                return 0
        if not self._take(last):
            return 0
        mark = self._pending if self._pending is not None else self.watermark  # under the lock
        if self._index is None or foreign(conn, mark, self.archive):
            return self.rebuild(conn)
        count, last_seq = 0, None
        for batch in _changed_rows(conn, mark, ROWS_SQL if prepared is None else KEYS_SQL):
            if prepared is None:
                docs = list(map(document, batch))
            else:
                docs = _prepared_documents(conn, batch, prepared)
            with _writing(self.path):
                for row, doc in zip(batch, docs, strict=True):
                    self._writer.delete_documents_by_term("id", row[0])
                    if doc is not None:  # None: deleted since
                        self._writer.add_json(doc)
            count += len(batch)
            last_seq = batch[-1][1]
        if last_seq is not None:
            self._archive = _hand_over(conn, last_seq)  # before the index commits it
            self._pending = last_seq
        if commit:
            self.commit()
            self.release()
        return count

    def commit(self) -> None:
        """Commit what `sync` added and record the new watermark."""
        pending, self._pending = self._pending, None  # if this fails, the next writer catches up
        if self._writer is not None and pending is not None and self._archive is not None:
            with held_back(), _writing(self.path):  # a Ctrl-C would leave them "behind"
                self._writer.commit()
                save_state(self.path, SCHEMA_VERSION, pending, self._archive)

    def release(self) -> None:
        """Let merges finish and give the index lock back."""
        writer, self._writer = self._writer, None
        try:
            if writer is not None:
                with _writing(self.path):
                    writer.wait_merging_threads()
        finally:
            self.lock.release()

    def rebuild(
        self, conn: sqlite3.Connection, progress: Callable[[int, int], None] | None = None
    ) -> int:
        """Build a new index of every row beside the live one (beside the folder it links to, if
        it is a link), then swap it in.

        Until the swap the live index stays whole and searchable, so an interrupted rebuild
        (an exception, a killed process) loses nothing; its leftover is cleared by the next one.
        """
        if not self.writable:
            raise ArchiveError(f"search index {self.path} is open read-only")
        if not self.lock.acquire(LOCK_WAIT):
            raise ArchiveError(
                f"search index {self.path} is being written by another regwatch process: "
                "try again when it finishes"
            )
        self._pending = None  # superseded: the rebuild holds every row
        writer, self._writer = self._writer, None
        live = self.path.resolve()  # a link to another disk: built and swapped there
        new = build_dir(live)
        try:
            with _writing(self.path):
                if writer is not None:
                    writer.rollback()
                    writer.wait_merging_threads()
                count, seq = _build(new, self.schema, conn, progress)
            swap_in(new, live)
            _hand_over(conn, seq)  # only now: before the swap, the old index would pass as level
        finally:
            shutil.rmtree(new, ignore_errors=True)
            self.lock.release()
        self._open()
        return count

    def size_bytes(self) -> int:
        """Bytes on disk under the index directory."""
        total = 0
        for entry in self.path.rglob("*"):
            with suppress(OSError):  # a writer may remove merged segments meanwhile
                total += entry.stat().st_size if entry.is_file() else 0
        return total

    def close(self) -> None:
        """Commit pending additions, release the index lock, remove a read-only view."""
        try:
            self.commit()
        finally:
            self.release()
            self._drop_view()


def _build(
    path: Path,
    schema: tantivy.Schema,
    conn: sqlite3.Connection,
    progress: Callable[[int, int], None] | None,
) -> tuple[int, int]:
    """Index every row of one consistent snapshot of `publications` into the empty `path`;
    return how many, and the last change they hold."""
    writer = tantivy.Index(schema, path=str(path), reuse=False).writer(WRITER_HEAP, WRITER_THREADS)
    count = seq = 0
    try:
        with snapshot(conn):
            archive = conn.execute("SELECT archive FROM index_mark").fetchone()[0]
            total = conn.execute("SELECT COUNT(*) FROM publications").fetchone()[0]
            for batch in _changed_rows(conn, 0):
                for row in batch:
                    writer.add_json(document(row))
                count += len(batch)
                seq = batch[-1][1]
                if progress:
                    progress(count, total)
        writer.commit()
    except BaseException:
        writer.rollback()  # stop its threads before the caller removes the directory
        raise
    finally:
        writer.wait_merging_threads()
    save_state(path, SCHEMA_VERSION, seq, archive)
    return count, seq


def _prepared_documents(
    conn: sqlite3.Connection, keys: list[tuple[Any, ...]], prepared: Prepared
) -> list[str | None]:
    """The index documents of `KEYS_SQL` rows, in order: from `prepared` where it holds the
    row's content untagged, else read (`ROWS_SQL`); None for a row deleted since."""
    found: dict[int, str] = {}
    for row_id, _, source, source_id, digest, tagged in keys:
        built = prepared.get((source, source_id))
        if built is not None and built[0] == digest and not tagged:
            found[row_id] = identified(built[1], row_id)
    missing = [key[0] for key in keys if key[0] not in found]
    cursor = conn.cursor()
    cursor.row_factory = None
    sql = f"{ROWS_SQL} WHERE p.id IN ({MARKS})"
    found.update((row[0], document(row)) for row in rows_in(cursor, sql, missing))
    return [found.get(key[0]) for key in keys]


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """The engine's failures to write in the block (tantivy's `ValueError`s: a full disk, a worker
    thread that failed) as one `ArchiveError` line, never taken for a bad record."""
    try:
        yield
    except ValueError as exc:
        raise ArchiveError(f"cannot write search index {path}: {exc}") from None


def _newest(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COALESCE(MAX(change_seq), 0) FROM publications").fetchone()[0]


def foreign(conn: sqlite3.Connection, mark: int, archive: str | None) -> bool:
    """Whether an index holding the changes up to `mark` of `archive` (None: not recorded) holds
    some this database never made or never handed it: of another archive, later than its newest
    change, or than the last it handed over (if recorded; read after `mark`, as a writer records
    it before the index)."""
    if mark > _newest(conn):
        return True
    ours, handed = conn.execute("SELECT archive, seq FROM index_mark").fetchone()
    return archive not in (None, ours) or (handed is not None and mark > handed)


def _hand_over(conn: sqlite3.Connection, seq: int) -> str:
    """Record in the database that the index is given every change up to `seq`; return which
    archive the database is."""
    with transaction(conn):
        return conn.execute("UPDATE index_mark SET seq = ? RETURNING archive", (seq,)).fetchone()[0]


def _changed_rows(
    conn: sqlite3.Connection, after: int, sql: str = ROWS_SQL
) -> Iterator[list[tuple[Any, ...]]]:
    """Rows of `sql` (plain tuples) with `change_seq > after` in (change_seq, id) order, in
    batches."""
    seq, last_id = after, LAST_ROWID  # (after, LAST_ROWID) excludes every row of `after`
    cursor = conn.cursor()
    cursor.row_factory = None
    while True:
        batch = cursor.execute(
            sql + "WHERE (p.change_seq, p.id) > (?, ?) ORDER BY p.change_seq, p.id LIMIT ?",
            (seq, last_id, READ_BATCH),
        ).fetchall()
        if not batch:
            return
        yield batch
        seq, last_id = batch[-1][1], batch[-1][0]
