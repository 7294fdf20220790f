"""Publications as digests read them.

Enters: an optional date range, tags and a limit; for a recipient list's digest, the list name,
its period, its tag filter and when the list was first sent a digest. Leaves: dicts, newest first,
holding every stored field (Federal Register names, JSON decoded — a damaged or hand-edited
cell reads as empty and stops no other row —, plus `id`, `version`,
`first_seen`, `updated_at`) and the tag result: `tags`, `scores`, `evidence`, `entities`,
`tag_dates` (the tagger's `dates`; the publication's own `dates` text keeps its name),
`model_version`, `tagged_at`, `tags_stale` — all None for an untagged publication — and `related`
(linked releases and documents, `archive.links`). Digest reads add
`late` (stored after the list began, published before the period, never sent), `sent_version` (for
changes to documents already sent), period counts and the rows behind the weekly counts table.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from archive import rows
from archive.links import RELATED, decode
from archive.query import check_dates
from archive.tagging import TAGS_STALE

SELECT = (
    "SELECT p.*, t.result AS tag_result, t.model_version, t.tagged_at, "
    f"{TAGS_STALE} AS tags_stale, {RELATED} AS related "
    "FROM publications p LEFT JOIN tag_results t ON t.publication_id = p.id"
)
ORDER = "ORDER BY p.publication_date DESC, p.id DESC"
HAS_TAG = (
    "EXISTS (SELECT 1 FROM publication_tags pt WHERE pt.publication_id = p.id "
    "AND pt.tag IN ({marks}))"
)
# Publications already in a digest sent to a list for another period than the one being built.
SENT_ELSEWHERE = (
    "SELECT i.publication_id, MAX(i.version) AS version FROM digest_items i "
    "JOIN digests_sent d ON d.id = i.digest_id "
    "WHERE d.list_name = ? AND NOT (d.period_start = ? AND d.period_end = ?) "
    "GROUP BY i.publication_id"
)
# Publications of a record family one of whose other records such a digest sent (a filing on
# public inspection sent, then its published document): a change, never a new item.
FAMILY_SENT = (
    "p.family IS NOT NULL AND EXISTS (SELECT 1 FROM publications f "
    f"JOIN ({SENT_ELSEWHERE}) s ON s.publication_id = f.id "
    "WHERE f.family = p.family AND f.id != p.id)"
)
DATE_SLOTS = ("comments_close_on", "effective_on", "compliance_on")
WATCHED = "p.id IN (SELECT publication_id FROM watch_priority)"


def publications(
    conn: sqlite3.Connection,
    *,
    since: str | None = None,
    until: str | None = None,
    tags: Sequence[str] = (),
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Publications in [since, until] carrying any of `tags`, newest first."""
    check_dates(since, until)
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    where, args = _conditions(since, until, tags)
    sql = f"{SELECT} {where} {ORDER}"
    if limit is not None:
        sql += " LIMIT ?"
        args.append(int(limit))
    return [_item(row) for row in conn.execute(sql, args)]


def _conditions(since: str | None, until: str | None, tags: Sequence[str]) -> tuple[str, list[Any]]:
    parts, args = [], []
    if since:
        parts.append("p.publication_date >= ?")
        args.append(since)
    if until:
        parts.append("p.publication_date <= ?")
        args.append(until)
    if tags:
        marks = ", ".join("?" * len(tags))
        parts.append(
            f"p.id IN (SELECT publication_id FROM publication_tags WHERE tag IN ({marks}))"
        )
        args.extend(tags)
    return ("WHERE " + " AND ".join(parts) if parts else ""), args


def _item(row: sqlite3.Row) -> dict[str, Any]:
    """A listed publication; a stored cell that cannot be read (damaged or hand-edited) reads
    as empty, so the rest of the document is listed."""
    data, _ = rows.shown_row(row)
    stored = data.pop("tag_result")
    result = (rows.tag_result(stored) or {}) if stored is not None else None
    for key in ("content_hash", "change_seq"):
        data.pop(key)
    for key in ("tags", "scores", "evidence", "entities"):
        data[key] = result.get(key) if result is not None else None
    data["tag_dates"] = result.get("dates") if result is not None else None
    data["tags_stale"] = bool(data["tags_stale"]) if result is not None else None
    data["related"] = decode(data["related"])
    return data


def digest_items(
    conn: sqlite3.Connection,
    *,
    list_name: str,
    start: str,
    end: str,
    tags: Sequence[str],
    late_since: str | None,
) -> list[dict[str, Any]]:
    """A list's digest items: publications of [start, end] tagged with any of `tags` or touching
    the watch-list, then late ones, newest first.

    Late: published before `start`, first stored after `late_since` (the list's first send; None
    means no late items). Either kind is left out once a digest of another period sent it.
    """
    check_dates(start, end)
    has_tag = f"({HAS_TAG.format(marks=', '.join('?' * len(tags)))} OR {WATCHED})"
    unsent = f"p.id NOT IN (SELECT publication_id FROM ({SENT_ELSEWHERE})) AND NOT ({FAMILY_SENT})"
    sent_args = [list_name, start, end] * 2
    found = conn.execute(
        f"{SELECT} WHERE p.publication_date BETWEEN ? AND ? AND {has_tag} AND {unsent} {ORDER}",
        [start, end, *tags, *sent_args],
    ).fetchall()
    if late_since is not None:
        found += conn.execute(
            f"{SELECT} WHERE p.first_seen > ? AND p.publication_date < ? AND {has_tag} "
            f"AND {unsent} {ORDER}",
            [late_since, start, *tags, *sent_args],
        ).fetchall()
    items = [_item(row) for row in found]
    for item in items:
        item["late"] = item["publication_date"] < start
    return items


def digest_changes(
    conn: sqlite3.Connection, *, list_name: str, start: str, end: str
) -> list[dict[str, Any]]:
    """Publications a digest of another period sent to `list_name` that changed since.

    Each dict carries `sent_version`, the newest version the list has seen (0 for a document
    the list saw only as another record of its family, e.g. its public-inspection filing).
    """
    sql = (
        f"SELECT p.*, s.version AS sent_version FROM ({SELECT}) p "
        f"JOIN ({SENT_ELSEWHERE}) s ON s.publication_id = p.id "
        f"WHERE p.version > s.version {ORDER}"
    )
    found = conn.execute(sql, (list_name, start, end)).fetchall()
    family = (
        f"SELECT p.*, 0 AS sent_version FROM ({SELECT}) p WHERE {FAMILY_SENT} "
        f"AND p.id NOT IN (SELECT publication_id FROM ({SENT_ELSEWHERE})) "
        f"AND p.tag_result IS NOT NULL {ORDER}"
    )
    found += conn.execute(family, (list_name, start, end) * 2).fetchall()
    return [_item(row) for row in found]


def upcoming(
    conn: sqlite3.Connection,
    *,
    published_since: str,
    after: str,
    until: str,
    tags: Sequence[str],
) -> list[dict[str, Any]]:
    """Publications since `published_since` carrying any of `tags` whose tagger dates (comment
    deadline, effective or compliance date) fall in (after, until]."""
    check_dates(published_since, until)
    slots = ", ".join("?" * len(DATE_SLOTS))
    sql = (
        f"{SELECT} WHERE p.publication_date BETWEEN ? AND ? "
        f"AND {HAS_TAG.format(marks=', '.join('?' * len(tags)))} "
        f"AND EXISTS (SELECT 1 FROM json_each({rows.json_cell('t.result')}, '$.dates') "
        f"WHERE key IN ({slots}) AND value > ? AND value <= ?) {ORDER}"
    )
    args = [published_since, after, *tags, *DATE_SLOTS, after, until]
    return [_item(row) for row in conn.execute(sql, args)]


def period_counts(
    conn: sqlite3.Connection, *, start: str, end: str, primary: Sequence[str], tags: Sequence[str]
) -> dict[str, int]:
    """Publications of [start, end]: `total`, `tagged` (tag result stored), `primary` (any
    `primary` tag) and `matching` (any of `tags`)."""
    check_dates(start, end)
    sql = (
        "SELECT COUNT(*), COUNT(t.publication_id), "
        f"COALESCE(SUM({HAS_TAG.format(marks=', '.join('?' * len(primary)))}), 0), "
        f"COALESCE(SUM({HAS_TAG.format(marks=', '.join('?' * len(tags)))}), 0) "
        "FROM publications p LEFT JOIN tag_results t ON t.publication_id = p.id "
        "WHERE p.publication_date BETWEEN ? AND ?"
    )
    row = conn.execute(sql, [*primary, *tags, start, end]).fetchone()
    return dict(zip(("total", "tagged", "primary", "matching"), row, strict=True))


def tag_agency_rows(
    conn: sqlite3.Connection, *, start: str, end: str, primary: Sequence[str]
) -> list[tuple[str, list[str], list[str]]]:
    """`(publication_date, primary tags, agency names)` for every publication of [start, end]."""
    check_dates(start, end)
    sql = (
        "SELECT p.publication_date, (SELECT json_group_array(tag) FROM publication_tags pt "
        f"WHERE pt.publication_id = p.id AND pt.tag IN ({', '.join('?' * len(primary))})), "
        f"(SELECT json_group_array(COALESCE({rows.member_field('a', '$.name')}, "
        f"{rows.member_field('a', '$.raw_name')})) "
        f"FROM json_each({rows.json_cell('p.agencies')}) a) "
        "FROM publications p WHERE p.publication_date BETWEEN ? AND ?"
    )
    return [
        (day, json.loads(tags), [name for name in json.loads(agencies) if name])
        for day, tags, agencies in conn.execute(sql, [*primary, start, end])
    ]
