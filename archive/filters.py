"""Search filters: what a user narrows a search to, checked, and as tantivy queries.

Enters: `Filters` built from command-line options, web query strings or a saved search: tags,
sub-tags, agencies (name, slug, or an acronym or common name: `archive.agencies`), document
types, sources, ECCNs (`3A090` also finds `3A090.a`), CFR citations (`15:744`, `15:744.23`, or
`15 CFR 744.23`), countries, a publication date range and `open_on` (a day on or before which the
comment period must still be open).
Leaves: `clauses(filters, schema)`, constant-score queries (a filter never changes a score: values
of one filter are ORed, filters ANDed), or a `QueryError` naming the bad value in one line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta

import tantivy
from tantivy import Occur, Query

from archive.agencies import agency_keys, keyword
from archive.errors import QueryError
from archive.indexdoc import cfr_citation, eccn_forms
from archive.query import check_dates
from archive.rows import EARLIEST, LATEST

# A day just outside the publication dates the archive stores, either side (and inside the dates
# the engine can compare): a `since` or `until` beyond them is no bound, or excludes everything.
BEFORE, AFTER = (
    datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(days=step)
    for day, step in ((EARLIEST, -1), (LATEST, 1))
)
ECCN = re.compile(r"[0-9][A-EY][0-9]{3}(?:\.[A-Za-z0-9]{1,3})*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Filters:
    """What a search is narrowed to; every field empty or None means no filter."""

    tags: tuple[str, ...] = ()
    sub_tags: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    eccns: tuple[str, ...] = ()
    cfrs: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    open_on: str | None = None  # ISO day: only documents whose comments close on or after it

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))


def clauses(filters: Filters, schema: tantivy.Schema) -> list[Query]:
    """The filters as constant-score queries to AND with the text query."""
    terms = {
        "tags": filters.tags,
        "source": filters.sources,
        "type_key": [keyword(t) for t in filters.types],
        "agency_key": [key for agency in filters.agencies for key in agency_keys(agency)],
        "eccn": [eccn(value) for value in filters.eccns],
        "cfr": [cfr(value) for value in filters.cfrs],
        "country": [keyword(c) for c in filters.countries],
    }
    found = [_any_of(schema, field, values) for field, values in terms.items() if values]
    if filters.sub_tags:
        found.append(_any_of(schema, "tags", filters.sub_tags))
    if filters.since or filters.until:
        lo, hi = (_stored_day(day) for day in check_dates(filters.since, filters.until))
        found.append(Query.range_query(schema, "date", tantivy.FieldType.Date, lo, hi))
    if filters.open_on:
        day, _ = check_dates(filters.open_on, None)
        found.append(Query.range_query(schema, "comments_close", tantivy.FieldType.Date, day))
    return [Query.const_score_query(query, 0.0) for query in found]


def restrict(query: Query, filters: Filters, schema: tantivy.Schema) -> Query:
    """`query` with `filters` ANDed (unchanged scores)."""
    extra = clauses(filters, schema)
    if not extra:
        return query
    return Query.boolean_query([(Occur.Must, query)] + [(Occur.Must, f) for f in extra])


def _stored_day(day: datetime | None) -> datetime | None:
    """`day` moved into `BEFORE`..`AFTER` (`--since 0001-01-01` is every stored date; the engine
    refuses dates outside 1677-2262)."""
    return None if day is None else min(max(day, BEFORE), AFTER)


def _any_of(schema: tantivy.Schema, field: str, values: Sequence[str]) -> Query:
    return Query.term_set_query(schema, field, list(dict.fromkeys(values)))


def eccn(value: str) -> str:
    """The indexed form of an ECCN (`3a090.A` → `3A090.a`); `QueryError` if it is not one."""
    text = value.strip()
    if not ECCN.fullmatch(text):
        raise QueryError(f"ECCN must look like 3A090 or 3A090.a, got {value!r}")
    return eccn_forms(text)[-1]


def cfr(value: str) -> str:
    """The indexed form of a CFR citation (`15 CFR 744.23` → `15:744.23`); `QueryError` if bad."""
    forms = cfr_citation(value)
    if not forms:
        raise QueryError(f"CFR must be TITLE:PART or TITLE:PART.SECTION, as 15:744, got {value!r}")
    return forms[-1]
