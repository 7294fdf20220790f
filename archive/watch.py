"""Watch-list hits: what each document touches of the team's watch-list, and which list matched.

Enters: hits per publication as plain dicts (`kind`, `item`, `matched`, `field`, `start`, `end`,
`quote`, `score`: what `nlp/watch.py` returns), inside `tagging.store_tags`' transaction or a
re-match's own; watch-list fingerprints.
Leaves: rows in `watch_hits` (a document's current hits replace its previous ones, with the
version they were found on and when each was first found), `watch_priority` (the number of
distinct watched items a document touches; no row means none) and `watch_lists` (each watch-list
fingerprint, when it was last put in use and when the archive was last re-matched with it);
reads: hits by publication, the newest hits with their documents, the current fingerprint, and
batches of stored documents with their tag results for a re-match.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from archive import rows
from archive.db import CHUNK, MARKS, rows_in, transaction, utc_now

COLUMNS = ("kind", "item", "matched", "field", "start", "end", "quote", "score")


def replace_hits(
    conn: sqlite3.Connection,
    hits: Mapping[int, Sequence[dict[str, Any]]],
    now: str,
) -> dict[int, list[dict[str, Any]]]:
    """Inside the caller's transaction: make `hits` each document's current hits and set its
    priority; return, per document, the hits it did not have before."""
    fresh: dict[int, list[dict[str, Any]]] = {}
    for pid, found in hits.items():
        before = {
            (kind, item, matched): first
            for kind, item, matched, first in conn.execute(
                "SELECT kind, item, matched, found_at FROM watch_hits WHERE publication_id = ?",
                (pid,),
            )
        }
        conn.execute("DELETE FROM watch_hits WHERE publication_id = ?", (pid,))
        conn.execute("DELETE FROM watch_priority WHERE publication_id = ?", (pid,))
        if not found:
            continue
        conn.executemany(
            "INSERT OR IGNORE INTO watch_hits (publication_id, kind, item, matched, field, start, "
            '"end", quote, score, version, found_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '
            "(SELECT version FROM publications WHERE id = ?), ?)",
            [
                (pid, *(_cell(hit, name) for name in COLUMNS), pid, before.get(_key(hit), now))
                for hit in found
            ],
        )
        conn.execute(
            "INSERT INTO watch_priority (publication_id, priority) VALUES (?, ?)",
            (pid, len({hit["item"] for hit in found})),
        )
        new = [hit for hit in found if _key(hit) not in before]
        if new:
            fresh[pid] = new
    return fresh


def _key(hit: dict[str, Any]) -> tuple[str, str, str]:
    return (str(hit["kind"]), str(hit["item"]), str(hit["matched"]))


def _cell(hit: dict[str, Any], name: str) -> Any:
    value = hit.get(name)
    if name in ("start", "end"):
        return value if isinstance(value, int) else None
    if name == "score":
        return float(value) if isinstance(value, int | float) else 100.0
    return str(value if value is not None else "")


def hits_for(conn: sqlite3.Connection, pids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Current hits of these publications, in the order they were found in."""
    found: dict[int, list[dict[str, Any]]] = {}
    sql = (
        f"SELECT publication_id, {', '.join(_quoted(COLUMNS))} FROM watch_hits "
        f"WHERE publication_id IN ({MARKS}) ORDER BY publication_id, field, start"
    )
    for row in rows_in(conn, sql, pids):
        found.setdefault(row[0], []).append(dict(zip(COLUMNS, row[1:], strict=True)))
    return found


def _quoted(names: Sequence[str]) -> list[str]:
    return [f'"{name}"' for name in names]


def recent(conn: sqlite3.Connection, limit: int) -> list[dict[str, Any]]:
    """The newest hits (by when found) with their document's source, id, title and date."""
    sql = (
        f"SELECT p.source, p.source_id, p.title, p.publication_date, w.found_at, "
        f"{', '.join('w.' + c for c in _quoted(COLUMNS))} FROM watch_hits w "
        "JOIN publications p ON p.id = w.publication_id "
        "ORDER BY w.found_at DESC, p.publication_date DESC, p.id DESC LIMIT ?"
    )
    keys = ("source", "source_id", "title", "publication_date", "found_at", *COLUMNS)
    return [dict(zip(keys, row, strict=True)) for row in conn.execute(sql, (limit,))]


def current_list(conn: sqlite3.Connection) -> str | None:
    """The fingerprint of the watch-list last put in use, or None."""
    found = conn.execute(
        "SELECT fingerprint FROM watch_lists ORDER BY used_at DESC LIMIT 1"
    ).fetchone()
    return found[0] if found else None


def use_list(conn: sqlite3.Connection, fingerprint: str, items: int, rematched: bool) -> None:
    """Record `fingerprint` as the watch-list in use (and re-matched now, if it was)."""
    now = utc_now()
    with transaction(conn):
        conn.execute(
            "INSERT INTO watch_lists (fingerprint, items, used_at, rematched_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (fingerprint) DO UPDATE SET "
            "used_at = excluded.used_at, rematched_at = COALESCE(excluded.rematched_at, "
            "watch_lists.rematched_at)",
            (fingerprint, items, now, now if rematched else None),
        )


def tagged_since(
    conn: sqlite3.Connection,
    first_seen: str,
    tagged_before: str | None = None,
    batch_size: int = CHUNK,
) -> Iterator[list[tuple[int, str, dict[str, Any], dict[str, Any]]]]:
    """Batches of (id, `<source> <source_id>`, document, tag result) of tagged publications
    first stored on or after `first_seen` (and tagged before `tagged_before`), in id order."""
    last = 0
    clause, bound = ("AND t.tagged_at < ? ", [tagged_before]) if tagged_before else ("", [])
    while True:
        batch = conn.execute(
            "SELECT p.*, t.result AS tag_result FROM publications p "
            "JOIN tag_results t ON t.publication_id = p.id "
            f"WHERE p.first_seen >= ? {clause}AND p.id > ? ORDER BY p.id LIMIT ?",
            (first_seen, *bound, last, batch_size),
        ).fetchall()
        if not batch:
            return
        yield [
            (
                row["id"],
                f"{row['source']} {row['source_id']}",
                rows.fr_document(row),
                rows.tag_result(row["tag_result"]) or {},  # damaged: no entities
            )
            for row in batch
        ]
        last = batch[-1]["id"]
