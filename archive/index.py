"""The tantivy search index: schema, documents, and keeping it level with SQLite.

Enters: a directory path and an open SQLite connection. Leaves: an index whose documents mirror the
`publications` rows (one combined `text` field, `tags`, a fast `date`, the row `id`), a
`searcher()` for queries, and a state file recording the highest `change_seq` indexed. `sync`
indexes every row changed after that mark, so a crash between a SQLite commit and the index commit
loses nothing; every document is deleted by id before it is added, so indexing twice never
duplicates.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tantivy

from archive.errors import ArchiveError

SCHEMA_VERSION = 1
STATE_FILE = "regwatch-index.json"
WRITER_HEAP = 256_000_000
WRITER_THREADS = 1
LOCK_WAIT = 10.0  # seconds to wait for another process's index writer before leaving it behind
READ_BATCH = 2000
TAG_SEPARATOR = "\x1f"
LAST_ROWID = 2**63 - 1

# Searchable texts of a row, JSON lists flattened by SQLite: number, title, abstract, action,
# dates, agency names, CFR parts as "15 CFR 744", RINs, docket ids, topics, body text.
TEXT_COLUMNS = (
    "p.source_id",
    "p.title",
    "p.abstract",
    "p.action",
    "p.dates",
    "(SELECT group_concat(coalesce(value ->> 'name', value ->> 'raw_name'), ' ; ') "
    "FROM json_each(p.agencies))",
    "(SELECT group_concat((value ->> 'title') || ' CFR ' || (value ->> 'part'), ' ; ') "
    "FROM json_each(p.cfr_references))",
    "(SELECT group_concat(value, ' ; ') FROM json_each(p.regulation_id_numbers))",
    "(SELECT group_concat(value, ' ; ') FROM json_each(p.docket_ids))",
    "(SELECT group_concat(value, ' ; ') FROM json_each(p.topics))",
    "p.body_text",
)
ROWS_SQL = (
    "SELECT p.id, p.change_seq, p.publication_date, "
    "(SELECT group_concat(tag, char(31)) FROM publication_tags t WHERE t.publication_id = p.id), "
    f"{', '.join(TEXT_COLUMNS)} FROM publications p "
)


def build_schema() -> tantivy.Schema:
    """The index schema: `text` (default tokenizer, positions), `tags` (raw), `date`, `id`."""
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", stored=False, indexed=True, fast=True)
    builder.add_text_field("text", tokenizer_name="default", index_option="position")
    builder.add_text_field("tags", tokenizer_name="raw", index_option="basic")
    builder.add_date_field("date", indexed=True, fast=True)
    return builder.build()


class SearchIndex:
    """One tantivy index directory kept level with the `publications` table."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.schema = build_schema()
        self._index = self._open()
        self._writer: tantivy.IndexWriter | None = None
        self._pending: int | None = None  # change_seq added to the writer, not yet committed

    def _open(self) -> tantivy.Index:
        if self.path.exists() and self._read_state().get("schema") != SCHEMA_VERSION:
            self._discard()
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            return tantivy.Index(self.schema, path=str(self.path), reuse=True)
        except (OSError, ValueError):
            self._discard()
            self.path.mkdir(parents=True)
            return tantivy.Index(self.schema, path=str(self.path), reuse=True)

    def _discard(self) -> None:
        """Remove an index this code cannot use; refuse to touch a directory that is not one."""
        entries = {p.name for p in self.path.iterdir()} if self.path.is_dir() else {"?"}
        if entries and not entries & {"meta.json", STATE_FILE}:
            raise ArchiveError(f"{self.path} exists and is not a regwatch search index")
        shutil.rmtree(self.path, ignore_errors=True)

    def _read_state(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / STATE_FILE).read_text())
        except (OSError, ValueError):
            return {}

    @property
    def watermark(self) -> int:
        """The highest `change_seq` known to be in the index."""
        return int(self._read_state().get("seq", 0))

    def _save_watermark(self, seq: int) -> None:
        tmp = self.path / f"{STATE_FILE}.tmp"
        tmp.write_text(json.dumps({"schema": SCHEMA_VERSION, "seq": seq}))
        os.replace(tmp, self.path / STATE_FILE)

    def searcher(self) -> tantivy.Searcher:
        """A searcher over the latest committed index."""
        self._index.reload()
        return self._index.searcher()

    def writer(self) -> tantivy.IndexWriter | None:
        """This process's writer; None if another process holds the index for LOCK_WAIT seconds."""
        deadline = time.monotonic() + LOCK_WAIT
        while self._writer is None:
            try:
                self._writer = self._index.writer(WRITER_HEAP, WRITER_THREADS)
            except ValueError as exc:
                if "LockBusy" not in str(exc):
                    raise ArchiveError(f"cannot write search index {self.path}: {exc}") from None
                if time.monotonic() > deadline:
                    return None
                time.sleep(0.05)
        return self._writer

    def sync(self, conn: sqlite3.Connection, *, commit: bool = True) -> int:
        """Add every row changed after the watermark; return how many were added.

        With `commit=False` the additions wait for a later commit and the writer stays open (bulk
        imports); otherwise they are committed and the index lock released. If another process
        keeps the index locked, does nothing (it, or the next open, catches up). Rebuilds if the
        index claims rows the database does not have (a restored database).
        """
        if self._pending is None and _newest(conn) == self.watermark:
            return 0
        writer = self.writer()
        if writer is None:
            return 0
        mark = self._pending if self._pending is not None else self.watermark  # under the lock
        if mark > _newest(conn):
            return self.rebuild(conn)
        count = 0
        for batch in _changed_rows(conn, mark):
            for row in batch:
                writer.delete_documents_by_term("id", row[0])
                writer.add_document(_document(row))
            count += len(batch)
            self._pending = batch[-1][1]
        if commit:
            self.commit()
            self.release()
        return count

    def commit(self) -> None:
        """Commit what `sync` added and record the new watermark."""
        pending, self._pending = self._pending, None  # if this fails, the next open catches up
        if self._writer is not None and pending is not None:
            self._writer.commit()
            self._save_watermark(pending)

    def release(self) -> None:
        """Let merges finish and give the index lock back."""
        if self._writer is not None:
            self._writer.wait_merging_threads()
            self._writer = None

    def rebuild(
        self, conn: sqlite3.Connection, progress: Callable[[int, int], None] | None = None
    ) -> int:
        """Replace the index's contents with every row of `publications`."""
        writer = self.writer()
        if writer is None:
            raise ArchiveError(f"search index {self.path} is in use by another regwatch process")
        total = conn.execute("SELECT COUNT(*) FROM publications").fetchone()[0]
        writer.delete_all_documents()
        count, self._pending = 0, 0
        for batch in _changed_rows(conn, 0):
            for row in batch:
                writer.add_document(_document(row))
            count += len(batch)
            self._pending = batch[-1][1]
            if progress:
                progress(count, total)
        self.commit()
        self.release()
        return count

    def size_bytes(self) -> int:
        """Bytes on disk under the index directory."""
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())

    def close(self) -> None:
        """Commit pending additions and release the index lock."""
        self.commit()
        self.release()


def _newest(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COALESCE(MAX(change_seq), 0) FROM publications").fetchone()[0]


def _changed_rows(conn: sqlite3.Connection, after: int) -> Iterator[list[sqlite3.Row]]:
    """Rows with `change_seq > after` in (change_seq, id) order, in batches."""
    seq, last_id = after, LAST_ROWID  # (after, LAST_ROWID) excludes every row of `after`
    while True:
        batch = conn.execute(
            ROWS_SQL + "WHERE (p.change_seq, p.id) > (?, ?) ORDER BY p.change_seq, p.id LIMIT ?",
            (seq, last_id, READ_BATCH),
        ).fetchall()
        if not batch:
            return
        yield batch
        seq, last_id = batch[-1][1], batch[-1][0]


def _document(row: sqlite3.Row) -> tantivy.Document:
    row_id, _, day, tags, *texts = row
    doc = tantivy.Document()
    doc.add_integer("id", row_id)
    doc.add_text("text", "\n".join(text for text in texts if text))
    for tag in tags.split(TAG_SEPARATOR) if tags else ():
        doc.add_text("tags", tag)
    doc.add_date("date", _midnight(day))
    return doc


def _midnight(iso_date: str) -> datetime:
    return datetime.fromisoformat(iso_date).replace(tzinfo=UTC)
