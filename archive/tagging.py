"""What the tagger reads from the archive and what it writes back.

Enters: a model version (which tag results count as current) and tag results from `nlp/`:
`(TagInput, {"tags": [...], "scores": {...}, "evidence": {...}, "entities": {...},
"dates": {...}})`; the `TagInput` says which content the tagger read.
Leaves: `TagInput` batches of documents still to tag (never tagged, changed since tagging, tagged
by another model version, whose stored result cannot be read: damaged or hand-edited, or tagged
while one of its stored lists could not be read, once that list is repaired), and stored results
— the JSON result and content hash in `tag_results`, one `publication_tags` row per tag for
filtering — with `change_seq` raised so the search index picks the tags up. Documents the tagger
failed on are recorded in `tag_failures` (reason, model version, when); they stay due, so the
next run retries them, and a document leaves `tag_failures` when its tags are stored.
`tag_failures` lists them, oldest first. In the same transaction as the tags, the documents'
watch-list hits are replaced (`watch`) and the alerts they cause are written to the outbox
(`outbox`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from archive import outbox, rows, watch
from archive.db import transaction, utc_now
from archive.outbox import RouteFilter
from archive.store import next_change_seq

RESULT_READABLE = "json_valid(COALESCE(t.result, '{}'))"  # false: damaged or hand-edited
# The content hash a result is stored against when the tagger read a document one of whose stored
# lists could not be read (read as empty): no content has it, so its tags are stale (`TAGS_STALE`)
# once the lists can be read again (repaired), not before (tagging again would read the same).
UNREADABLE = "lists unreadable"
TAGS_STALE = (
    f"(t.content_hash != p.content_hash AND (t.content_hash != '{UNREADABLE}' "
    f"OR {rows.lists_readable('p')}))"
)
STALE = (
    f"(t.publication_id IS NULL OR {TAGS_STALE} OR t.model_version != ? "
    f"OR NOT {RESULT_READABLE} OR p.id IN (SELECT publication_id FROM tag_failures))"
)
FROM = "FROM publications p LEFT JOIN tag_results t ON t.publication_id = p.id "


@dataclass(frozen=True, slots=True)
class TagFailureRow:
    """A document the tagger failed on, as `status` shows it."""

    source: str
    source_id: str
    reason: str
    model_version: str
    failed_at: str


@dataclass(frozen=True, slots=True)
class TagInput:
    """One document for the tagger, keyed by the archive's publication id.

    `content_hash` is the content the tagger reads: results are stored against it, so a document
    that changes while it is being tagged stays due for tagging (`UNREADABLE` when a stored list
    could not be read). `label` is how a report names
    the document: `<source> <source_id>`.
    """

    publication_id: int
    document: dict[str, Any]
    content_hash: str
    label: str


def count_to_tag(conn: sqlite3.Connection, model_version: str, *, retag: bool = False) -> int:
    """How many publications `documents_to_tag` would yield."""
    where, args = _where(model_version, retag)
    return conn.execute(f"SELECT COUNT(*) {FROM} WHERE {where}", args).fetchone()[0]


def documents_to_tag(
    conn: sqlite3.Connection, model_version: str, *, retag: bool = False, batch_size: int = 500
) -> Iterator[list[TagInput]]:
    """Batches of documents to tag, in id order; safe to `store_tags` between batches."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    where, args = _where(model_version, retag)
    last = 0
    while True:
        batch = conn.execute(
            f"SELECT p.*, {rows.lists_readable('p')} AS readable {FROM} "
            f"WHERE p.id > ? AND {where} ORDER BY p.id LIMIT ?",
            (last, *args, batch_size),
        ).fetchall()
        if not batch:
            return
        yield [
            TagInput(
                row["id"],
                rows.fr_document(row),
                row["content_hash"] if row["readable"] else UNREADABLE,
                f"{row['source']} {row['source_id']}",
            )
            for row in batch
        ]
        last = batch[-1]["id"]


def _where(model_version: str, retag: bool) -> tuple[str, tuple[Any, ...]]:
    return ("1", ()) if retag else (STALE, (model_version,))


def store_tags(
    conn: sqlite3.Connection,
    tagged: Sequence[tuple[TagInput, dict[str, Any]]],
    model_version: str,
    routes: Sequence[RouteFilter] = (),
    watch_hits: Mapping[int, Sequence[dict[str, Any]]] | None = None,
) -> int:
    """Store tag results in one transaction; raise `ValueError` (nothing stored) on bad input.

    The same transaction replaces the documents' watch-list hits when `watch_hits` is given
    (publication id → hits, see `watch`) and writes the alerts the results cause for `routes`
    (see `outbox`).
    """
    checked = [
        (item, _tags(item.publication_id, result), _result_json(item.publication_id, result))
        for item, result in tagged
    ]
    now = utc_now()
    with transaction(conn):
        seq = next_change_seq(conn)
        for item, tags, result_json in checked:
            pid = item.publication_id
            found = conn.execute(
                "UPDATE publications SET change_seq = ? WHERE id = ? RETURNING id", (seq, pid)
            ).fetchone()
            if found is None:
                raise ValueError(f"no publication with id {pid}")
            _write(conn, pid, tags, result_json, item.content_hash, model_version, now)
        if watch_hits is not None:
            watch.replace_hits(
                conn,
                {
                    item.publication_id: watch_hits.get(item.publication_id, [])
                    for item, _ in tagged
                },
                now,
            )
        hits = watch_hits or {}
        outbox.enqueue(
            conn, [(item.publication_id, res) for item, res in tagged], routes, now, hits
        )
    return len(checked)


def record_tag_failures(
    conn: sqlite3.Connection, failures: Sequence[tuple[TagInput, str]], model_version: str
) -> int:
    """Record (or refresh) why each document could not be tagged, in one transaction."""
    now = utc_now()
    with transaction(conn):
        conn.executemany(
            "INSERT INTO tag_failures (publication_id, model_version, reason, failed_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (publication_id) DO UPDATE SET "
            "model_version = excluded.model_version, reason = excluded.reason, "
            "failed_at = excluded.failed_at",
            [(item.publication_id, model_version, str(reason), now) for item, reason in failures],
        )
    return len(failures)


def tag_failures(conn: sqlite3.Connection, limit: int) -> tuple[int, list[TagFailureRow]]:
    """How many documents the tagger failed on, and the first `limit` of them (oldest first)."""
    count = conn.execute("SELECT COUNT(*) FROM tag_failures").fetchone()[0]
    rows = conn.execute(
        "SELECT p.source, p.source_id, f.reason, f.model_version, f.failed_at "
        "FROM tag_failures f JOIN publications p ON p.id = f.publication_id "
        "ORDER BY f.failed_at, f.publication_id LIMIT ?",
        (limit,),
    )
    return count, [TagFailureRow(*row) for row in rows]


def _tags(pid: int, result: dict[str, Any]) -> list[tuple[str, float | None]]:
    if not isinstance(result, dict) or not isinstance(result.get("tags"), list):
        raise ValueError(f"tag result for publication {pid} needs a 'tags' list")
    scores = result.get("scores") or {}
    if not all(isinstance(tag, str) and tag for tag in result["tags"]):
        raise ValueError(f"tag result for publication {pid}: tags must be non-empty strings")
    try:
        return [
            (tag, None if scores.get(tag) is None else float(scores[tag]))
            for tag in dict.fromkeys(result["tags"])
        ]
    except (TypeError, ValueError):
        raise ValueError(f"tag result for publication {pid}: scores must be numbers") from None


def _result_json(pid: int, result: dict[str, Any]) -> str:
    try:
        return json.dumps(result, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"tag result for publication {pid} is not JSON: {exc}") from None


def _write(
    conn: sqlite3.Connection,
    pid: int,
    tags: list[tuple[str, float | None]],
    result_json: str,
    content_hash: str,
    model_version: str,
    now: str,
) -> None:
    conn.execute(
        "INSERT INTO tag_results (publication_id, model_version, content_hash, result, tagged_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (publication_id) DO UPDATE SET "
        "model_version = excluded.model_version, content_hash = excluded.content_hash, "
        "result = excluded.result, tagged_at = excluded.tagged_at",
        (pid, model_version, content_hash, result_json, now),
    )
    conn.execute("DELETE FROM publication_tags WHERE publication_id = ?", (pid,))
    conn.execute("DELETE FROM tag_failures WHERE publication_id = ?", (pid,))
    conn.executemany(
        "INSERT INTO publication_tags (publication_id, tag, score) VALUES (?, ?, ?)",
        [(pid, tag, score) for tag, score in tags],
    )
