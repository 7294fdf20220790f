"""Writes of publications, watermarks and crawl runs.

Enters: an open connection and publications checked and encoded by `rows.encoded` (or
`Publication` objects, or watermark / crawl-log values).
Leaves: rows in `publications`, `watermarks`, `crawl_log`, and a `StoreResult` counting what a
batch did. A batch is one transaction, applied as if its items were stored one by one in order; an
unchanged publication writes nothing; a changed one is updated in place with `version` raised,
`updated_at` and `change_seq` renewed (so the search index and the tagger see it again). Every
stored version is recorded in `publication_versions`: its number, when, and which stored fields
changed from the version before (none for the first). An unchanged publication whose stored lists
differ from what its content hash was made of, or whose source record (`raw`) cannot be decoded
(damaged or hand-edited), is repaired: those are written again and `change_seq` renewed (the index
reads it again), nothing else (no new version, so no alert; a `raw` that can be read is kept).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from archive import rows
from archive.db import MARKS, rows_in, transaction, utc_now
from archive.records import Publication


@dataclass(frozen=True, slots=True)
class StoreResult:
    """What one `store` call did; `warnings`: what was stored in a way a user must be told of,
    each one line (a crawl reporting them does not count as a success); `repaired`: unchanged
    publications whose damaged or hand-edited stored lists or source record were written again."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    warnings: tuple[str, ...] = ()
    repaired: int = 0


@dataclass(slots=True)
class _Pending:
    key: tuple[str, str]
    values: tuple[Any, ...]
    digest: str
    row_id: int | None  # None: not in the database yet
    changes: int = 0  # 0 for a stored row: a repair of its lists and `raw`


class _Known(NamedTuple):
    """A stored publication as a batch meets it."""

    row_id: int
    digest: str
    body: str | None
    written: tuple[Any, ...]  # its stored lists and `raw`, in `REPAIRED` order


INSERT_SQL = (
    f"INSERT INTO publications (source, source_id, {', '.join(rows.WRITTEN_FIELDS)}, "
    "content_hash, version, first_seen, updated_at, change_seq) "
    f"VALUES ({', '.join('?' * (len(rows.WRITTEN_FIELDS) + 7))})"
)
UPDATE_SQL = (
    f"UPDATE publications SET {', '.join(f'{n} = ?' for n in rows.WRITTEN_FIELDS)}, "
    "content_hash = ?, version = version + ?, updated_at = ?, change_seq = ? WHERE id = ?"
)
RAW = rows.WRITTEN_FIELDS.index("raw")
REPAIRED = [*(rows.WRITTEN_FIELDS.index(name) for name in sorted(rows.JSON_FIELDS)), RAW]
REPAIR_SQL = (
    f"UPDATE publications SET {', '.join(f'{rows.WRITTEN_FIELDS[i]} = ?' for i in REPAIRED)}, "
    "change_seq = ? WHERE id = ?"
)


def next_change_seq(conn: sqlite3.Connection) -> int:
    """The sequence number the next write (inside the current transaction) must carry."""
    return conn.execute("SELECT COALESCE(MAX(change_seq), 0) + 1 FROM publications").fetchone()[0]


def store_encoded(conn: sqlite3.Connection, items: Sequence[rows.Encoded]) -> StoreResult:
    """Store one batch of checked, encoded publications (`rows.encoded`) in one transaction.

    A publication arriving without `body_text` keeps the full text already stored for it (a
    re-crawl of the API's metadata never erases a fetched body).
    """
    with transaction(conn):
        return write_encoded(conn, items)


def write_publications(conn: sqlite3.Connection, pubs: Sequence[Publication]) -> StoreResult:
    """Inside the caller's transaction: check, encode and store publications."""
    return write_encoded(conn, [rows.encoded(pub) for pub in pubs])


def write_encoded(conn: sqlite3.Connection, items: Sequence[rows.Encoded]) -> StoreResult:
    """Inside the caller's transaction: store encoded publications (the one writer of their
    rows, content hashes, versions and `publication_versions`)."""
    known = _known(conn, [(item.source, item.source_id) for item in items])
    pending: dict[tuple[str, str], _Pending] = {}
    counts = {"inserted": 0, "updated": 0, "unchanged": 0, "repaired": 0}
    for item in items:
        key = (item.source, item.source_id)
        body = known[key].body if key in known else None
        if item.values[rows.BODY] is None and body is not None:
            item = item.with_body(body)
        counts[_apply(pending, known, key, item.values, item.digest)] += 1
    _write(conn, pending.values(), next_change_seq(conn), utc_now())
    return StoreResult(**counts)


def _apply(
    pending: dict[tuple[str, str], _Pending],
    known: dict[tuple[str, str], _Known],
    key: tuple[str, str],
    values: tuple[Any, ...],
    digest: str,
) -> str:
    entry = pending.get(key)
    if entry is None and key not in known:
        pending[key] = _Pending(key, values, digest, None)
        return "inserted"
    if entry is None:
        row_id, stored_digest, _, written = known[key]
        if stored_digest != digest:
            pending[key] = _Pending(key, values, digest, row_id, 1)
            return "updated"
        repair = _repair(written, values)
        if repair is None:
            return "unchanged"
        pending[key] = _Pending(key, repair, digest, row_id)
        return "repaired"
    if entry.digest == digest:
        return "unchanged"
    entry.values, entry.digest, entry.changes = values, digest, entry.changes + 1
    return "updated"


def _repair(written: tuple[Any, ...], values: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """`values` to write over a stored row of the same content hash, or None when its stored
    lists and `raw` (`written`) need no repair. The hash was made of the lists as written, so a
    list that differs now was damaged or hand-edited since. A `raw` is decoded only when it differs
    from the new one (the same compressor writes the same bytes); one that still reads is kept."""
    raw = written[-1]
    raw_reads = raw == values[RAW] or rows.stored_json("raw", raw) is not None
    lists_same = all(old == values[i] for old, i in zip(written[:-1], REPAIRED[:-1], strict=True))
    if lists_same and raw_reads:
        return None
    return (*values[:RAW], raw, *values[RAW + 1 :]) if raw_reads else values


def _known(
    conn: sqlite3.Connection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], _Known]:
    """The batch's publications already stored."""
    by_source: dict[str, list[str]] = {}
    for source, source_id in keys:
        by_source.setdefault(source, []).append(source_id)
    found: dict[tuple[str, str], _Known] = {}
    written = ", ".join(rows.WRITTEN_FIELDS[i] for i in REPAIRED)
    sql = (
        f"SELECT source_id, id, content_hash, body_text, {written} "
        f"FROM publications WHERE source = ? AND source_id IN ({MARKS})"
    )
    for source, ids in by_source.items():
        for source_id, row_id, digest, body, *stored in rows_in(conn, sql, ids, (source,)):
            found[(source, source_id)] = _Known(row_id, digest, body, tuple(stored))
    return found


def _write(conn: sqlite3.Connection, entries: Iterable[_Pending], seq: int, now: str) -> None:
    inserts, updates, repairs = [], [], []
    for e in entries:
        if e.row_id is None:
            inserts.append((*e.key, *e.values, e.digest, 1 + e.changes))
        elif e.changes:
            updates.append((*e.values, e.digest, e.changes, now, seq, e.row_id))
        else:
            repairs.append((*(e.values[i] for i in REPAIRED), seq, e.row_id))
    versions = _changed_fields(conn, updates)
    conn.executemany(INSERT_SQL, [(*v, now, now, seq) for v in inserts])
    conn.executemany(UPDATE_SQL, updates)
    conn.executemany(REPAIR_SQL, repairs)
    record_versions(conn, versions, now)
    if inserts:  # a first version records no changes
        conn.execute(
            "INSERT OR IGNORE INTO publication_versions "
            "(publication_id, version, changed, recorded_at) "
            "SELECT id, version, '[]', first_seen FROM publications WHERE change_seq = ?",
            (seq,),
        )


def record_versions(
    conn: sqlite3.Connection, versions: Sequence[tuple[int, list[str]]], now: str
) -> None:
    """Inside the caller's transaction: the version each (publication id, changed fields) now
    stands at, in `publication_versions`."""
    conn.executemany(
        "INSERT INTO publication_versions (publication_id, version, changed, recorded_at) "
        "SELECT id, version, ?, ? FROM publications WHERE id = ?",
        [(json.dumps(changed), now, row_id) for row_id, changed in versions],
    )


def _changed_fields(
    conn: sqlite3.Connection, updates: list[tuple[Any, ...]]
) -> list[tuple[int, list[str]]]:
    """(publication id, names of the stored fields an update changes), read before it is made."""
    stored = len(rows.STORED_FIELDS)
    new_values = {u[-1]: u[:stored] for u in updates}
    sql = f"SELECT id, {', '.join(rows.STORED_FIELDS)} FROM publications WHERE id IN ({MARKS})"
    found = []
    for row_id, *old in rows_in(conn, sql, list(new_values)):
        new = new_values[row_id]
        pairs = zip(rows.STORED_FIELDS, old, new, strict=True)
        names = [name for name, a, b in pairs if not rows.same(name, a, b)]
        found.append((row_id, names))
    return found


def watermark(conn: sqlite3.Connection, source: str) -> str | None:
    """The stored watermark of `source`, or None."""
    row = conn.execute("SELECT value FROM watermarks WHERE source = ?", (source,)).fetchone()
    return row[0] if row else None


def set_watermark(conn: sqlite3.Connection, source: str, value: str) -> None:
    """Record `value` (an ISO date or date-time) as the watermark of `source`."""
    try:
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"watermark for {source} must be an ISO date, got {value!r}") from None
    with transaction(conn):
        conn.execute(
            "INSERT INTO watermarks (source, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (source) DO UPDATE SET value = excluded.value, "
            "updated_at = excluded.updated_at",
            (source, value, utc_now()),
        )


def log_crawl(
    conn: sqlite3.Connection,
    source: str,
    *,
    started_at: str,
    finished_at: str,
    ok: bool,
    stats: dict[str, Any],
) -> None:
    """Append one crawl run to `crawl_log`."""
    with transaction(conn):
        conn.execute(
            "INSERT INTO crawl_log (source, started_at, finished_at, ok, stats) "
            "VALUES (?, ?, ?, ?, ?)",
            (source, started_at, finished_at, int(ok), json.dumps(stats, sort_keys=True)),
        )
