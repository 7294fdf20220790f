"""Facet counts of a search: how the whole result set splits by tag, agency, type, year, source.

Enters: a searcher and the filtered query; at indexing time, a document's facet values.
Leaves: `combinations(values)`, the index's combination fields of one document, and
`facet_counts`: `Facets` — `{facet: [(value, documents), …]}` with the most frequent values first
(ties by value), at most `MAX_VALUES` per facet, and the number of matching documents. Every
matching document counts, not only the page shown. Years are strings ("2024").

Each document carries its combination of values in a few single-valued fast fields
(`COMBINATIONS`: its tags, its agencies, its type with source and year), and one tantivy terms
aggregation over them counts every combination; the counts per value are summed from those. At
1,000,000 documents that is about four times cheaper than one aggregation per multi-valued field.
Should a field hold more combinations than one aggregation returns (`sum_other_doc_count`), its
facets are counted again field by field, so counts stay exact (for up to `MAX_COMBINATIONS`
distinct values of a facet).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import tantivy

FACETS = ("tags", "agency", "type", "year", "source")
# Combination field → the facets whose values it holds, in this order (tags and agencies: all of
# a document's values; kind: its type, source and year).
COMBINATIONS = {"tagset": ("tags",), "agencyset": ("agency",), "kind": ("type", "source", "year")}
TOTAL_FROM = "kind"  # every document holds one kind (a source and a year): its counts add up
MAX_VALUES = 200  # values listed per facet
MAX_COMBINATIONS = 10_000  # buckets one aggregation returns per field (combinations or values)
PART, NAME_END = "\x1f", "\x1e"  # between a combination's parts; between a facet and its value
COMBINED = 8192  # combination values remembered (sets of agencies or tags; type, source, year)
AGGREGATION = {name: {"terms": {"field": name, "size": MAX_COMBINATIONS}} for name in COMBINATIONS}


@dataclass(frozen=True, slots=True)
class Facets:
    """Counts per facet value over every matching document, and how many documents match."""

    counts: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    total: int = 0


def combinations(values: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """The combination fields of one document from its values per facet (`{"tags": [...],
    "agency": [...], "type": [...], "source": [...], "year": [...]}`); a field whose facets hold
    no value is left out. A value holding a separator character gets U+FFFD in its place."""
    found = {}
    for name, facets in COMBINATIONS.items():
        combined = _combined(facets, tuple(tuple(values.get(facet, ())) for facet in facets))
        if combined:
            found[name] = combined
    return found


@functools.lru_cache(maxsize=COMBINED)
def _combined(facets: tuple[str, ...], values: tuple[tuple[str, ...], ...]) -> str:
    """One combination field's value from the values of its `facets` (each set of agencies,
    tags, or type with source and year is worked out once)."""
    return PART.join(
        f"{facet}{NAME_END}{_clean(value)}"
        for facet, listed in zip(facets, values, strict=True)
        for value in sorted(dict.fromkeys(filter(None, listed)))
    )


def facet_counts(searcher: tantivy.Searcher, query: tantivy.Query) -> Facets:
    """Counts per value of every facet, and the total, over all documents matching `query`."""
    found = searcher.aggregate(query, AGGREGATION)
    counts: dict[str, Counter[str]] = {name: Counter() for name in FACETS}
    recount = []
    for name, facets in COMBINATIONS.items():
        result = found.get(name) or {}
        if result.get("sum_other_doc_count"):
            recount += facets
            continue
        for bucket in result.get("buckets") or ():
            for part in bucket["key"].split(PART):
                facet, _, value = part.partition(NAME_END)
                counts[facet][value] += int(bucket["doc_count"])
    if recount:
        counts.update(_per_field(searcher, query, recount))
    kinds = found.get(TOTAL_FROM) or {}
    total = sum(int(b["doc_count"]) for b in kinds.get("buckets") or ())
    return Facets(
        {name: _top(counts[name]) for name in FACETS},
        total + int(kinds.get("sum_other_doc_count") or 0),
    )


def _per_field(
    searcher: tantivy.Searcher, query: tantivy.Query, facets: list[str]
) -> dict[str, Counter[str]]:
    """Counts of `facets` from their own fast fields (one terms aggregation each)."""
    spec = {name: {"terms": {"field": name, "size": MAX_COMBINATIONS}} for name in facets}
    found = searcher.aggregate(query, spec)
    return {name: Counter(_buckets(found.get(name))) for name in facets}


def _buckets(result: Any) -> dict[str, int]:
    buckets = (result or {}).get("buckets") or []
    return {_key(b["key"]): int(b["doc_count"]) for b in buckets if b.get("doc_count")}


def _key(key: Any) -> str:
    """A bucket key as the facet shows it (a year's numeric key as "2024")."""
    return str(int(key)) if isinstance(key, float) and key.is_integer() else str(key)


def _top(counts: Counter[str]) -> list[tuple[str, int]]:
    ranked = sorted(((v, n) for v, n in counts.items() if n), key=lambda pair: (-pair[1], pair[0]))
    return ranked[:MAX_VALUES]


def _clean(value: str) -> str:
    return value.replace(PART, "\ufffd").replace(NAME_END, "\ufffd")
