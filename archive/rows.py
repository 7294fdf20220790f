"""`Publication` ⇄ database row, content hashes and input checks.

Enters: `Publication` objects on the way in, `sqlite3.Row` objects on the way out.
Leaves: column tuples for `INSERT`/`UPDATE` and the content hash that decides "changed" (together
in `Encoded`, made once per publication by `encoded`, in a worker process for bulk imports), plain
dicts with the Federal Register API's field names (JSON columns decoded). The source record
(`raw`) is stored as zstd-compressed compact JSON (`rawpack`: with a dictionary of real Federal
Register records; JSON text in rows written before migration 12); `raw_record` is the one reader
of it, and what SQL needs of it (`RAW_COLUMNS`: citation, full-text URL, public-inspection issue)
is copied into columns of their own. No key, text or JSON column may hold more characters than
`field_limits.json` allows it (ten times and more what a real Federal Register document holds:
titles up to 1,090 characters and abstracts up to 6,144 in 106,000 documents of 2020-2026), so
one hostile record cannot swell digests, alerts, pages and the index; full text is bounded by the
crawlers' download limits and the import's line limit.
"""

from __future__ import annotations

import functools
import hashlib
import json
import operator
import sqlite3
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from archive.rawpack import FRAME_MAGIC, pack, packed_json, unpack, zstd
from archive.records import Publication, iso_date
from regwatch.inert import shorten
from regwatch.jsonl import data_file

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
    {"agencies", "cfr_references", "regulation_id_numbers", "docket_ids", "topics"}
)
STRING_LISTS = frozenset({"regulation_id_numbers", "docket_ids", "topics"})  # lists of str
# What each JSON column holds once decoded: a list of these (`raw`: one object).
SHAPES = {"agencies": dict, "cfr_references": dict, **dict.fromkeys(STRING_LISTS, str)}
DATE_FIELDS = ("publication_date", "effective_on", "comments_close_on")
EARLIEST, LATEST = "1700-01-01", "2199-12-31"  # the search index's dates cover 1677-2262
# Stored beside the content, outside the hash: the source record and the record family (one
# document seen on public inspection and then published shares one `family`).
STORED_FIELDS = (*CONTENT_FIELDS, "raw", "family")
PUBLICATION_FIELDS = ("source", "source_id", *STORED_FIELDS)  # what `publication` reads back
# Copied from `raw` for SQL (lookups, indexes): column ← the first of these keys holding text.
RAW_COLUMNS = {
    "citation": ("citation",),
    "body_url": ("raw_text_url", "body_html_url"),
    "last_public_inspection_issue": ("last_public_inspection_issue",),
}
WRITTEN_FIELDS = (*STORED_FIELDS, *RAW_COLUMNS)
NOT_READ = ("url", "body_text")
_KEYED = ("source_id", *WRITTEN_FIELDS)
# Columns `field_limits.json` may bound: the key and every text or JSON column but full text (the
# checked dates, the family made of the key, the compressed source record stand unbounded).
LIMITED = tuple(n for n in _KEYED if n not in (*DATE_FIELDS, "body_text", "family", "raw"))
SHOWN = 80  # characters of a value a rejection message quotes
LIMITS_FILE = Path(__file__).with_name("field_limits.json")
_sorted_json = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode
_json_string = json.encoder.encode_basestring  # one string as `_sorted_json` writes it
_DIGIT_BYTES = frozenset(b"0123456789")


BODY = STORED_FIELDS.index("body_text")
_stored = operator.attrgetter(*STORED_FIELDS)  # CONTENT_FIELDS first, then `raw`, `family`
_ENCODED = [i for i, name in enumerate(STORED_FIELDS) if name == "raw" or name in JSON_FIELDS]


class Encoded(NamedTuple):
    """A checked publication ready to store: its key, `WRITTEN_FIELDS` values and content hash
    (a tuple of plain values: it crosses process boundaries cheaply)."""

    source: str
    source_id: str
    values: tuple[Any, ...]
    digest: str

    def with_body(self, body: str) -> Encoded:
        """The same publication holding full text `body` (its hash renewed)."""
        values = (*self.values[:BODY], body, *self.values[BODY + 1 :])
        return Encoded(self.source, self.source_id, values, _digest(values[: len(CONTENT_FIELDS)]))


def load_limits(path: Path) -> list[tuple[int, str, int]]:
    """The `field_limits.json` at `path` as (position in `(source_id, *WRITTEN_FIELDS)`, column,
    most characters); `ValueError` naming the file and the first column that is not one of
    `LIMITED`, or whose limit is not a whole number of at least 1."""
    limits = data_file(path)
    if not isinstance(limits, dict):
        raise ValueError(f"{path.name}: expected an object of column: most characters")
    checked = []
    for name, most in limits.items():
        if name not in LIMITED:
            raise ValueError(f"{path.name}: {name!r} is not one of {', '.join(LIMITED)}")
        if type(most) is not int or most < 1:
            raise ValueError(
                f"{path.name}: {name} must be a whole number of at least 1, got {most!r}"
            )
        checked.append((_KEYED.index(name), name, most))
    return checked


@functools.cache
def limits() -> list[tuple[int, str, int]]:
    """The checked `LIMITS_FILE` (`load_limits`), read once: `Archive.open` reads it for writing,
    so a broken file stops a command in one line before anything is stored."""
    return load_limits(LIMITS_FILE)


def encoded(pub: Publication) -> Encoded:
    """`pub` checked and encoded; raises `ValueError` naming why it cannot be stored."""
    check(pub)
    try:
        values, digest = encode(pub)
    except (TypeError, ValueError, RecursionError) as exc:  # a value nested too deep: the last
        raise ValueError(f"{_label(pub)}: not JSON-serialisable: {exc}") from None
    keyed = (pub.source_id, *values)
    for at, name, most in limits():
        if keyed[at] is not None and len(keyed[at]) > most:
            raise ValueError(
                f"{_label(pub)}: {name} holds {len(keyed[at]):,} "
                f"characters, more than the {most:,} a document may ({LIMITS_FILE.name})"
            )
    return Encoded(pub.source, pub.source_id, values, digest)


def _label(pub: Publication) -> str:
    """`<source> <source_id>` for a message."""
    return f"{pub.source} {_shown(pub.source_id)}"


def _shown(value: Any) -> str:
    """`value` as text for a message, cut in the middle to `SHOWN` characters."""
    return shorten(str(value), SHOWN)


def check(pub: Publication) -> None:
    """Raise `ValueError` naming the first reason `pub` cannot be stored."""
    label = _label(pub)
    for name in ("source", "source_id", "title", "publication_date"):
        if not isinstance(getattr(pub, name), str) or not getattr(pub, name).strip():
            raise ValueError(f"{label}: {name} is empty")
    if not any(map(str.isalnum, pub.source_id)):  # `.` or `..` would be no path to its page
        raise ValueError(f"{label}: source_id holds no letter or digit")
    for name in DATE_FIELDS:
        value = getattr(pub, name)
        if value is not None and iso_date(value) is None:
            raise ValueError(f"{label}: {name} is not an ISO date (YYYY-MM-DD): {_shown(value)!r}")
    if not EARLIEST <= pub.publication_date <= LATEST:
        raise ValueError(
            f"{label}: publication_date {pub.publication_date} is not a plausible date"
        )


def encode(pub: Publication) -> tuple[tuple[Any, ...], str]:
    """Column values for `WRITTEN_FIELDS` (JSON fields serialised, `raw` packed) and the content
    hash.

    The hash is SHA-256 over the normalised fields only (never `raw`), with JSON keys sorted, so
    it is stable across runs and across key orders in the source.
    """
    values = list(_stored(pub))
    for index in _ENCODED:
        values[index] = _column(STORED_FIELDS[index], values[index])
    return (*values, *raw_columns(pub.raw)), _digest(values[: len(CONTENT_FIELDS)])


def raw_columns(raw: dict[str, Any]) -> tuple[str | None, ...]:
    """The `RAW_COLUMNS` values of a source record: the first non-empty text of each's keys."""
    return tuple(
        next((v for k in keys if isinstance(v := raw.get(k), str) and v), None)
        for keys in RAW_COLUMNS.values()
    )


def raw_record(stored: bytes | str | None) -> dict[str, Any]:
    """The source record of a stored `raw` value: zstd-compressed JSON, or JSON text (rows
    written before migration 12); {} for none."""
    if not stored:
        return {}
    return json.loads(unpack(stored) if isinstance(stored, bytes) else stored)


def content_hash(row: dict[str, Any]) -> str:
    """The content hash of stored column values (JSON columns as stored), as `encode` makes it."""
    return _digest([row[name] for name in CONTENT_FIELDS])


def _digest(content: list[Any]) -> str:
    """SHA-256 of the `CONTENT_FIELDS` values (text or None), in order, as one compact JSON array
    (`packed_json` writes text byte for byte as the standard encoder does)."""
    return hashlib.sha256(packed_json(content)).hexdigest()


def _column(name: str, value: Any) -> Any:
    if name == "raw":
        return pack(value)
    if name in STRING_LISTS:  # what `_sorted_json` writes, without its per-call set-up
        return f"[{','.join(map(_json_string, value))}]"
    return _sorted(value) if name in JSON_FIELDS else value


def _sorted(value: Any) -> str:
    """`value` as `_sorted_json` writes it (content hashes are made of this text): orjson's
    (five times faster) where it writes the same, the standard encoder's for what orjson refuses
    (integers beyond 64 bits, a lone surrogate) or writes otherwise (a float below 1e-4: `1e-07`
    is its `1e-7`, `1e-05` its `0.00001`)."""
    try:
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return _sorted_json(value)
    return _sorted_json(value) if _small_float(text) else text.decode()


def _small_float(text: bytes) -> bool:
    """Whether orjson's `text` may hold a float below 1e-4 (`1e-7`, `0.00001`), which the standard
    encoder writes otherwise (a digit before `e-` or `0.0000` inside text counts too)."""
    at = text.find(b"e-")
    while at > 0:
        if text[at - 1] in _DIGIT_BYTES:
            return True
        at = text.find(b"e-", at + 2)
    return b"0.0000" in text


def same(name: str, old: Any, new: Any) -> bool:
    """Whether two stored values of column `name` hold the same (a `raw` by what it decodes to:
    its stored form differs across compressors and before migration 12; one that cannot be read,
    damaged or hand-edited, differs from any other)."""
    return stored_json(name, old) == raw_record(new) if name == "raw" else old == new


@functools.lru_cache(maxsize=8192)
def agency_names(stored: str | None) -> tuple[str, ...]:
    """The display names of a stored `agencies` column: each agency's `name`, else its
    `raw_name`, stripped; blank ones skipped (a few thousand distinct columns across the whole
    Federal Register: each is decoded once)."""
    names = []
    for agency in json.loads(stored or "[]"):
        name = (agency.get("name") or agency.get("raw_name")) if isinstance(agency, dict) else None
        if isinstance(name, str) and name.strip():
            names.append(name.strip())
    return tuple(names)


def row_dict(row: sqlite3.Row) -> dict[str, Any]:
    """A publication row as a dict, JSON columns decoded (`raw` by `raw_record`)."""
    return {key: _decoded(key, row[key]) for key in row.keys()}  # noqa: SIM118 - not a mapping


def shown_row(row: sqlite3.Row) -> tuple[dict[str, Any], list[str]]:
    """`row_dict` for showing: a JSON column or `raw` that cannot be decoded, or that does not
    hold what regwatch writes there (a damaged or hand-edited cell), reads as empty and is
    named in the list returned beside, so one bad cell hides nothing else of the row."""
    shown, damaged = {}, []
    for key in row.keys():  # noqa: SIM118 - not a mapping
        value = stored_json(key, row[key]) if key == "raw" or key in SHAPES else row[key]
        if value is None and row[key] is not None:
            value = {} if key == "raw" else []
            damaged.append(key)
        shown[key] = value
    return shown, damaged


def stored_json(key: str, stored: Any) -> Any:
    """The JSON column `key` (or `raw`) decoded, or None if it cannot be read or does not hold
    the shape written there (`SHAPES`)."""
    if key == "raw":
        try:
            value = raw_record(stored)
        except (TypeError, ValueError, zstd.ZstdError):  # TypeError: a number, hand-edited
            return None
        return value if isinstance(value, dict) else None
    value = loaded(stored, list)
    return value if value is not None and all(isinstance(v, SHAPES[key]) for v in value) else None


def loaded(stored: Any, kind: type) -> Any:
    """JSON text `stored` decoded when it holds a `kind`, else None (a damaged or hand-edited
    cell)."""
    if stored is None:  # as `json.loads` would refuse it, without raising (an untagged row)
        return None
    try:
        value = json.loads(stored)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, kind) else None


def tag_result(stored: Any) -> dict[str, Any] | None:
    """A stored tag result decoded, or None when it cannot be read or does not hold what the
    tagger writes (a damaged or hand-edited cell): `tags` a list of strings, `scores` numbers
    (or null) by tag, `evidence` lists of objects by tag, `entities` lists of objects with a text
    `value` by kind, `dates` ISO dates by slot (each may be absent)."""
    result = loaded(stored, dict)
    if result is None:
        return None
    tags = result.get("tags", [])
    scores = result.get("scores", {})
    evidence, entities, dates = (result.get(key, {}) for key in ("evidence", "entities", "dates"))
    shaped = (
        isinstance(tags, list)
        and all(isinstance(tag, str) for tag in tags)
        and isinstance(scores, dict)
        and all(_number(score) for score in scores.values())
        and isinstance(evidence, dict)
        and all(_objects(hits) for hits in evidence.values())
        and isinstance(entities, dict)
        and all(_objects(found, "value") for found in entities.values())
        and isinstance(dates, dict)
        and all(isinstance(day, str) for day in dates.values())
    )
    return result if shaped else None


def _number(value: Any) -> bool:
    return value is None or isinstance(value, int | float) and not isinstance(value, bool)


def _objects(value: Any, text_key: str | None = None) -> bool:
    """`value` is a list of objects (each with a string `text_key`, if given)."""
    return isinstance(value, list) and all(
        isinstance(item, dict) and (text_key is None or isinstance(item.get(text_key), str))
        for item in value
    )


def json_cell(column: str) -> str:
    """SQL for the JSON column `column`, NULL where it is not valid JSON (a damaged or hand-edited
    cell): `json_each`, `json_extract` and `json_array_length` over it then read nothing in that
    row instead of failing the whole statement with "malformed JSON"."""
    return f"IIF(json_valid({column}), {column}, NULL)"


def lists_readable(alias: str) -> str:
    """SQL true when every JSON list column of the publication row `alias` holds what regwatch
    writes there (NULL is none), false when one is damaged or hand-edited, even into valid JSON
    of another shape: what `stored_json` reads as empty."""
    return " AND ".join(_list_readable(f"{alias}.{n}", SHAPES[n]) for n in sorted(JSON_FIELDS))


def _list_readable(column: str, kind: type) -> str:
    """SQL true when `column` is a JSON array of `kind` (objects or strings), as `SHAPES` has
    it (its members are read only once it is an array)."""
    cell = f"COALESCE({column}, '[]')"
    member = "object" if kind is dict else "text"
    return (
        f"({cell} = '[]' OR CASE ({_json_type(cell)}) WHEN 'array' THEN NOT EXISTS "
        f"(SELECT 1 FROM json_each({cell}) WHERE type != '{member}') END IS 1)"
    )


def _json_type(cell: str) -> str:
    """SQL for the JSON type of `cell`, NULL when it is not JSON (SQLite's JSON functions other
    than `json_valid` raise on broken JSON)."""
    return f"CASE WHEN json_valid({cell}) THEN json_type({cell}) END"


def raw_readable(alias: str) -> str:
    """SQL true when the publication row `alias`'s `raw` may be read as `raw_record` reads it:
    none, a zstd frame (its first bytes only: SQL cannot unpack it, so a frame damaged inside is
    left to `show`), or the JSON text of an object (rows written before migration 12)."""
    raw = f"{alias}.raw"
    return (
        f"(CASE typeof({raw}) WHEN 'null' THEN 1 WHEN 'blob' THEN length({raw}) = 0 "
        f"OR substr({raw}, 1, {len(FRAME_MAGIC)}) = X'{FRAME_MAGIC.hex()}' WHEN 'text' THEN "
        f"{raw} = '' OR ({_json_type(raw)}) = 'object' ELSE 0 END IS 1)"
    )


def member_field(alias: str, path: str) -> str:
    """SQL for `path` in the `json_each` row `alias` when it holds an object, else NULL (a
    string or number in a hand-edited list is not JSON `json_extract` could read)."""
    return f"CASE {alias}.type WHEN 'object' THEN json_extract({alias}.value, '{path}') END"


def publication(row: sqlite3.Row) -> Publication:
    """A stored row back as the `Publication` that wrote it."""
    stored = row_dict(row)
    return Publication(**{name: stored[name] for name in PUBLICATION_FIELDS})


def _decoded(key: str, value: Any) -> Any:
    if key == "raw":
        return raw_record(value)
    return json.loads(value) if key in JSON_FIELDS and value is not None else value


def fr_document(row: sqlite3.Row) -> dict[str, Any]:
    """The Federal Register API view of a stored publication (what `nlp/` reads); the stored
    full text is the document's plain-text `body`. A JSON column that cannot be read (damaged or
    hand-edited: `stored_json`) reads as empty, so the document is tagged on the rest."""
    document = {"document_number": row["source_id"]}
    document.update(
        {
            name: (stored_json(name, row[name]) or []) if name in SHAPES else row[name]
            for name in CONTENT_FIELDS
            if name not in NOT_READ
        }
    )
    document["body"] = row["body_text"]
    return document
