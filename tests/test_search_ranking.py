"""Ranking on real documents: where a word stands counts, and long queries forgive a missing word.

Enters: the 14,276 real Federal Register documents the replay server answers from
(replay/recordings/federal_register/store.jsonl.gz), imported into a real archive. Leaves:
assertions on the order of hits for queries people type, and on phrases of common words.
"""

from __future__ import annotations

import gzip
import itertools
import json
import random

import pytest
import tantivy
from tantivy import Occur, Query

from archive import Archive, SearchRequest
from archive.indexdoc import ANALYZER, COMMON_WORDS, common_pairs, pairs_text
from regwatch.importer import import_records
from replay.server import RECORDINGS

STORE = RECORDINGS / "federal_register" / "store.jsonl.gz"
EO_14110 = "2023-24283"  # "Safe, Secure, and Trustworthy Development and Use of AI"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("ranking") / "home"
    with Archive.open(home) as writer, gzip.open(STORE, "rt", encoding="utf-8") as lines:
        assert not import_records(writer, lines).rejected
    with Archive.open(home, readonly=True) as reader:
        yield reader


def ids(hits) -> list[str]:
    return [hit.source_id for hit in hits]


def test_executive_order_by_its_title_words_ranks_in_the_top_three(archive: Archive) -> None:
    hits = archive.search("executive order safe secure trustworthy", limit=10)
    assert EO_14110 in ids(hits)[:3]
    # the order itself holds no "order": four of five words, all but one in its title
    assert "order" not in hits[ids(hits).index(EO_14110)].title.lower()


def test_title_outweighs_abstract(archive: Archive) -> None:
    hits = archive.search("trustworthy", limit=50)
    in_title = [h for h in hits if "trustworthy" in h.title.lower()]
    first_abstract_only = next(i for i, h in enumerate(hits) if h not in in_title)
    assert in_title and all(ids(hits).index(h.source_id) < first_abstract_only for h in in_title)


def test_abstract_outweighs_agency_names(archive: Archive) -> None:
    # "industry" stands in the body (agency names) of every BIS document: those without it in
    # the title or abstract rank below documents about an industry
    hits = archive.search("industry", limit=400)
    texts = [(h.title + " " + h.snippet).lower() for h in hits]
    mentioned = [i for i, text in enumerate(texts) if "industry" in text]
    body_only = [i for i, text in enumerate(texts) if "industry" not in text]
    assert mentioned and body_only and max(mentioned[:20]) < min(body_only)


def test_two_words_are_both_required(archive: Archive) -> None:
    both = archive.search("trustworthy consortium", limit=50)
    assert ids(both) == ["2023-24216"]


@pytest.mark.parametrize(
    "phrase",
    [
        *("of the", "in the", "to the", "this rule", "environmental protection", "final rule"),
        *("is to be", "that is the", "it is not", "such as the"),  # stop words only, 3 words
    ],
)
def test_phrase_of_common_words_finds_what_positions_find(archive: Archive, phrase: str) -> None:
    """A phrase of common words answers exactly as a positional phrase query over the text
    fields: two words by their pair alone, longer ones by positions among the documents holding
    their pairs (by pairs alone, `"is to be"` found ten times too many at 200,000 documents)."""
    found = archive.find(SearchRequest(f'"{phrase}"', limit=1)).total
    index = tantivy.Index.open(str(archive.home / "index"))
    schema, words = index.schema, phrase.split()
    positional = Query.boolean_query(
        [
            (Occur.Should, Query.phrase_query(schema, f, words))
            for f in ("title", "abstract", "body")
        ]
    )
    assert found == index.searcher().search(positional, 1).count > 3


def test_phrase_with_stop_words_needs_adjacent_words(archive: Archive) -> None:
    hits = archive.search('"development and use of artificial intelligence"', limit=20)
    assert EO_14110 in ids(hits)
    with gzip.open(STORE, "rt", encoding="utf-8") as lines:
        records = {r["document_number"]: r for r in map(json.loads, lines)}
    for hit in hits:
        record = records[hit.source_id]
        text = " ".join(f"{record['title']} {record.get('abstract') or ''}".lower().split())
        assert "development and use of artificial intelligence" in text


def test_pairs_of_ascii_text_split_without_the_analyzer_are_the_analyzers() -> None:
    """`pairs_text` splits ASCII text itself (faster); what it finds must be what the analyzer's
    tokens give, whatever the text: punctuation, digits, case, words the analyzer drops for
    length (39 characters kept, 40 dropped), and text that is not ASCII."""
    rng = random.Random(7)
    pieces = [
        *sorted(COMMON_WORDS)[:60],
        *("The", "OF", "Rule", "export", "3A090", "e.g.", "U.S.", "x" * 39, "y" * 40, "z" * 41),
        *(" ", "  ", "-", "_", ",", ".", "/", "'", "\t", "\n", "§", "é", "\u00a0", "ﬁ", "Ⅻ"),
    ]
    texts = ["".join(rng.choices(pieces, k=rng.randint(0, 40))) for _ in range(3000)]
    texts += [f"of {'x' * 39} the", f"of {'y' * 40} the", "of-the", "OF_THE"]
    with gzip.open(STORE, "rt", encoding="utf-8") as lines:
        for record in map(json.loads, itertools.islice(lines, 2000)):
            texts += [record["title"], record.get("abstract") or ""]
    assert sum(map(str.isascii, texts)) > len(texts) // 2  # the path under test is taken
    for text in texts:
        assert pairs_text(text) == " ".join(common_pairs(ANALYZER.analyze(text))), text
