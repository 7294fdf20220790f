"""Publications as digests read them.

Enters: an optional date range, tags and a limit. Leaves: dicts, newest first, holding every
stored field (Federal Register names, JSON decoded, plus `id`, `version`, `first_seen`,
`updated_at`) and the tag result: `tags`, `scores`, `evidence`, `entities`, `tag_dates` (the
tagger's `dates`; the publication's own `dates` text keeps its name), `model_version`, `tagged_at`,
`tags_stale` — all None for an untagged publication.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from archive import rows
from archive.query import check_dates

SELECT = (
    "SELECT p.*, t.result AS tag_result, t.model_version, t.tagged_at, "
    "t.content_hash != p.content_hash AS tags_stale "
    "FROM publications p LEFT JOIN tag_results t ON t.publication_id = p.id"
)


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
    sql = f"{SELECT} {where} ORDER BY p.publication_date DESC, p.id DESC"
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
    data = rows.row_dict(row)
    stored = data.pop("tag_result")
    result = json.loads(stored) if stored is not None else None
    for key in ("content_hash", "change_seq"):
        data.pop(key)
    for key in ("tags", "scores", "evidence", "entities"):
        data[key] = result.get(key) if result is not None else None
    data["tag_dates"] = result.get("dates") if result is not None else None
    data["tags_stale"] = bool(data["tags_stale"]) if result is not None else None
    return data
