"""Facet counts of a search: how the whole result set splits by tag, agency, type, year, source.

Enters: a searcher and the filtered query. Leaves: `{facet: [(value, documents), …]}` with the
most frequent values first (ties by value), computed by one tantivy terms aggregation over fast
fields — every matching document counts, not only the page shown. Years are strings ("2024").
"""

from __future__ import annotations

from typing import Any

import tantivy

FACETS = {"tags": "tags", "agency": "agency", "type": "type", "year": "year", "source": "source"}
MAX_VALUES = 200  # distinct values counted per facet


def facet_counts(
    searcher: tantivy.Searcher, query: tantivy.Query
) -> dict[str, list[tuple[str, int]]]:
    """Counts per value of every facet over all documents matching `query`."""
    spec = {name: {"terms": {"field": field, "size": MAX_VALUES}} for name, field in FACETS.items()}
    found = searcher.aggregate(query, spec)
    return {name: _buckets(found.get(name)) for name in FACETS}


def _buckets(result: Any) -> list[tuple[str, int]]:
    buckets = (result or {}).get("buckets") or []
    pairs = [(str(b["key"]), int(b["doc_count"])) for b in buckets if b.get("doc_count")]
    return sorted(pairs, key=lambda pair: (-pair[1], pair[0]))
