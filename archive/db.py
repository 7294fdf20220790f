"""SQLite connections, migrations and transactions.

Enters: a database path. Leaves: for writers (`connect`), an open `sqlite3.Connection` in
autocommit mode with WAL, foreign keys and a busy timeout, migrated to the newest schema in
`migrations.MIGRATIONS`; for readers (`connect_readonly`), a connection that cannot write. A new
database is built beside its path and linked into place whole, so no reader ever sees it half made.
Before anything is written, the file is checked read-only (`dbcheck`): an empty, foreign, damaged
or newer file raises `ArchiveError` with one line and keeps every byte. `transaction()` wraps one
write in `BEGIN IMMEDIATE` … `COMMIT` (rolled back on any error). `rows_in` runs a lookup by a
list of values of any length, `CHUNK` values per statement.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive.dbcheck import applied_versions, failure, is_damage
from archive.errors import ArchiveError
from archive.migrations import MIGRATIONS
from regwatch.files import check_file

# Readers' and writers': 64 MiB of page cache keeps bulk imports off the disk, and the inner
# pages of a million-row archive in memory for a long-lived reader (the web server's search page
# read its rows twice as fast as with SQLite's default 2 MiB).
READ_PRAGMAS = ("PRAGMA busy_timeout = 10000", "PRAGMA cache_size = -65536")
PRAGMAS = (
    "PRAGMA page_size = 16384",  # new files only: ~4 KB rows fit a page; bulk stores ~20% faster
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    *READ_PRAGMAS,
)
ALL_VERSIONS = {version for version, _, _ in MIGRATIONS}
CHUNK = 500  # values bound per lookup by `rows_in`, far below SQLite's limit
MARKS = "{marks}"  # where `rows_in` puts a chunk's `?, ?, ?`
STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"  # how times are written: ISO 8601 UTC, comparable as text


def connect(path: Path) -> sqlite3.Connection:
    """Open the regwatch database at `path` for writing (creating it if absent) and migrate it."""
    if not path.exists():
        _create(path)
    _check(path)
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
        raise failure(path, exc) from None
    except ArchiveError:
        conn.close()
        raise
    return conn


def connect_readonly(path: Path, *, create: bool = True) -> sqlite3.Connection:
    """Open the regwatch database at `path` for reading; nothing is created, converted or migrated.

    Only where a writer would do the same (the folder is writable) is a missing database created
    (unless `create` is False: then a missing one is an `ArchiveError` naming it) or an older one
    migrated first.
    """
    if not path.exists():
        if not create or not writable(path.parent):
            raise no_archive(path)
        connect(path).close()
    conn = _open_readonly(path)
    try:
        if applied_versions(conn, path) != ALL_VERSIONS:
            if not writable(path.parent):
                raise ArchiveError(
                    f"database {path} needs upgrading and its folder is read-only: run a writing "
                    "command (e.g. `regwatch reindex`) once with write access"
                )
            conn.close()
            connect(path).close()
            conn = _open_readonly(path)
    except BaseException:
        conn.close()
        raise
    return conn


def no_archive(path: Path) -> ArchiveError:
    """The error for a home without the database `path` where none may be made."""
    return ArchiveError(
        f"no archive at {path} yet: `regwatch crawl` or `regwatch import` makes one"
    )


def writable(path: Path) -> bool:
    """Whether this process may create and change files in the existing folder or file `path`."""
    return os.access(path, os.W_OK)


def _open_readonly(path: Path) -> sqlite3.Connection:
    """A `mode=ro` connection (`immutable=1` when a read-only folder holds no WAL index file)."""
    try:
        check_file(path)  # a named pipe would block, a device be read for ever
    except ValueError as exc:
        raise ArchiveError(f"{path}: {exc}: move it aside or set another home") from None
    uri = path.absolute().as_uri()
    try:
        conn = sqlite3.connect(
            f"{uri}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise ArchiveError(f"cannot open database {path}: {exc}") from None
    try:
        for pragma in READ_PRAGMAS:
            conn.execute(pragma)
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as exc:
        conn.close()
        if writable(path.parent) or is_damage(exc):
            raise failure(path, exc) from None
        conn = sqlite3.connect(
            f"{uri}?immutable=1", uri=True, isolation_level=None, check_same_thread=False
        )
        for pragma in READ_PRAGMAS:
            conn.execute(pragma)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise failure(path, exc) from None
    return conn


def _check(path: Path) -> None:
    """Refuse, before any write, a file that is not a usable regwatch database."""
    conn = _open_readonly(path)
    try:
        applied_versions(conn, path)
    finally:
        conn.close()


def _create(path: Path) -> None:
    """Build a migrated database beside `path`, then link it in unless another process did first."""
    tmp = path.with_name(f".{path.name}.new-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            for pragma in PRAGMAS:
                conn.execute(pragma)
            migrate(conn)
        finally:
            conn.close()
        with suppress(FileExistsError):
            os.link(tmp, path)
    except (OSError, sqlite3.Error) as exc:
        raise ArchiveError(f"cannot create database {path}: {exc}") from None
    finally:
        for leftover in path.parent.glob(f"{tmp.name}*"):
            leftover.unlink(missing_ok=True)


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
    except BaseException:
        _rollback(conn)
        raise


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: committed if the block succeeds, rolled back otherwise.

    SQLite failures (locked past the busy timeout, disk full, read-only file) become
    `ArchiveError`; damage (`dbcheck.is_damage`) and other exceptions from the block pass through
    after the rollback, for the caller that knows the file to name it.
    """
    try:  # one `try` from BEGIN on: a Ctrl-C right after BEGIN must not leave it open
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise ArchiveError(f"cannot write the database: {exc}") from None
        yield conn
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        _rollback(conn)
        if is_damage(exc):
            raise  # the caller names the damaged file
        raise ArchiveError(f"database write failed and was rolled back: {exc}") from None
    except BaseException:
        _rollback(conn)
        raise


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with suppress(sqlite3.Error):  # a damaged file may refuse even this
            conn.execute("ROLLBACK")


def rows_in(
    conn: sqlite3.Connection | sqlite3.Cursor,
    sql: str,
    values: Sequence[object],
    leading: Sequence[object] = (),
) -> Iterator[Any]:
    """The rows of `sql`, whose `IN ({marks})` takes `values`, `CHUNK` values per statement;
    `leading` are the parameters bound before them. Each chunk's rows come in its own order."""
    if sql.count(MARKS) != 1:
        raise ValueError(f"rows_in needs one {MARKS} in its SQL: {sql[:80]!r}")
    for start in range(0, len(values), CHUNK):
        chunk = values[start : start + CHUNK]
        yield from conn.execute(sql.replace(MARKS, ", ".join("?" * len(chunk))), (*leading, *chunk))


def utc_now() -> str:
    """The current UTC time as ISO 8601 with microseconds, e.g. `2026-12-01T06:00:00.000000Z`."""
    return stamp(datetime.now(UTC))


def stamp(moment: datetime) -> str:
    """An aware `moment` as `utc_now` writes times (they compare as text)."""
    return moment.astimezone(UTC).strftime(STAMP)


@contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Reads in the block see one consistent state of the database (a read transaction)."""
    try:
        conn.execute("BEGIN")
        yield conn
    finally:
        _rollback(conn)
