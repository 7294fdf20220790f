"""Ranked search over the index, answered with rows from SQLite.

Enters: the user's query text, a limit and optional tag / date filters. Leaves: `SearchHit`s in BM25
order, each with the stored title, date, agencies, tags, an HTML snippet of the abstract (or the
title) with matched words in `<b>…</b>`, and `related`: the press releases and Federal Register
documents linked to it (`archive.links`). Malformed input raises `QueryError`; an engine failure
raises `ArchiveError` (tantivy's Rust panics never escape).
"""

from __future__ import annotations

import html
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

import tantivy

from archive import query as q
from archive.errors import ArchiveError, QueryError
from archive.index import SearchIndex
from archive.links import RELATED, decode

SNIPPET_CHARS = 240
HIT_SQL = (
    "SELECT id, source, source_id, title, publication_date, url, type, agencies, abstract, "
    "(SELECT json_group_array(tag) FROM (SELECT tag FROM publication_tags t "
    "WHERE t.publication_id = p.id ORDER BY tag)) AS tags, "
    f"{RELATED} AS related "
    "FROM publications p WHERE id IN ({marks})"
)


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One search result."""

    source: str
    source_id: str
    title: str
    publication_date: str
    url: str | None
    type: str | None
    agencies: list[str]
    tags: list[str]
    score: float
    snippet: str
    related: list[dict[str, str]]


def search(
    conn: sqlite3.Connection,
    index: SearchIndex,
    text: str,
    *,
    limit: int = 20,
    tags: Sequence[str] = (),
    since: str | None = None,
    until: str | None = None,
) -> list[SearchHit]:
    """The best `limit` publications for `text`, restricted to any of `tags` and the date range."""
    q.check_limit(limit)
    clauses = q.parse(text)
    try:
        searcher = index.searcher()
        query = q.with_filters(
            q.build(clauses, index.schema, searcher),
            index.schema,
            tags=list(tags),
            since=since,
            until=until,
        )
        hits = searcher.search(query, limit, count=False).hits
        ids = searcher.fast_field_values("id", [address for _, address in hits])
        snippets = tantivy.SnippetGenerator.create(searcher, query, index.schema, q.FIELD)
    except (QueryError, KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # tantivy's Rust panics are BaseException
        raise ArchiveError(f"search failed in the index engine: {exc}".splitlines()[0]) from None
    snippets.set_max_num_chars(SNIPPET_CHARS)
    rows = _rows(conn, ids)
    return [
        _hit(rows[pid], score, snippets)
        for (score, _), pid in zip(hits, ids, strict=True)
        if pid in rows
    ]


def _rows(conn: sqlite3.Connection, ids: list[int]) -> dict[int, sqlite3.Row]:
    if not ids:
        return {}
    sql = HIT_SQL.format(marks=", ".join("?" * len(ids)))
    return {row["id"]: row for row in conn.execute(sql, ids)}


def _hit(row: sqlite3.Row, score: float, snippets: tantivy.SnippetGenerator) -> SearchHit:
    return SearchHit(
        source=row["source"],
        source_id=row["source_id"],
        title=row["title"],
        publication_date=row["publication_date"],
        url=row["url"],
        type=row["type"],
        agencies=[a.get("name") or a.get("raw_name") for a in json.loads(row["agencies"])],
        tags=json.loads(row["tags"]),
        score=float(score),
        snippet=snippet(snippets, row["abstract"] or row["title"]),
        related=decode(row["related"]),
    )


def snippet(snippets: tantivy.SnippetGenerator, text: str) -> str:
    """HTML fragment of `text` around the matched words, or its escaped start if none match."""
    html_fragment = snippets.snippet_from_doc(tantivy.Document(**{q.FIELD: text})).to_html()
    if html_fragment:
        return html_fragment
    start = text[:SNIPPET_CHARS]
    return html.escape(start if len(start) == len(text) else start.rsplit(" ", 1)[0] + " …")
