"""Full texts to fetch and fetched, and public-inspection filings withdrawn.

Enters: the primary tags and the score a document needs on one of them to be read in full
(`fulltext.min_score`), the sources whose documents have full-text URLs, fetched texts and fetch
failures from the crawl, and complete public-inspection issue listings.
Leaves: `body_fetches` rows (one per wanted document: its URL — `raw_text_url`, else
`body_html_url`, never `html_url` — and its state: pending, fetched or failed, with the attempts
counted against its limit, the last error and since when it has been failing: a failure while the
host is down counts only once the text has failed for a grace period); a fetched text stored as
the publication's `body_text` with its content hash, `version`, `updated_at` and `change_seq`
renewed (the tag step re-tags it, the index re-reads it); `withdrawn_at` set on stored filings of
an issue that are missing from its listing (and cleared when one comes back): never deleted.
Counts of bodies by state for `status`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from archive import rows
from archive.db import stamp, transaction, utc_now
from archive.outbox import enqueue_withdrawn
from archive.store import next_change_seq, record_versions, write_publications

STATES = ("pending", "fetched", "failed")


def queue_bodies(
    conn: sqlite3.Connection, sources: Sequence[str], tags: Sequence[str], min_score: float
) -> int:
    """Queue the body of every tagged document of `sources` scoring `min_score` or more on one of
    `tags` that has no body yet and a full-text URL; returns how many were queued."""
    if not tags or not sources:
        return 0
    result = rows.json_cell("t.result")  # a tag result that cannot be read scores nothing
    score = " OR ".join(f"json_extract({result}, ?) >= ?" for _ in tags)
    args = [value for tag in tags for value in (f'$.scores."{tag}"', min_score)]
    with transaction(conn):
        before = conn.total_changes
        conn.execute(
            "INSERT INTO body_fetches (publication_id, url, state, updated_at) "
            "SELECT p.id, p.body_url, 'pending', ? FROM publications p "
            "JOIN tag_results t ON t.publication_id = p.id "
            f"WHERE p.source IN ({', '.join('?' * len(sources))}) AND p.body_text IS NULL "
            f"AND p.body_url IS NOT NULL AND ({score}) ON CONFLICT DO NOTHING",
            (utc_now(), *sources, *args),
        )
        return conn.total_changes - before


def wanted_bodies(
    conn: sqlite3.Connection, sources: Sequence[str], max_attempts: int, limit: int
) -> list[dict[str, Any]]:
    """Queued bodies still to fetch (pending, or failed fewer than `max_attempts` times)."""
    found = conn.execute(
        "SELECT p.source, p.source_id, b.url FROM body_fetches b "
        "JOIN publications p ON p.id = b.publication_id "
        f"WHERE p.source IN ({', '.join('?' * len(sources))}) AND (b.state = 'pending' "
        "OR (b.state = 'failed' AND b.attempts < ?)) ORDER BY b.attempts, p.id LIMIT ?",
        (*sources, max_attempts, limit),
    )
    return [dict(zip(("source", "source_id", "url"), row, strict=True)) for row in found]


def store_body(conn: sqlite3.Connection, source: str, source_id: str, text: str) -> bool:
    """Store a fetched body; True if the publication changed (`ValueError` if it is unknown).
    It is written as the publication with its new `body_text`, by the store's one writer."""
    with transaction(conn):
        row = _stored(conn, source, source_id)
        stored = rows.publication(row)
        result = write_publications(conn, [replace(stored, body_text=text)])
        conn.execute(
            "UPDATE body_fetches SET state = 'fetched', last_error = NULL, updated_at = ?, "
            "failing_since = NULL, attempts = attempts + 1 WHERE publication_id = ?",
            (utc_now(), row["id"]),
        )
    return result.updated > 0


def record_body_failure(
    conn: sqlite3.Connection,
    source: str,
    source_id: str,
    error: str,
    outage_grace_days: float | None = None,
) -> None:
    """Record one failed attempt at a body and why (one line); the document keeps no body.

    The attempt counts against the text's limit, unless the host was down (`outage_grace_days`
    given: it served no text that run) and the text has been failing for less than that many
    days: an outage shorter than the grace uses up no text's attempts.
    """
    moment = datetime.now(UTC)
    now = stamp(moment)
    grace_ends = None if outage_grace_days is None else stamp(moment - timedelta(outage_grace_days))
    with transaction(conn):
        row = _stored(conn, source, source_id)
        conn.execute(
            "UPDATE body_fetches SET state = 'failed', last_error = ?, updated_at = ?, "
            "failing_since = COALESCE(failing_since, ?), "
            "attempts = attempts + (? IS NULL OR COALESCE(failing_since, ?) < ?) "
            "WHERE publication_id = ?",
            (" ".join(error.split()), now, now, grace_ends, now, grace_ends, row["id"]),
        )


def _stored(conn: sqlite3.Connection, source: str, source_id: str) -> sqlite3.Row:
    """The stored row of a publication (`ValueError` if there is none)."""
    row = conn.execute(
        "SELECT * FROM publications WHERE source = ? AND source_id = ?", (source, source_id)
    ).fetchone()
    if row is None:
        raise ValueError(f"{source} {source_id}: no such publication")
    return row


def body_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Queued bodies by state (every state present, zero if none)."""
    found = dict(conn.execute("SELECT state, COUNT(*) FROM body_fetches GROUP BY state"))
    return {state: found.get(state, 0) for state in STATES}


def mark_withdrawn(
    conn: sqlite3.Connection, source: str, issue_date: str, listed: Sequence[str]
) -> int:
    """Filings of `source` last seen in the issue of `issue_date` but not `listed` in it are
    withdrawn (kept, with `withdrawn_at`); listed ones are not. Either change is a new version
    (`publication_versions`); each route already alerted about a withdrawn or relisted filing
    gets an "updated" alert saying so. Returns how many were withdrawn."""
    now, numbers = utc_now(), json.dumps(list(listed))
    with transaction(conn):
        seq = next_change_seq(conn)
        relisted = conn.execute(
            "UPDATE publications SET withdrawn_at = NULL, change_seq = ?, version = version + 1 "
            "WHERE source = ? AND withdrawn_at IS NOT NULL "
            "AND source_id IN (SELECT value FROM json_each(?)) RETURNING id",
            (seq, source, numbers),
        ).fetchall()
        found = [
            row_id
            for (row_id,) in conn.execute(
                "UPDATE publications SET withdrawn_at = ?, change_seq = ?, version = version + 1 "
                "WHERE source = ? AND withdrawn_at IS NULL "
                "AND last_public_inspection_issue = ? "
                "AND source_id NOT IN (SELECT value FROM json_each(?)) RETURNING id",
                (now, seq, source, issue_date, numbers),
            ).fetchall()
        ]
        changed = [row_id for (row_id,) in relisted] + found
        record_versions(conn, [(row_id, ["withdrawn_at"]) for row_id in changed], now)
        enqueue_withdrawn(conn, found, now)
        enqueue_withdrawn(conn, [row_id for (row_id,) in relisted], now, relisted=True)
    return len(found)
