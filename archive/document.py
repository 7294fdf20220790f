"""One publication as `regwatch show` and the web document page present it.

Enters: an open connection, the search index and a document number (with its source when more
than one source holds that number). Leaves: a plain dict — the stored fields (JSON decoded), the
tag result (tags with scores and evidence, entities, dates), the links the source gave, every
recorded version (number, when, changed fields), and related publications: sharing a RIN or a
docket, cited by it (its `fr_citations` matched against other documents' own citation) or citing
it (its citation found in their text); what the rule did to the screening lists (`screening`, a
sentence or None), the EAR paragraphs it changed (`section_changes`, `archive.rule_context`) and
`damaged`, the stored values that could not be read and are shown empty (a damaged or hand-edited
JSON cell) — or None if no such document is stored. Candidates for "same RIN / docket / citing"
come from the search index and are confirmed in SQLite.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import tantivy

from archive import rows
from archive.errors import QueryError
from archive.index import SearchIndex
from archive.indexdoc import ANALYZER
from archive.rule_context import rule_context

LINK_FIELDS = ("html_url", "pdf_url", "public_inspection_pdf_url", "raw_text_url", "json_url")
INTERNAL = ("id", "content_hash", "change_seq")  # columns `show` leaves out
RELATED_PER_KIND = 20
CANDIDATES = 200


def find(
    conn: sqlite3.Connection, index: SearchIndex, source_id: str, source: str | None = None
) -> dict[str, Any] | None:
    """The publication `source_id` (of `source`) with tags, versions and related documents."""
    sql = "SELECT * FROM publications WHERE source_id = ?" + (" AND source = ?" if source else "")
    found = conn.execute(sql, (source_id, source) if source else (source_id,)).fetchall()
    if len(found) > 1:
        sources = ", ".join(sorted(row["source"] for row in found))
        raise QueryError(f"{source_id} is held by several sources ({sources}): give --source")
    if not found:
        return None
    row = found[0]
    doc, damaged = rows.shown_row(row)
    raw = doc.pop("raw") or {}
    result = conn.execute(
        "SELECT result, model_version, tagged_at FROM tag_results WHERE publication_id = ?",
        (row["id"],),
    ).fetchone()
    tagging = rows.tag_result(result["result"]) if result else {}
    if tagging is None:
        tagging = {}
        damaged.append("tag result")
    doc.update(
        links=_links(doc.get("url"), raw),
        tags=[
            {
                "tag": tag,
                "score": (tagging.get("scores") or {}).get(tag),
                "evidence": (tagging.get("evidence") or {}).get(tag, []),
            }
            for tag in tagging.get("tags") or []
        ],
        entities=tagging.get("entities") or {},
        extracted_dates=tagging.get("dates") or {},
        tagged_by=result["model_version"] if result else None,
        tagged_at=result["tagged_at"] if result else None,
        versions=_versions(conn, row["id"], damaged),
        **rule_context(conn, row["id"]),
        damaged=damaged,
    )
    doc["related"] = _related(conn, index, doc)
    for internal in (*INTERNAL, *rows.RAW_COLUMNS.keys() - {"citation"}):
        doc.pop(internal)
    return doc


def _links(url: Any, raw: dict[str, Any]) -> list[str]:
    values = [url, *(raw.get(name) for name in LINK_FIELDS)]
    return list(dict.fromkeys(v for v in values if isinstance(v, str) and v))


def _versions(conn: sqlite3.Connection, pid: int, damaged: list[str]) -> list[dict[str, Any]]:
    """Every recorded version; one whose list of changed fields cannot be read shows none and
    adds "versions" to `damaged`."""
    versions = []
    for v, stored, at in conn.execute(
        "SELECT version, changed, recorded_at FROM publication_versions "
        "WHERE publication_id = ? ORDER BY version",
        (pid,),
    ):
        changed = rows.loaded(stored, list)
        if changed is None and "versions" not in damaged:
            damaged.append("versions")
        versions.append({"version": v, "recorded_at": at, "changed": changed or []})
    return versions


def _related(
    conn: sqlite3.Connection, index: SearchIndex, doc: dict[str, Any]
) -> list[dict[str, Any]]:
    me = (doc["source"], doc["source_id"])
    related: dict[tuple[str, str], dict[str, Any]] = {}

    def add(found: list[sqlite3.Row], why: str) -> None:
        for row in found[:RELATED_PER_KIND]:
            key = (row["source"], row["source_id"])
            if key != me:
                shown = {k: row[k] for k in row.keys() if k != "id"}  # noqa: SIM118 - sqlite3.Row
                entry = related.setdefault(key, {**shown, "why": []})
                entry["why"].append(why)

    for column, label in (("regulation_id_numbers", "same RIN"), ("docket_ids", "same docket")):
        for value in doc.get(column) or []:
            ids = mentioning(index, value)
            add(_holding(conn, ids, column, value), f"{label} {value}")
    for mention in (doc["entities"].get("fr_citations") or [])[:RELATED_PER_KIND]:
        value = mention.get("value") if isinstance(mention, dict) else None
        if isinstance(value, str):
            add(_cited(conn, value), f"cited here: {value}")
    if doc["citation"]:
        add(_by_ids(conn, mentioning(index, doc["citation"])), f"cites this: {doc['citation']}")
    add(_linked(conn, doc["id"]), "linked: a press release and the document it names")
    return sorted(related.values(), key=lambda r: r["publication_date"], reverse=True)


SUMMARY = "SELECT id, source, source_id, title, publication_date, type FROM publications "
LINKED = (
    "WHERE id IN (SELECT related_id FROM publication_links WHERE publication_id = ? "
    "UNION SELECT publication_id FROM publication_links WHERE related_id = ?)"
)


def _linked(conn: sqlite3.Connection, pid: int) -> list[sqlite3.Row]:
    """The press releases a document is linked to, or the documents a release names."""
    return conn.execute(f"{SUMMARY} {LINKED}", (pid, pid)).fetchall()


def mentioning(index: SearchIndex, text: str, limit: int = CANDIDATES) -> list[int]:
    """Ids of at most `limit` documents whose text holds `text` as a phrase (newest first)."""
    tokens = ANALYZER.analyze(text)
    if not tokens or index.problem is not None:
        return []
    schema, searcher = index.schema, index.searcher()
    phrase = [
        (tantivy.Occur.Should, _phrase(schema, field, tokens))
        for field in ("title", "abstract", "body")
    ]
    hits = searcher.search(
        tantivy.Query.boolean_query(phrase), limit, count=False, order_by_field="date"
    ).hits
    return searcher.fast_field_values("id", [address for _, address in hits])


def _phrase(schema: tantivy.Schema, field: str, tokens: list[str]) -> tantivy.Query:
    if len(tokens) == 1:
        return tantivy.Query.term_query(schema, field, tokens[0])
    return tantivy.Query.phrase_query(schema, field, tokens)


def _holding(
    conn: sqlite3.Connection, ids: list[int], column: str, value: str
) -> list[sqlite3.Row]:
    if not ids:
        return []
    sql = (
        f"{SUMMARY} WHERE id IN ({', '.join('?' * len(ids))}) AND EXISTS "
        f"(SELECT 1 FROM json_each({rows.json_cell(column)}) WHERE value = ?) "
        "ORDER BY publication_date DESC"
    )
    return conn.execute(sql, (*ids, value)).fetchall()


def _by_ids(conn: sqlite3.Connection, ids: list[int]) -> list[sqlite3.Row]:
    if not ids:
        return []
    sql = f"{SUMMARY} WHERE id IN ({', '.join('?' * len(ids))}) ORDER BY publication_date DESC"
    return conn.execute(sql, ids).fetchall()


def _cited(conn: sqlite3.Connection, citation: str) -> list[sqlite3.Row]:
    normal = " ".join(citation.split())
    sql = f"{SUMMARY} WHERE citation = ?"  # the publications_citation index
    return conn.execute(sql, (normal,)).fetchall()
