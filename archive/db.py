"""SQLite connection, migrations and transactions.

Enters: a database path. Leaves: an open `sqlite3.Connection` in autocommit mode with WAL, foreign
keys and a busy timeout, migrated to the newest schema in `migrations.MIGRATIONS`; `transaction()`
wraps one write in `BEGIN IMMEDIATE` … `COMMIT` (rolled back on any error). A file that is not a
regwatch database raises `ArchiveError` with one line.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from archive.errors import ArchiveError
from archive.migrations import MIGRATIONS

PRAGMAS = (
    "PRAGMA page_size = 16384",  # new files only: ~4 KB rows fit a page; bulk stores ~20% faster
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 10000",
    "PRAGMA cache_size = -65536",  # 64 MiB of page cache keeps bulk imports off the disk
)


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if absent) and migrate the database at `path`."""
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise ArchiveError(f"cannot open database {path}: {exc}") from None
    try:
        for pragma in PRAGMAS:
            conn.execute(pragma)
        migrate(conn)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise ArchiveError(f"{path} is not a usable regwatch database: {exc}") from None
    except ArchiveError:
        conn.close()
        raise
    return conn


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Apply every migration the database has not recorded; return the versions applied."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    newest = MIGRATIONS[-1][0]
    if done and max(done) > newest:
        raise ArchiveError(
            f"database schema version {max(done)} is newer than this regwatch knows ({newest})"
        )
    applied = []
    for version, name, sql in MIGRATIONS:
        if version not in done:
            _apply(conn, version, name, sql)
            applied.append(version)
    return applied


def _apply(conn: sqlite3.Connection, version: int, name: str, sql: str) -> None:
    record = (
        "INSERT INTO schema_migrations (version, name, applied_at) "
        f"VALUES ({int(version)}, {_quote(name)}, {_quote(utc_now())});"
    )
    try:
        conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\n{record}\nCOMMIT;")
    except sqlite3.Error:
        _rollback(conn)
        raise


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: committed if the block succeeds, rolled back otherwise.

    SQLite failures (locked past the busy timeout, disk full, read-only file) become
    `ArchiveError`; other exceptions from the block pass through after the rollback.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise ArchiveError(f"cannot write the database: {exc}") from None
    try:
        yield conn
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        _rollback(conn)
        raise ArchiveError(f"database write failed and was rolled back: {exc}") from None
    except BaseException:
        _rollback(conn)
        raise


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def utc_now() -> str:
    """The current UTC time as ISO 8601 with microseconds, e.g. `2026-12-01T06:00:00.000000Z`."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
