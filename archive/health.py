"""SQLite compared with the search index: does search see every stored document?

Enters: an open connection and the `SearchIndex`. Leaves: `IndexHealth` — documents and last
`change_seq` on each side, how many stored documents the index has not caught up with, whether
another regwatch process is writing the index, and `problem`: None when the two agree, else one
line saying what differs and what to do (`regwatch reindex`, or wait for the writer). Asked to
`verify`, it also reads every index file against its checksum (damaged bytes that still open).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from archive.index import SearchIndex, foreign
from archive.indexdir import damaged_file

REMEDY = "run `regwatch reindex`"


@dataclass(frozen=True, slots=True)
class IndexHealth:
    """What `status` shows about the index, and what `search` warns about."""

    database_documents: int
    database_last_change: int
    index_documents: int | None  # None: the index cannot be opened
    index_last_change: int | None
    behind: int  # stored documents changed after the index's last change
    writer_active: bool
    problem: str | None

    @property
    def usable(self) -> bool:
        """Whether the index can be searched at all."""
        return self.index_documents is not None


def index_health(
    conn: sqlite3.Connection, index: SearchIndex, *, verify: bool = False
) -> IndexHealth:
    """Compare the `publications` table with the index (a few indexed queries); with `verify`,
    and no other process writing the index, also check every byte of its files."""
    stored, newest = conn.execute(
        "SELECT COUNT(*), COALESCE(MAX(change_seq), 0) FROM publications"
    ).fetchone()
    writing = index.lock.held_elsewhere()
    if index.problem is not None:
        empty = stored == 0 and index.problem == "missing"  # nothing stored, nothing to index yet
        problem = None if empty else _unusable(index, writing)
        return IndexHealth(stored, newest, None, None, stored, writing, problem)
    mark = index.watermark
    other = foreign(conn, mark, index.archive)
    indexed = index.document_count()
    behind = conn.execute(
        "SELECT COUNT(*) FROM publications WHERE change_seq > ?", (mark,)
    ).fetchone()[0]
    problem = _difference(stored, newest, indexed, mark, behind, writing, other)
    broken = damaged_file(index.path) if verify and not writing else None
    if broken is not None:
        problem = f"search index {index.path} is damaged ({broken} fails its checksum); {REMEDY}"
    return IndexHealth(stored, newest, indexed, mark, behind, writing, problem)


def _unusable(index: SearchIndex, writing: bool) -> str:
    if writing:
        return (
            f"search index {index.path} is {index.problem} while another regwatch process "
            f"writes it; if it still is when that finishes, {REMEDY}"
        )
    return f"search index {index.path} is {index.problem}; {REMEDY}"


def _difference(
    stored: int, newest: int, indexed: int, mark: int, behind: int, writing: bool, foreign: bool
) -> str | None:
    if behind == 0 and indexed == stored and mark == newest and not foreign:
        return None
    if writing and not foreign:
        return (
            f"index behind by {behind} documents while another regwatch process writes; "
            "they become searchable when it finishes"
        )
    if foreign or indexed > stored:
        return (
            f"index holds documents the database does not ({indexed} indexed, {stored} stored, "
            f"last change {mark} indexed, {newest} stored); {REMEDY}"
        )
    if behind:
        return f"index behind by {behind} documents; {REMEDY}"
    return f"index has {indexed} documents, the database {stored}; {REMEDY}"
