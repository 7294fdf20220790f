"""What the search index holds of a publication: its schema and one document per stored row.

Enters: `publications` rows joined with their tags and tag result (`ROWS_SQL`), or a publication
encoded for storing (`rows.Encoded`: a bulk import builds its documents in worker processes before
the row exists). Leaves: the index schema (`SCHEMA`) and the index document of a row,
`document(row)`, or of an encoded publication, `encoded_document(item)` (without its id, which
`identified` adds): both JSON text (`IndexWriter.add_json`; cheap to send between processes) of
one `fields` of the values as stored, with three ranked text fields in their plain form (`nlp.fold`:
a soft hyphen or zero-width character inside a word no longer splits it, full-width forms and
ligatures read as ASCII) —
`title`, `abstract`, `body` (everything else people search: number, action, dates, agency names,
CFR parts as "15 CFR 744", RINs, dockets, topics, body text) — with `title_pairs`,
`abstract_pairs` and `body_pairs`, each field's adjacent pairs of common words (stop words and
the frequent words of `common_words.txt`: `of_the`, `this_rule`, `environmental_protection`)
that make phrases of very common words fast; and the filter and facet
fields: `tags` (tags and sub-tags), `source`, `type`, `agency` (display values, fast for facets)
with `type_key` / `agency_key` (their `keyword` forms, for filters), `year`, `date`,
`comments_close`, `eccn` (every ECCN the tagger found with its dotted ancestors: `3A090.a.1`
also files under `3A090.a` and `3A090`), `cfr` (`15:744` and `15:744.23`) and `country`;
and the facet combination fields of `archive.facets` (`tagset`, `agencyset`, `kind`).
"""

from __future__ import annotations

import functools
import json
import operator
import re
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import tantivy

from archive import rows
from archive.agencies import keyword
from archive.facets import COMBINATIONS, combinations
from archive.rows import agency_names, loaded
from nlp.fold import plain

TAG_SEPARATOR = "\x1f"
_ascii_json = json.JSONEncoder(separators=(",", ":")).encode
CACHED = 8192  # values remembered per repeated computation (agencies, dates, keywords)
TEXT_FIELDS = ("title", "abstract", "body")
# Stop words, whose adjacent pairs go into `<field>_pairs` (Lucene's English stop set, as
# CommonGrams uses), as do pairs with the frequent words of `common_words.txt`.
STOP_WORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "is",
        "it",
        "no",
        "not",
        "of",
        "on",
        "or",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "will",
        "with",
    }
)
# The columns of a `ROWS_SQL` row, in order (`encoded_document` makes one of a publication).
ROW_COLUMNS = (
    "id",
    "change_seq",
    "publication_date",
    "source",
    "type",
    "agencies",
    "comments_close_on",
    "cfr_references",
    "title",
    "abstract",
    "tags",
    "result",
    "source_id",
    "action",
    "dates",
    "regulation_id_numbers",
    "docket_ids",
    "topics",
    "body_text",
)
_DERIVED = {
    "tags": "(SELECT group_concat(tag, char(31)) FROM publication_tags t "
    "WHERE t.publication_id = p.id)",
    "result": "(SELECT result FROM tag_results r WHERE r.publication_id = p.id)",
}
_SELECTED = ", ".join(_DERIVED.get(name, f"p.{name}") for name in ROW_COLUMNS)
ROWS_SQL = f"SELECT {_SELECTED} FROM publications p "
_row = operator.itemgetter(*ROW_COLUMNS)  # the `ROWS_SQL` row of a dict of its columns
_UNSTORED = {"id": 0, "change_seq": 0, "tags": None, "result": None}  # a row not stored yet
LONGEST = 40  # characters: the analyzer drops longer words (tantivy's default)
ANALYZER = (
    tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
    .filter(tantivy.Filter.remove_long(LONGEST))
    .filter(tantivy.Filter.lowercase())
    .build()
)
CFR = re.compile(
    r"(?P<title>[0-9]{1,2})\s*(?::|\s+CFR\s+(?:parts?\s+|§+\s*)?)(?P<part>[0-9]{1,4})"
    r"(?:\.(?P<section>[0-9]+[a-z]?))?",
    re.IGNORECASE,
)


def load_words(path: Path) -> frozenset[str]:
    """The words of a list file (one per line, `#` comments), each one analysed token; raises
    `ValueError` naming the first line that is not."""
    words = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        word = line.strip()
        if word and not word.startswith("#"):
            if ANALYZER.analyze(word) != [word]:
                raise ValueError(f"{path.name} line {number}: {word!r} is not one lowercase word")
            words.add(word)
    return frozenset(words)


COMMON_WORDS = STOP_WORDS | load_words(Path(__file__).with_name("common_words.txt"))
_COMMON_BYTES = frozenset(word.encode() for word in COMMON_WORDS)
# ASCII lowercased: a letter or digit stays, any other byte splits words (`pairs_text`).
_ASCII_SPLIT = bytes(b if chr(b).isascii() and chr(b).isalnum() else 32 for b in range(256))


def _build_schema() -> tantivy.Schema:
    """The index schema (see the module docstring)."""
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", stored=False, indexed=True, fast=True)
    for name in TEXT_FIELDS:
        builder.add_text_field(name, tokenizer_name="default", index_option="position")
    for name in TEXT_FIELDS:
        builder.add_text_field(f"{name}_pairs", tokenizer_name="whitespace", index_option="freq")
    for name in ("tags", "source", "type", "agency"):
        builder.add_text_field(name, tokenizer_name="raw", index_option="basic", fast=True)
    for name in ("type_key", "agency_key", "eccn", "cfr", "country"):
        builder.add_text_field(name, tokenizer_name="raw", index_option="basic")
    builder.add_integer_field("year", indexed=False, fast=True)
    for name in COMBINATIONS:
        builder.add_text_field(name, tokenizer_name="raw", index_option="basic", fast=True)
    builder.add_date_field("date", indexed=True, fast=True)
    builder.add_date_field("comments_close", indexed=True, fast=True)
    return builder.build()


SCHEMA = _build_schema()


def pairs_text(text: str) -> str:
    """The `<field>_pairs` text of a field's `text`: `common_pairs` of its analysed tokens,
    space-separated. ASCII text with no word of `LONGEST` characters (which the analyzer drops) is
    split without it, as it splits it (lowercased, on every character but a letter or digit), in
    two thirds of the time."""
    if text.isascii():
        words = text.encode().lower().translate(_ASCII_SPLIT).split()
        if not words or max(map(len, words)) < LONGEST:
            common = _COMMON_BYTES
            adjacent = zip(words, words[1:], strict=False)
            return b" ".join(
                [a + b"_" + b for a, b in adjacent if a in common and b in common]
            ).decode()
    return " ".join(common_pairs(ANALYZER.analyze(text)))


def common_pairs(tokens: list[str]) -> list[str]:
    """Adjacent pairs of `COMMON_WORDS` in analysed `tokens`, as `<field>_pairs` hold them
    (`of_the`: analysed tokens never hold `_`, so one space-separated text adds them all)."""
    common = COMMON_WORDS
    adjacent = zip(tokens, tokens[1:], strict=False)
    return [f"{a}_{b}" for a, b in adjacent if a in common and b in common]


def eccn_forms(value: str) -> list[str]:
    """`3A090.a.1` → `3A090`, `3A090.a`, `3A090.a.1` (uppercase ECCN, lowercase paragraphs)."""
    head, *paragraphs = value.strip().split(".")
    forms = [head.upper()]
    for paragraph in paragraphs:
        forms.append(f"{forms[-1]}.{paragraph.lower()}")
    return forms


def cfr_forms(title: Any, part: Any, section: Any = None) -> list[str]:
    """`15:744` (and `15:744.23` with a section) for a CFR reference; [] without a title."""
    if title in (None, "") or part in (None, ""):
        return []
    base = f"{str(title).strip()}:{str(part).strip()}"
    return [base, f"{base}.{str(section).strip()}"] if section not in (None, "") else [base]


def cfr_citation(text: str) -> list[str]:
    """The `cfr` forms of a citation such as `15 CFR 744.23`, `15 CFR part 744` or `15:744`."""
    match = CFR.fullmatch(text.strip())
    if not match:
        return []
    return cfr_forms(int(match["title"]), int(match["part"]), match["section"])


def document(row: Sequence[Any]) -> str:
    """The index document of one `ROWS_SQL` row, as JSON (what `IndexWriter.add_json` takes)."""
    return identified(_json(fields(row)), row[0])


def encoded_document(item: rows.Encoded) -> str:
    """The index document of the row `item` (`rows.encoded`) will be stored as, untagged, without
    its id (what a bulk import's worker processes build before the row exists; `identified`
    adds the id): the same as `document` of that row."""
    stored = dict(zip(rows.WRITTEN_FIELDS, item.values, strict=True))
    stored |= {"source": item.source, "source_id": item.source_id, **_UNSTORED}
    return _json(fields(_row(stored)))


def _json(doc: dict[str, list[Any]]) -> str:
    """`doc` as compact JSON text (orjson: five times faster; the standard encoder escapes a
    lone surrogate, which orjson refuses)."""
    try:
        return orjson.dumps(doc).decode()
    except TypeError:
        return _ascii_json(doc)


def identified(document: str, row_id: int) -> str:
    """A JSON index document without id (`encoded_document`) with the row id `row_id`."""
    return f'{{"id":{int(row_id)},{document[1:]}'


def fields(row: Sequence[Any]) -> dict[str, list[Any]]:
    """The values of each field but `id` of one `ROWS_SQL` row's index document (never empty:
    `source` is always there)."""
    _, _, day, source, kind, agencies, closes, cfr_refs, title, abstract = row[:10]
    tags, result, number, action, dates, rins, dockets, topics, body_text = row[10:]
    listed = (_joined(rins), _joined(dockets), _joined(topics))
    names, keys = _agencies(agencies)
    parts = (number, action, dates, " ; ".join(names), _cfr_text(cfr_refs), *listed, body_text)
    body = "\n".join(filter(None, parts))
    doc: dict[str, list[Any]] = {"source": [source]}
    for name, text in (("title", title), ("abstract", abstract), ("body", body)):
        if text:
            text = plain(text)
            doc[name] = [text]
            pairs = pairs_text(text)
            if pairs:
                doc[f"{name}_pairs"] = [pairs]
    tag_list = tags.split(TAG_SEPARATOR) if tags else []
    _add_all(doc, "tags", tag_list)
    if kind:
        doc["type"], doc["type_key"] = [kind], [keyword(kind)]
    _add_all(doc, "agency", names)
    _add_all(doc, "agency_key", keys)
    entities = _entities(result)
    _add_all(doc, "eccn", (f for m in entities.get("eccns", ()) for f in eccn_forms(m["value"])))
    cfr = [f for m in entities.get("cfr", ()) for f in cfr_citation(m["value"])]
    _add_all(doc, "cfr", [*_cfr_parts(cfr_refs), *cfr])
    _add_all(doc, "country", (keyword(m["value"]) for m in entities.get("countries", ())))
    published = _midnight(day)  # None: a cell hand-edited or damaged into no date (undated)
    year = day[:4] if published else ""
    if published:
        doc["year"], doc["date"] = [int(year)], [published]
    facets = {"tags": tag_list, "agency": names, "type": [kind or ""], "source": [source]}
    for name, value in combinations(facets | {"year": [year]}).items():
        doc[name] = [value]
    if closing := _midnight(closes):
        doc["comments_close"] = [closing]
    return doc


def _add_all(doc: dict[str, list[Any]], field: str, values: Iterable[str]) -> None:
    unique = list(dict.fromkeys(filter(None, values)))
    if unique:
        doc[field] = unique


@functools.lru_cache(maxsize=CACHED)
def _agencies(stored: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Display names (`rows.agency_names`) and `keyword` forms of a stored `agencies` column
    (a few thousand distinct values across the whole Federal Register: each is worked out once)."""
    agencies = _stored_list(stored)
    names = agency_names(stored) if agencies else ()
    slugs = [a.get("slug") for a in agencies if isinstance(a, dict)]
    keys = [keyword(value) for value in (*names, *slugs) if isinstance(value, str)]
    return names, tuple(keys)


@functools.lru_cache(maxsize=CACHED)
def _cfr_text(stored: str | None) -> str:
    """A stored `cfr_references` column as the index's body says it: `15 CFR 744 ; 15 CFR 746`
    (a reference without title or part is left out)."""
    refs = [r for r in _stored_list(stored) if isinstance(r, dict)]
    return " ; ".join(
        f"{r['title']} CFR {r['part']}" for r in refs if None not in (r.get("title"), r.get("part"))
    )


@functools.lru_cache(maxsize=CACHED)
def _joined(stored: str | None) -> str:
    """A stored JSON list of text (RINs, dockets, topics) as `a ; b` (topics and RINs repeat
    across documents: each list is worked out once)."""
    return " ; ".join(map(str, _stored_list(stored)))


@functools.lru_cache(maxsize=CACHED)
def _cfr_parts(stored: str | None) -> tuple[str, ...]:
    """The `cfr` forms of a stored `cfr_references` column."""
    refs = [r for r in _stored_list(stored) if isinstance(r, dict)]
    return tuple(f for r in refs for f in cfr_forms(r.get("title"), r.get("part")))


def _stored_list(stored: str | None) -> list[Any]:
    """A stored JSON list column; [] for none, or for a cell that cannot be read (damaged or
    hand-edited: the document is indexed without it, and `regwatch show` names it)."""
    return loaded(stored, list) or []


def _entities(result: str | None) -> dict[str, list[dict[str, Any]]]:
    """The tag result's entities (each mention with a string `value`; a tag result that cannot
    be read has none)."""
    return (rows.tag_result(result) or {}).get("entities", {})


@functools.lru_cache(maxsize=CACHED)
def _midnight(stored: Any) -> str | None:
    """A stored `YYYY-MM-DD` date as UTC midnight in RFC 3339 (the index's date values in JSON);
    None for none, or for one that is no date (a damaged or hand-edited cell: it must not stop
    every index write and rebuild)."""
    try:
        return f"{date.fromisoformat(stored).isoformat()}T00:00:00Z" if stored else None
    except (TypeError, ValueError):
        return None
