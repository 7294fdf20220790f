"""`Publication` ⇄ database row, content hashes and input checks.

Enters: `Publication` objects on the way in, `sqlite3.Row` objects on the way out.
Leaves: column tuples for `INSERT`/`UPDATE`, the content hash that decides "changed", and plain
dicts with the Federal Register API's field names (JSON columns decoded).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import Any

from archive.records import Publication, iso_date

# Normalised fields: what a reader sees. The hash covers exactly these, never `raw`.
CONTENT_FIELDS = (
    "url",
    "title",
    "type",
    "agencies",
    "publication_date",
    "abstract",
    "action",
    "dates",
    "effective_on",
    "comments_close_on",
    "cfr_references",
    "regulation_id_numbers",
    "docket_ids",
    "topics",
    "body_text",
)
JSON_FIELDS = frozenset(
    {"agencies", "cfr_references", "regulation_id_numbers", "docket_ids", "topics", "raw"}
)
DATE_FIELDS = ("publication_date", "effective_on", "comments_close_on")
EARLIEST, LATEST = "1700-01-01", "2199-12-31"  # the search index's dates cover 1677-2262
# Stored beside the content, outside the hash: the source record and the record family (one
# document seen on public inspection and then published shares one `family`).
STORED_FIELDS = (*CONTENT_FIELDS, "raw", "family")
NOT_READ = ("url", "body_text")
_sorted_json = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def check(pub: Publication) -> None:
    """Raise `ValueError` naming the first reason `pub` cannot be stored."""
    label = f"{pub.source} {pub.source_id}"
    for name in ("source", "source_id", "title", "publication_date"):
        if not isinstance(getattr(pub, name), str) or not getattr(pub, name).strip():
            raise ValueError(f"{label}: {name} is empty")
    for name in DATE_FIELDS:
        value = getattr(pub, name)
        if value is not None and iso_date(value) is None:
            raise ValueError(f"{label}: {name} is not an ISO date (YYYY-MM-DD): {value!r}")
    if not EARLIEST <= pub.publication_date <= LATEST:
        raise ValueError(
            f"{label}: publication_date {pub.publication_date} is not a plausible date"
        )


def encode(pub: Publication) -> tuple[tuple[Any, ...], str]:
    """Column values for `STORED_FIELDS` (JSON fields serialised) and the content hash.

    The hash is SHA-256 over the normalised fields only (never `raw`), with JSON keys sorted, so
    it is stable across runs and across key orders in the source.
    """
    values = tuple(_column(name, getattr(pub, name)) for name in STORED_FIELDS)
    return values, content_hash(dict(zip(STORED_FIELDS, values, strict=True)))


def content_hash(row: dict[str, Any]) -> str:
    """The content hash of stored column values (JSON columns as stored), as `encode` makes it."""
    return hashlib.sha256(_json(tuple(row[name] for name in CONTENT_FIELDS)).encode()).hexdigest()


def _column(name: str, value: Any) -> Any:
    if name == "raw":
        return _json(value)
    return _sorted_json(value) if name in JSON_FIELDS else value


def row_dict(row: sqlite3.Row) -> dict[str, Any]:
    """A publication row as a dict, JSON columns decoded."""
    return {
        key: json.loads(row[key]) if key in JSON_FIELDS and row[key] is not None else row[key]
        for key in row.keys()  # noqa: SIM118 - sqlite3.Row is not a mapping
    }


def fr_document(row: sqlite3.Row) -> dict[str, Any]:
    """The Federal Register API view of a stored publication (what `nlp/` reads); the stored
    full text is the document's plain-text `body`."""
    data = row_dict(row)
    document = {"document_number": data["source_id"]}
    document.update({name: data[name] for name in CONTENT_FIELDS if name not in NOT_READ})
    document["body"] = data["body_text"]
    return document
