"""Ranked, filtered search over the index, answered with rows from SQLite.

Enters: a `SearchRequest` — the user's query text (may be empty when filters are given), `Filters`,
a sort (`relevance` or `newest`), a page (`limit`, `offset`) and whether to count facets.
Leaves: a `SearchPage`: `SearchHit`s (stored title, date, agencies, tags, comment deadline and an
HTML snippet of the abstract, or the title, with matched words in `<b>…</b>`; every other
character escaped; `related`: the press releases and Federal Register documents linked to it,
from `archive.links`), the number of matching documents, if asked facet counts over all of
them, and notes (filter values nothing carries, hits with a damaged agencies cell). Malformed
input raises `QueryError`; an engine failure raises `ArchiveError` (tantivy's Rust panics never
escape).
"""

from __future__ import annotations

import html
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import tantivy
from rapidfuzz import fuzz, process, utils

from archive import query as q
from archive.agencies import agency_keys, keyword
from archive.errors import ArchiveError, QueryError
from archive.facets import facet_counts
from archive.filters import Filters, restrict
from archive.index import SearchIndex
from archive.indexdoc import TAG_SEPARATOR
from archive.links import RELATED, decode
from archive.rows import agency_names
from nlp.fold import plain
from regwatch.inert import shorten

SORTS = ("relevance", "newest")
SNIPPET_CHARS = 240
MAX_OFFSET = 100_000
# The rapidfuzz token_sort_ratio from which a stored agency or type is offered as "did you mean".
NEAR_SCORE = 80
_COUNTERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="regwatch-facets")
HIT_SQL = (
    "SELECT id, source, source_id, title, publication_date, url, type, abstract, "
    "comments_close_on, agencies, "
    "(SELECT group_concat(tag, char(31)) FROM (SELECT tag FROM publication_tags t "
    "WHERE t.publication_id = p.id ORDER BY tag)) AS tags, "
    f"{RELATED} AS related "
    "FROM publications p WHERE id IN ({marks})"
)


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """One search as a user asks it (CLI, web page, API, saved search)."""

    text: str = ""
    filters: Filters = field(default_factory=Filters)
    sort: str = "relevance"
    limit: int = 20
    offset: int = 0
    facets: bool = False


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
    comments_close_on: str | None
    score: float
    snippet: str
    related: list[dict[str, str]]


@dataclass(frozen=True, slots=True)
class SearchPage:
    """A page of hits, how many documents match in all, facet counts (if asked), and notes: for
    an empty result one per agency or type filter value no stored document carries, and one per
    hit whose stored agencies cannot be read (damaged; shown without them)."""

    hits: list[SearchHit]
    total: int
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def search(conn: sqlite3.Connection, index: SearchIndex, request: SearchRequest) -> SearchPage:
    """Run `request` against the index and fill the hits from SQLite."""
    q.check_limit(request.limit)
    _check_page(request)
    clauses = _parse(request)
    with _engine_errors():
        searcher = index.searcher()
        text_query, query = _queries(clauses, request, index, searcher)
        newest = request.sort == "newest" or text_query is None
        # Facets are counted on another thread while this one ranks (tantivy releases the GIL);
        # their total spares counting every match a second time.
        counting = _COUNTERS.submit(facet_counts, searcher, query) if request.facets else None
        try:
            found = searcher.search(
                query,
                request.limit,
                count=counting is None,
                offset=request.offset,
                **({"order_by_field": "date"} if newest else {}),
            )
            hits = found.hits
            ids = searcher.fast_field_values("id", [address for _, address in hits])
        finally:
            facets = counting.result() if counting else None
    rows = _rows(conn, ids)
    with _engine_errors():
        snippets = _snippets(searcher, text_query, index.schema, rows.values())
    scores = [0.0 if newest else float(score) for score, _ in hits]
    total = facets.total if facets else found.count or 0
    with _engine_errors():
        notes = [] if total else absent_values(searcher, request.filters)
    shown = [
        _hit(rows[pid], score, snippets, notes)
        for score, pid in zip(scores, ids, strict=True)
        if pid in rows
    ]
    return SearchPage(shown, total, facets.counts if facets else {}, notes)


def absent_values(searcher: tantivy.Searcher, filters: Filters) -> list[str]:
    """One note per agency or type filter value no indexed document carries, naming the closest
    stored one (a typo must not read as "nothing was published")."""
    wanted = [("agency", value, agency_keys(value)) for value in filters.agencies]
    wanted += [("type", value, (keyword(value),)) for value in filters.types]
    notes: list[str] = []
    stored: dict[str, list[str]] = {}
    for facet, value, keys in wanted:
        if any(searcher.doc_freq(f"{facet}_key", key) for key in keys):
            continue
        if facet not in stored:  # every stored agency or type, read once per search
            stored[facet] = [term for term, _ in searcher.terms_with_prefix(facet, "")]
        near = process.extractOne(
            value,
            stored[facet],
            scorer=fuzz.token_sort_ratio,
            processor=utils.default_process,
            score_cutoff=NEAR_SCORE,
        )
        hint = f"; did you mean {near[0]!r}?" if near else ""
        notes.append(f"no stored document has {facet} {shorten(value)!r}{hint}")
    return notes


def matching_ids(index: SearchIndex, request: SearchRequest, ids: Sequence[int]) -> set[int]:
    """Which of the publication `ids` the request's text and filters find (its page ignored)."""
    if not ids:
        return set()
    clauses = _parse(request)
    with _engine_errors():
        searcher = index.searcher()
        _, query = _queries(clauses, request, index, searcher)
        only = tantivy.Query.term_set_query(index.schema, "id", list(ids))
        query = tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, query), (tantivy.Occur.Must, only)]
        )
        hits = searcher.search(query, len(ids), count=False).hits
        return set(searcher.fast_field_values("id", [address for _, address in hits]))


@contextmanager
def _engine_errors() -> Iterator[None]:
    """Engine failures in the block leave as one `ArchiveError` line (tantivy's Rust panics are
    `BaseException`s and must never escape); `QueryError` and interrupts pass through."""
    try:
        yield
    except (QueryError, KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        raise ArchiveError(f"search failed in the index engine: {exc}".splitlines()[0]) from None


def _parse(request: SearchRequest) -> list[q.Clause] | None:
    """The text's clauses; None for empty text with filters (every filtered document)."""
    return q.parse(request.text) if request.text.strip() or not request.filters else None


def _queries(
    clauses: list[q.Clause] | None,
    request: SearchRequest,
    index: SearchIndex,
    searcher: tantivy.Searcher,
) -> tuple[tantivy.Query | None, tantivy.Query]:
    """The text query (None without text) and the same with the filters applied."""
    text_query = q.build(clauses, index.schema, searcher) if clauses else None
    query = restrict(text_query or tantivy.Query.all_query(), request.filters, index.schema)
    return text_query, query


def _check_page(request: SearchRequest) -> None:
    if request.sort not in SORTS:
        raise QueryError(f"sort must be relevance or newest, got {request.sort!r}")
    offset = request.offset
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise QueryError(f"offset must be a whole number from 0 to {MAX_OFFSET}, got {offset!r}")


def _snippets(
    searcher: tantivy.Searcher,
    query: tantivy.Query | None,
    schema: tantivy.Schema,
    rows: Iterable[sqlite3.Row],
) -> dict[str, tantivy.SnippetGenerator] | None:
    """A snippet generator for each field the page's snippets come from (the abstract, or the
    title of a document without one)."""
    if query is None:
        return None
    generators = {}
    for name in dict.fromkeys("abstract" if row["abstract"] else "title" for row in rows):
        generators[name] = tantivy.SnippetGenerator.create(searcher, query, schema, name)
        generators[name].set_max_num_chars(SNIPPET_CHARS)
    return generators


def _rows(conn: sqlite3.Connection, ids: list[int]) -> dict[int, sqlite3.Row]:
    if not ids:
        return {}
    sql = HIT_SQL.format(marks=", ".join("?" * len(ids)))
    return {row["id"]: row for row in conn.execute(sql, ids)}


def _hit(
    row: sqlite3.Row,
    score: float,
    snippets: dict[str, tantivy.SnippetGenerator] | None,
    notes: list[str],
) -> SearchHit:
    """The hit of `row`; stored agencies that cannot be read show none and add a note naming
    the document (one damaged cell must not fail the page)."""
    try:
        agencies = list(agency_names(row["agencies"]))
    except (TypeError, ValueError):
        agencies = []
        notes.append(
            f"{row['source']} {row['source_id']}: stored agencies cannot be read (damaged): "
            f"`regwatch show {row['source_id']}` says more"
        )
    return SearchHit(
        source=row["source"],
        source_id=row["source_id"],
        title=row["title"],
        publication_date=row["publication_date"],
        url=row["url"],
        type=row["type"],
        agencies=agencies,
        tags=row["tags"].split(TAG_SEPARATOR) if row["tags"] else [],
        comments_close_on=row["comments_close_on"],
        score=score,
        snippet=snippet(snippets, row["abstract"], row["title"]),
        related=decode(row["related"]),
    )


def snippet(
    snippets: dict[str, tantivy.SnippetGenerator] | None, abstract: str | None, title: str
) -> str:
    """HTML fragment of the abstract (else the title) around the matched words, or its escaped
    start if none match."""
    text = plain(abstract or title)  # as indexed: the matched words are found in it
    if snippets is not None:
        name = "abstract" if abstract else "title"
        fragment = snippets[name].snippet_from_doc(tantivy.Document(**{name: text})).to_html()
        if fragment:
            return fragment
    start = text[:SNIPPET_CHARS]
    return html.escape(start if len(start) == len(text) else start.rsplit(" ", 1)[0] + " …")
