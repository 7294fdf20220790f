"""What the search index holds of a publication: its schema and one document per stored row.

Enters: `publications` rows joined with their tags and tag result (`ROWS_SQL`), or, in worker
processes (`documents` with a mapper), their ids and the database file to read them from. Leaves:
the index schema (`SCHEMA`), `fields(row)` (plain values, cheap to send between processes)
and `document(row)`, a `tantivy.Document` with three ranked text fields —
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
import itertools
import json
import operator
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tantivy

from archive.agencies import keyword
from archive.db import connect_readonly
from archive.facets import COMBINATIONS, combinations
from archive.rows import agency_names

TAG_SEPARATOR = "\x1f"
CACHED = 8192  # values remembered per repeated computation (agencies, dates, keywords)
MAP_CHUNK = 250  # rows per task of a `documents` mapper
# How `documents` may build fields in other processes: `map` itself, or a process pool's `map`.
Mapper = Callable[[Callable[[Any], Any], Iterable[Any]], Iterable[Any]]
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
BODY_COLUMNS = (
    "p.source_id",
    "p.action",
    "p.dates",
    "(SELECT group_concat(coalesce(value ->> 'name', value ->> 'raw_name'), ' ; ') "
    "FROM json_each(p.agencies))",
    "(SELECT group_concat((value ->> 'title') || ' CFR ' || (value ->> 'part'), ' ; ') "
    "FROM json_each(p.cfr_references))",
    "(SELECT group_concat(value, ' ; ') FROM json_each(p.regulation_id_numbers))",
    "(SELECT group_concat(value, ' ; ') FROM json_each(p.docket_ids))",
    "(SELECT group_concat(value, ' ; ') FROM json_each(p.topics))",
    "p.body_text",
)
ROWS_SQL = (
    "SELECT p.id, p.change_seq, p.publication_date, p.source, p.type, p.agencies, "
    "p.comments_close_on, p.cfr_references, p.title, p.abstract, "
    "(SELECT group_concat(tag, char(31)) FROM publication_tags t WHERE t.publication_id = p.id), "
    "(SELECT result FROM tag_results r WHERE r.publication_id = p.id), "
    f"{', '.join(BODY_COLUMNS)} FROM publications p "
)
KEYS_SQL = "SELECT p.id, p.change_seq FROM publications p "  # what `documents` needs with a mapper
_READERS: dict[str, sqlite3.Connection] = {}  # `read_fields`'s connection per database file
ANALYZER = (
    tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
    .filter(tantivy.Filter.remove_long(40))
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


def common_pairs(tokens: list[str]) -> list[str]:
    """Adjacent pairs of `COMMON_WORDS` in analysed `tokens`, as `<field>_pairs` hold them
    (`of_the`: analysed tokens never hold `_`, so one space-separated text adds them all)."""
    common = list(map(COMMON_WORDS.__contains__, tokens))  # loops in C: documents are long
    both = map(operator.and_, common, common[1:])
    return list(map("_".join, itertools.compress(zip(tokens, tokens[1:], strict=False), both)))


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


def document(row: Sequence[Any]) -> tantivy.Document:
    """The index document of one `ROWS_SQL` row."""
    return tantivy.Document.from_dict(fields(row), SCHEMA)


def documents(
    rows: Sequence[Sequence[Any]], mapper: Mapper | None = None, database: str | None = None
) -> Iterator[tantivy.Document | None]:
    """The index documents of `rows` (plain tuples), in order. With a `mapper` (such as a
    process pool's `map`), `rows` need only start with the id (`KEYS_SQL`): `read_fields` reads
    the rows from the SQLite file `database` and builds their fields, `MAP_CHUNK` rows a task,
    and a row deleted since yields None."""
    if mapper is None:
        return map(document, rows)
    ids = [row[0] for row in rows]
    tasks = [(database, ids[start : start + MAP_CHUNK]) for start in range(0, len(ids), MAP_CHUNK)]
    return (
        None if values is None else tantivy.Document.from_dict(values, SCHEMA)
        for chunk in mapper(read_fields, tasks)
        for values in chunk
    )


def read_fields(task: tuple[str, list[int]]) -> list[dict[str, list[Any]] | None]:
    """`fields` of the `ROWS_SQL` rows of ids `task[1]` in the SQLite file `task[0]` (None for
    an id not found), read through one read-only connection per file and process."""
    database, ids = task
    if database not in _READERS:
        _READERS[database] = connect_readonly(Path(database))
    reader = _READERS[database]
    sql = f"{ROWS_SQL} WHERE p.id IN ({', '.join('?' * len(ids))})"
    found = {row[0]: fields(row) for row in reader.execute(sql, ids)}
    return [found.get(row_id) for row_id in ids]


def fields(row: Sequence[Any]) -> dict[str, list[Any]]:
    """The values of each field of one `ROWS_SQL` row's index document (plain values: they cross
    process boundaries cheaply; `document` makes them a `tantivy.Document`)."""
    row_id, _, day, source, kind, agencies, closes, cfr_refs, title, abstract = row[:10]
    tags, result = row[10], row[11]
    body = "\n".join(text for text in row[12:] if text)
    doc: dict[str, list[Any]] = {"id": [row_id], "source": [source]}
    for name, text in (("title", title), ("abstract", abstract), ("body", body)):
        if text:
            doc[name] = [text]
            pairs = common_pairs(ANALYZER.analyze(text))
            if pairs:
                doc[f"{name}_pairs"] = [" ".join(pairs)]
    tag_list = tags.split(TAG_SEPARATOR) if tags else []
    _add_all(doc, "tags", tag_list)
    if kind:
        doc["type"], doc["type_key"] = [kind], [keyword(kind)]
    names, keys = _agencies(agencies)
    _add_all(doc, "agency", names)
    _add_all(doc, "agency_key", keys)
    entities = _entities(result)
    _add_all(doc, "eccn", (f for m in entities.get("eccns", ()) for f in eccn_forms(m["value"])))
    cfr = [f for m in entities.get("cfr", ()) for f in cfr_citation(m["value"])]
    _add_all(doc, "cfr", [*_cfr_parts(cfr_refs), *cfr])
    _add_all(doc, "country", (keyword(m["value"]) for m in entities.get("countries", ())))
    doc["year"] = [int(day[:4])]
    facets = {"tags": tag_list, "agency": names, "type": [kind or ""], "source": [source]}
    for name, value in combinations(facets | {"year": [day[:4]]}).items():
        doc[name] = [value]
    doc["date"] = [midnight(day)]
    if closes:
        doc["comments_close"] = [midnight(closes)]
    return doc


def _add_all(doc: dict[str, list[Any]], field: str, values: Iterable[str]) -> None:
    unique = list(dict.fromkeys(filter(None, values)))
    if unique:
        doc[field] = unique


@functools.lru_cache(maxsize=CACHED)
def _agencies(stored: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Display names (`rows.agency_names`) and `keyword` forms of a stored `agencies` column
    (a few thousand distinct values across the whole Federal Register: each is worked out once)."""
    names = agency_names(stored)
    slugs = [a.get("slug") for a in json.loads(stored or "[]") if isinstance(a, dict)]
    keys = [keyword(value) for value in (*names, *slugs) if isinstance(value, str)]
    return names, tuple(keys)


@functools.lru_cache(maxsize=CACHED)
def _cfr_parts(stored: str | None) -> tuple[str, ...]:
    """The `cfr` forms of a stored `cfr_references` column."""
    refs = [r for r in json.loads(stored or "[]") if isinstance(r, dict)]
    return tuple(f for r in refs for f in cfr_forms(r.get("title"), r.get("part")))


def _entities(result: str | None) -> dict[str, list[dict[str, Any]]]:
    """The tag result's entities whose mentions carry a string `value` (others are skipped)."""
    found = (json.loads(result) if result else {}).get("entities") or {}
    if not isinstance(found, dict):
        return {}
    return {
        kind: [m for m in mentions if isinstance(m, dict) and isinstance(m.get("value"), str)]
        for kind, mentions in found.items()
        if isinstance(mentions, list)
    }


@functools.lru_cache(maxsize=CACHED)
def midnight(iso_date: str) -> datetime:
    """A `YYYY-MM-DD` date as UTC midnight (the index's date values)."""
    return datetime.fromisoformat(iso_date).replace(tzinfo=UTC)
