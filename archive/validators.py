"""HTTP validators (ETag, Last-Modified) of the feeds, listings and pages a crawl fetched.

Enters: an open connection, a source name and `(url, etag, last_modified)` triples from a
successful crawl. Leaves: rows in `http_validators`, one per (source, URL), and the stored
validators of a source as `{url: (etag, last_modified)}` for its next, conditional, requests
(only those a whole read renewed recently: a server answering 304 to everything is asked whole);
`stored_ids`, the `source_id`s a source has stored (what its listing lists that was read before).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from archive.db import stamp, transaction, utc_now

Validator = tuple[str | None, str | None]


def validators(conn: sqlite3.Connection, source: str, max_days: int) -> dict[str, Validator]:
    """The stored (ETag, Last-Modified) of every URL of `source` read whole (HTTP 200) in the
    last `max_days` days: older ones are not trusted to be sent again."""
    since = stamp(datetime.now(UTC) - timedelta(days=max_days))
    sql = (
        "SELECT url, etag, last_modified FROM http_validators WHERE source = ? AND updated_at >= ?"
    )
    return {url: (etag, modified) for url, etag, modified in conn.execute(sql, (source, since))}


def stored_ids(conn: sqlite3.Connection, source: str) -> set[str]:
    """The `source_id` of every publication of `source` in the archive."""
    sql = "SELECT source_id FROM publications WHERE source = ?"
    return {source_id for (source_id,) in conn.execute(sql, (source,))}


def store_validators(
    conn: sqlite3.Connection, source: str, entries: Iterable[tuple[str, str | None, str | None]]
) -> int:
    """Record the validators of fetched URLs (one transaction); a URL sending none is forgotten."""
    rows = list(entries)
    if not rows:
        return 0
    now = utc_now()
    with transaction(conn):
        conn.executemany(
            "DELETE FROM http_validators WHERE source = ? AND url = ?",
            [(source, url) for url, etag, modified in rows if not (etag or modified)],
        )
        conn.executemany(
            "INSERT INTO http_validators (source, url, etag, last_modified, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (source, url) DO UPDATE SET "
            "etag = excluded.etag, last_modified = excluded.last_modified, "
            "updated_at = excluded.updated_at",
            [(source, url, etag, stamp, now) for url, etag, stamp in rows if etag or stamp],
        )
    return len(rows)
