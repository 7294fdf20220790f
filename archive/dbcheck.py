"""Is this file a regwatch database? Checked read-only, before anything is written to it.

Enters: the database path and a read-only connection to it (or an `sqlite3.DatabaseError` raised
while using it). Leaves: the migration versions the file has recorded, or an `ArchiveError` of one
line naming the file and what to do: an empty file, another application's SQLite file (tables but
no `schema_migrations`), a damaged file, a missing table, or a schema newer than this regwatch.
Nothing here writes, so a refused file keeps every byte.
"""

from __future__ import annotations

import sqlite3
from functools import cache
from pathlib import Path

from archive.errors import ArchiveError
from archive.migrations import MIGRATIONS

DAMAGE_CODES = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
MOVE_ASIDE = "restore it from a backup, or move it aside to start a new archive"


def applied_versions(conn: sqlite3.Connection, path: Path) -> set[int]:
    """The versions recorded in `schema_migrations`; `ArchiveError` if the file is not ours."""
    if path.stat().st_size == 0:
        raise ArchiveError(
            f"{path} is an empty file, not a regwatch database: move it aside or set another home"
        )
    try:
        tables = _tables(conn)
        if "schema_migrations" not in tables:
            raise ArchiveError(
                f"{path} is another application's SQLite database "
                f"(tables: {', '.join(sorted(tables)[:5]) or 'none'}); regwatch leaves it "
                "unchanged: set another home"
            )
        versions = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    except sqlite3.DatabaseError as exc:
        raise failure(path, exc) from None
    newest = MIGRATIONS[-1][0]
    if versions and max(versions) > newest:
        raise ArchiveError(
            f"database schema version {max(versions)} is newer than this regwatch knows "
            f"({newest}): upgrade regwatch to open {path}"
        )
    missing = expected_tables(frozenset(versions)) - tables
    if missing:
        raise ArchiveError(
            f"database {path} is missing table {', '.join(sorted(missing))}: {MOVE_ASIDE}"
        )
    return versions


def failure(path: Path, exc: sqlite3.DatabaseError) -> ArchiveError:
    """One line for an SQLite failure: damage names the file and the remedy."""
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if getattr(exc, "sqlite_errorcode", None) in DAMAGE_CODES:
        return ArchiveError(
            f"database {path} is damaged or not an SQLite file ({reason}): {MOVE_ASIDE}"
        )
    return ArchiveError(f"database {path}: {reason}")


def is_damage(exc: sqlite3.Error) -> bool:
    """Whether `exc` says the file itself is damaged (not locked, full or read-only)."""
    return getattr(exc, "sqlite_errorcode", None) in DAMAGE_CODES


@cache
def expected_tables(versions: frozenset[int]) -> frozenset[str]:
    """The tables a database holding exactly these migrations has (built in memory)."""
    conn = sqlite3.connect(":memory:")
    try:
        for version, _, sql in MIGRATIONS:
            if version in versions:
                conn.executescript(sql)
        return frozenset(_tables(conn) | {"schema_migrations"})
    finally:
        conn.close()


def _tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    return {row[0] for row in rows}
