"""What the Atom feeds and the calendar are made from.

Enters: a route name, or the first day of interest (ISO date).
Leaves: plain dicts — a route's latest alert per document or screening-list party (its payload
snapshot, kind, version and when it was queued), newest first; and every key date (comment
deadline, effective date, compliance date, from the tagger's `dates`) on or after a day, for
tagged documents, with the publication's identity, title, link, version and last change time.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from archive.outbox import KEY_DATES
from archive.rows import json_cell, loaded, tag_result


def route_entries(conn: sqlite3.Connection, route: str, limit: int) -> list[dict[str, Any]]:
    """The newest alert of each document queued for `route`, newest first, at most `limit`."""
    found = conn.execute(
        "SELECT kind, version, payload, created_at FROM alert_outbox WHERE id IN "
        "(SELECT MAX(id) FROM alert_outbox WHERE route = ? "
        f"GROUP BY COALESCE(publication_id, json_extract({json_cell('payload')}, "
        "'$.document_number'))) ORDER BY created_at DESC, id DESC LIMIT ?",
        (route, limit),
    )
    return [  # an alert whose stored payload cannot be read (damaged) has nothing to show
        {**shown, "kind": kind, "version": version, "queued_at": queued}
        for kind, version, payload, queued in found
        if (shown := loaded(payload, dict)) is not None
    ]


def upcoming_dates(conn: sqlite3.Connection, since: str) -> list[dict[str, Any]]:
    """Key dates on or after `since` of documents carrying any tag, by date then document."""
    result = json_cell("t.result")  # a tag result that cannot be read holds no dates
    paths = " OR ".join(f"json_extract({result}, '$.dates.{kind}') >= :since" for kind in KEY_DATES)
    found = conn.execute(
        "SELECT p.source, p.source_id, p.title, p.url, p.version, p.updated_at, t.result "
        "FROM tag_results t JOIN publications p ON p.id = t.publication_id "
        f"WHERE ({paths}) AND EXISTS "
        "(SELECT 1 FROM publication_tags g WHERE g.publication_id = p.id)",
        {"since": since},
    )
    events = []
    for source, source_id, title, url, version, updated_at, result in found:
        dates = (tag_result(result) or {}).get("dates", {})
        events += [
            {
                "source": source,
                "document_number": source_id,
                "title": title,
                "url": url,
                "version": version,
                "updated_at": updated_at,
                "kind": kind,
                "date": dates[kind],
            }
            for kind in KEY_DATES
            if isinstance(dates.get(kind), str) and dates[kind] >= since
        ]
    return sorted(events, key=lambda e: (e["date"], e["document_number"], e["kind"]))
