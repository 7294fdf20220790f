"""Links between press releases (BIS, NTIA) and the Federal Register documents they name.

Enters: an open connection; release sources and the sources a link may point at; for a release,
the references found in its text (`crawlers.references.References`) or the ids a title match
chose. Leaves: rows in `publication_links` (release → document, with the kind of evidence:
`document_number`, `citation`, `rin` or `title`, and the evidence text), releases still to link
(never linked, or changed since), candidate documents for a reference or a title match, and
`RELATED`, the SQL expression other reads select (`AS related`) to show each publication's links
in both directions as a JSON list of `{source, source_id, title, url, publication_date, kind}`
(NULL when it has none, as most have: `decode` reads both as a list).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from archive.db import transaction, utc_now
from archive.rows import json_cell, member_field

RIN_DAYS = 730  # a RIN names a rulemaking: look two years either side of the release
# Two index probes decide whether a publication has links before its list is built (a search
# page's 20 rows were read in three quarters of the time at 1,000,000 documents).
RELATED = (
    "(CASE WHEN EXISTS (SELECT 1 FROM publication_links WHERE publication_id = p.id) "
    "OR EXISTS (SELECT 1 FROM publication_links WHERE related_id = p.id) THEN "
    "(SELECT json_group_array(json_object('source', r.source, 'source_id', r.source_id, "
    "'title', r.title, 'url', r.url, 'publication_date', r.publication_date, 'kind', r.kind)) "
    "FROM (SELECT o.source, o.source_id, o.title, o.url, o.publication_date, l.kind "
    "FROM publication_links l JOIN publications o ON o.id = CASE WHEN l.publication_id = p.id "
    "THEN l.related_id ELSE l.publication_id END "
    "WHERE l.publication_id = p.id OR l.related_id = p.id "
    "ORDER BY o.publication_date, o.source_id) r) END)"
)
Link = tuple[int, str, str]  # (related id, kind, evidence)


def releases_to_link(conn: sqlite3.Connection, sources: Sequence[str]) -> list[dict[str, Any]]:
    """Releases of `sources` without links, or changed since they were linked."""
    marks = ", ".join("?" * len(sources))
    sql = (
        "SELECT p.id, p.source, p.title, p.publication_date, p.abstract, p.body_text, "
        "p.updated_at, EXISTS (SELECT 1 FROM publication_links l WHERE l.publication_id = p.id) "
        f"AS had_links FROM publications p WHERE p.source IN ({marks}) AND NOT EXISTS ("
        "SELECT 1 FROM publication_links l WHERE l.publication_id = p.id "
        "AND l.linked_at >= p.updated_at) ORDER BY p.id"
    )
    return [dict(row) for row in conn.execute(sql, list(sources))]


def named(
    conn: sqlite3.Connection,
    targets: Sequence[str],
    *,
    document_numbers: Sequence[str],
    citations: Sequence[str],
    rins: Sequence[str],
    near: str,
) -> list[Link]:
    """Documents of `targets` with one of these numbers or citations, or one of these RINs
    within `RIN_DAYS` of the day `near`."""
    found: dict[int, tuple[str, str]] = {}
    tmarks = ", ".join("?" * len(targets))
    queries = (
        ("document_number", "source_id", "source_id IN ({marks})", document_numbers),
        ("citation", "citation", "citation IN ({marks})", citations),
    )
    for kind, column, where, values in queries:
        if not values:
            continue
        sql = (
            f"SELECT id, {column} FROM publications WHERE source IN ({tmarks}) "
            f"AND {where.format(marks=', '.join('?' * len(values)))}"
        )
        for pid, value in conn.execute(sql, [*targets, *values]):
            found.setdefault(pid, (kind, value))
    if rins:
        day = date.fromisoformat(near)
        sql = (
            "SELECT p.id, j.value FROM publications p, "
            f"json_each({json_cell('p.regulation_id_numbers')}) j "
            f"WHERE p.source IN ({tmarks}) AND p.publication_date BETWEEN ? AND ? "
            f"AND j.value IN ({', '.join('?' * len(rins))})"
        )
        window = [(day - timedelta(RIN_DAYS)).isoformat(), (day + timedelta(RIN_DAYS)).isoformat()]
        for pid, value in conn.execute(sql, [*targets, *window, *rins]):
            found.setdefault(pid, ("rin", value))
    return [(pid, kind, evidence) for pid, (kind, evidence) in found.items()]


def titles_near(
    conn: sqlite3.Connection, targets: Sequence[str], agency: str, day: str, days: int
) -> list[tuple[int, str]]:
    """(id, title) of `agency`'s documents of `targets` published within `days` of `day`."""
    center = date.fromisoformat(day)
    sql = (
        f"SELECT p.id, p.title FROM publications p WHERE p.source IN "
        f"({', '.join('?' * len(targets))}) AND p.publication_date BETWEEN ? AND ? "
        f"AND EXISTS (SELECT 1 FROM json_each({json_cell('p.agencies')}) a "
        f"WHERE {member_field('a', '$.slug')} = ?)"
    )
    first, last = center - timedelta(days), center + timedelta(days)
    return list(conn.execute(sql, [*targets, first.isoformat(), last.isoformat(), agency]))


def store_links(conn: sqlite3.Connection, release_id: int, links: Sequence[Link]) -> None:
    """Replace the release's links with `links` (one transaction)."""
    now = utc_now()
    with transaction(conn):
        conn.execute("DELETE FROM publication_links WHERE publication_id = ?", (release_id,))
        conn.executemany(
            "INSERT INTO publication_links (publication_id, related_id, kind, evidence, linked_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [(release_id, pid, kind, evidence, now) for pid, kind, evidence in links],
        )


def decode(value: str | None) -> list[dict[str, Any]]:
    """The `related` column as a list (empty when the publication has no links, as most have:
    NULL, which needs no JSON parsing)."""
    return json.loads(value) if value and value != "[]" else []
