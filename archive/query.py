"""What a user types → a tantivy query.

Enters: free text such as `entity list "foreign direct product" regulat* -correction`.
Leaves: a `tantivy.Query` over the index's `title`, `abstract` and `body` fields (weighted in that
order) — words ANDed (from three words on, one may be missing), each word also matching its
English inflections found in the index (`controls` finds `control`, ranked below the form typed; a
quoted word is exact), quoted phrases (pairs of common words looked up first), `word*`
prefixes of 4+ letters expanded to the most frequent matching terms, `-term` exclusions beside at
least one positive term; at most `MAX_CLAUSES` of those, `MAX_WORDS` words in all and
`MAX_CHARACTERS` characters — or a `QueryError` saying in one line what to change; `check_dates`
and `check_limit` for the values around a query. Engine syntax (`field:`, `AND`, brackets) is never
interpreted: such characters split words exactly as the index's tokenizer does, so identifiers
like `15 CFR 744.23` or `0694-AJ90` become phrases.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from os.path import commonprefix

import tantivy
from tantivy import Occur, Query

from archive.errors import QueryError
from archive.indexdoc import ANALYZER, common_pairs
from archive.records import iso_date
from nlp.fold import plain

# Ranked fields and their weights: a title word counts most, then the abstract, then the rest.
FIELDS = (("title", 3.0), ("abstract", 1.5), ("body", 1.0))
MIN_PREFIX = 4
PREFIX_EXPANSIONS = 50
MAX_CLAUSES = 32
# Words in all, phrases included: a phrase's cost grows with its words (a 16,000-word one took
# 1.5 s on 14,000 documents, and the time grows with the documents holding its pairs).
MAX_WORDS = 200
MAX_CHARACTERS = 20 * MAX_WORDS  # checked first: a longer text is refused before it is read
MAX_LIMIT = 10_000
RELAX_FROM = 3  # with this many plain words or more, a document may miss one of them
# Inflections of a typed word: index terms sharing its English (Snowball) stem, as `en_stem` would
# unite them; searched beside the typed form, scaled so that a variant scores about VARIANT_BOOST
# of what the typed word would (rare derived forms like "informal" must not outrank "information").
STEMMER = (
    tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw())
    .filter(tantivy.Filter.stemmer("english"))
    .build()
)
MIN_STEM = 3
VARIANT_CANDIDATES = 100
VARIANT_BOOST = 0.3
PIECE_RE = re.compile(r'(?P<neg>-?)(?:"(?P<phrase>[^"]*)"|(?P<word>[^\s"]+))')


@dataclass(frozen=True, slots=True)
class Clause:
    """One part of a query: a word (with inflections), exact tokens (term or phrase), a prefix."""

    tokens: tuple[str, ...]
    negative: bool = False
    kind: str = "exact"  # "word" | "exact" | "prefix"


def parse(text: str) -> list[Clause]:
    """Split user text into clauses; raise `QueryError` if it cannot be searched."""
    if not text or not text.strip():
        raise QueryError("empty query: type one or more words to search for")
    if len(text) > MAX_CHARACTERS:
        raise QueryError(f"query too long: at most {MAX_CHARACTERS:,} characters")
    text = plain(text)  # read as the index reads documents
    if text.count('"') % 2:
        raise QueryError('unbalanced quote: close the phrase with a second "')
    clauses = [c for m in PIECE_RE.finditer(text) if (c := _clause(m)) is not None]
    if not clauses:
        raise QueryError(f"no searchable words in {text.strip()!r}")
    if all(c.negative for c in clauses):
        raise QueryError("a query cannot only exclude: put a word to search for beside -term")
    if len(clauses) > MAX_CLAUSES:
        raise QueryError(f"query too long: at most {MAX_CLAUSES} words and phrases")
    if sum(len(clause.tokens) for clause in clauses) > MAX_WORDS:
        raise QueryError(f"query too long: at most {MAX_WORDS} words in all, phrases included")
    return clauses


def _clause(match: re.Match[str]) -> Clause | None:
    negative = bool(match["neg"])
    if match["phrase"] is not None:
        tokens = tuple(ANALYZER.analyze(match["phrase"]))
        if not tokens:
            raise QueryError(f'empty phrase "{match["phrase"]}": put words between the quotes')
        return Clause(tokens, negative)
    word = match["word"]
    if "*" in word:
        return _prefix(word, negative)
    tokens = tuple(ANALYZER.analyze(word))
    if len(tokens) == 1 and tokens[0].isalpha() and len(tokens[0]) >= MIN_STEM:
        return Clause(tokens, negative, kind="word")
    return Clause(tokens, negative) if tokens else None


def _prefix(word: str, negative: bool) -> Clause:
    stem = word[:-1] if word.endswith("*") else ""
    tokens = ANALYZER.analyze(stem) if stem.isalnum() else []
    if len(tokens) != 1 or len(tokens[0]) < MIN_PREFIX:
        raise QueryError(
            f"prefix search needs {MIN_PREFIX}+ letters or digits then one final *, "
            f"as in regulat*: {word!r}"
        )
    return Clause((tokens[0],), negative, kind="prefix")


def build(clauses: Sequence[Clause], schema: tantivy.Schema, searcher: tantivy.Searcher) -> Query:
    """The tantivy query for parsed clauses.

    Phrases and identifiers must match, negatives must not; plain words and prefixes must all
    match too, except that with `RELAX_FROM` or more of them a document may miss one (as Solr's
    `mm=2<-1`): it then ranks by where the others stand, so a title holding four of five words
    can outrank an abstract mentioning all five.
    """
    musts, shoulds, nots = [], [], []
    for clause in clauses:
        query = _clause_query(clause, schema, searcher)
        if clause.negative:
            nots.append(query)
        elif clause.kind == "exact":
            musts.append(query)
        else:
            shoulds.append(query)
    if len(shoulds) < RELAX_FROM:
        musts, shoulds = musts + shoulds, []
    if len(musts) == 1 and not shoulds and not nots:
        return musts[0]
    parts = [(Occur.Must, q) for q in musts] + [(Occur.Should, q) for q in shoulds]
    parts += [(Occur.MustNot, q) for q in nots]
    return Query.boolean_query(parts, len(shoulds) - 1 if shoulds else None)


def _clause_query(clause: Clause, schema: tantivy.Schema, searcher: tantivy.Searcher) -> Query:
    """The clause in any ranked field, each field's score weighted (`FIELDS`).

    A word or prefix is one flat disjunction of weighted term queries, every field and form
    side by side: on such a query the engine skips whole blocks of postings that cannot reach
    the top (block-max WAND), twice as fast at 1,000,000 documents on a word most of them hold as
    nesting the forms per field.
    A phrase's pairs of common words are looked up in the field's `<field>_pairs`: a phrase of
    one such pair ("final rule", "of the") is answered by its pair alone (exactly); any longer
    phrase must match by positions too, among the documents holding its pairs in that field (those
    fewer postings are read first, sparing positions of very common words; pairs alone found ten
    times too many documents for "is to be").
    """
    if clause.kind != "exact":  # a word with its forms, a prefix with its expansions
        terms = [
            (Occur.Should, q) for f, w in FIELDS for q in _terms(clause, f, w, schema, searcher)
        ]
        return Query.boolean_query(terms) if terms else Query.empty_query()
    pairs = list(dict.fromkeys(common_pairs(list(clause.tokens))))
    alone = bool(pairs) and len(clause.tokens) == 2
    per_field = []
    for field, weight in FIELDS:
        musts = [] if alone else [_field_query(clause, field, schema, searcher)]
        musts += [_pair(schema, field, p, scored=alone) for p in pairs]
        query = (
            musts[0] if len(musts) == 1 else Query.boolean_query([(Occur.Must, q) for q in musts])
        )
        per_field.append((Occur.Should, Query.boost_query(query, weight)))
    return Query.boolean_query(per_field)


def _pair(schema: tantivy.Schema, field: str, pair: str, *, scored: bool) -> Query:
    query = Query.term_query(schema, f"{field}_pairs", pair)
    return query if scored else Query.const_score_query(query, 0.0)


def _field_query(
    clause: Clause, field: str, schema: tantivy.Schema, searcher: tantivy.Searcher
) -> Query:
    if len(clause.tokens) == 1:
        return Query.term_query(schema, field, clause.tokens[0])
    return Query.phrase_query(schema, field, list(clause.tokens))


def _terms(
    clause: Clause, field: str, weight: float, schema: tantivy.Schema, searcher: tantivy.Searcher
) -> list[Query]:
    """A word's or a prefix's term queries in `field`, weighted."""
    if clause.kind == "word":
        return _word_queries(clause.tokens[0], field, weight, schema, searcher)
    found = searcher.terms_with_prefix(field, clause.tokens[0], limit=PREFIX_EXPANSIONS)
    return [Query.boost_query(Query.term_query(schema, field, term), weight) for term, _ in found]


def _word_queries(
    word: str, field: str, weight: float, schema: tantivy.Schema, searcher: tantivy.Searcher
) -> list[Query]:
    """The word in `field` weighted `weight`, and each of its inflections there weighted so
    that it scores about `VARIANT_BOOST` of what the typed word would (the scores of the forms a
    document holds add up, as one stemmed term's frequencies would)."""
    exact = Query.boost_query(Query.term_query(schema, field, word), weight)
    variants = word_forms(word, searcher, field)
    if not variants:
        return [exact]
    total = searcher.num_docs
    typed = _idf(searcher.doc_freq(field, word), total)
    return [
        exact,
        *(
            Query.boost_query(
                Query.term_query(schema, field, form),
                weight * VARIANT_BOOST * (min(1.0, typed / _idf(count, total)) if typed else 1.0),
            )
            for form, count in variants
        ),
    ]


def _idf(doc_freq: int, total: int) -> float:
    """BM25's idf; 0 for a term no document has."""
    return math.log1p((total - doc_freq + 0.5) / (doc_freq + 0.5)) if doc_freq else 0.0


def word_forms(word: str, searcher: tantivy.Searcher, field: str) -> list[tuple[str, int]]:
    """Terms of `field` other than `word` sharing its English stem (`entity` for `entities`)."""
    stem = _stem(word)
    shared = commonprefix([word, stem])
    prefix = shared[:-1] if len(shared) > MIN_STEM else shared  # entiti → entit: finds entity
    if len(prefix) < MIN_STEM:
        return []
    terms = searcher.terms_with_prefix(field, prefix, limit=VARIANT_CANDIDATES)
    return [(t, n) for t, n in terms if t != word and _stem(t) == stem]


@lru_cache(maxsize=200_000)
def _stem(term: str) -> str:
    """The English stem of an index term (cached: the same terms come back query after query)."""
    return STEMMER.analyze(term)[0]


def check_dates(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """Validated `since`/`until` as UTC midnights; raise `QueryError` on bad input."""
    lo, hi = _day("since", since), _day("until", until)
    if lo and hi and lo > hi:
        raise QueryError(f"since ({since}) is after until ({until})")
    return lo, hi


def _day(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    day = iso_date(value)
    if day is None:
        raise QueryError(f"{name} must be a date like 2024-01-31, got {value!r}")
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def check_limit(limit: int) -> int:
    """`limit` if it is a whole number in 1..MAX_LIMIT, else `QueryError`."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit must be a whole number from 1 to {MAX_LIMIT}, got {limit!r}")
    return limit
