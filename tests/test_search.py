"""Search as a user types it: ranking, snippets, phrases, prefixes, identifiers, filters, errors.

Enters: 32 real Federal Register documents (tests/fixtures/archive/fr_documents.jsonl) imported into
a real archive under a temporary directory, some tagged. Leaves: assertions on the hits and on the
one-line message of every malformed query.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive import Archive, ArchiveError, QueryError
from archive.indexdoc import load_words
from regwatch.importer import import_records

FIXTURE = Path(__file__).parent / "fixtures" / "archive" / "fr_documents.jsonl"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory):
    with Archive.open(tmp_path_factory.mktemp("search") / "home") as opened:
        with FIXTURE.open() as lines:
            assert not import_records(opened, lines).rejected
        tagged = []
        for batch in opened.documents_to_tag("test"):
            for item in batch:
                title = item.document["title"]
                tags = ["export_control"] if "Entity List" in title or "Export" in title else []
                tagged.append((item, {"tags": tags}))
        opened.store_tags(tagged, "test")
        yield opened


def ids(hits) -> list[str]:
    return [h.source_id for h in hits]


def test_entity_list_rules_rank_first(archive: Archive) -> None:
    hits = archive.search("entity list")
    assert len(hits) >= 6
    assert all("Entity List" in h.title for h in hits[:5])
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_hits_carry_stored_fields(archive: Archive) -> None:
    (hit,) = archive.search('"additional export controls"', limit=1)
    assert hit.source_id == "2023-23055"
    assert hit.publication_date == "2023-10-25"
    assert hit.type == "Rule"
    assert hit.agencies == ["Commerce Department", "Industry and Security Bureau"]
    assert hit.tags == ["export_control"]


def test_snippet_marks_matched_words(archive: Archive) -> None:
    (hit,) = archive.search('"temporary denial order"')
    assert hit.source_id == "2023-18772"
    assert "renewal of <b>temporary</b> <b>denial</b> orders" in hit.snippet


def test_snippet_without_abstract_falls_back_to_title(archive: Archive) -> None:
    (hit,) = archive.search("renewing temporarily denying")
    assert hit.source_id == "2024-25471"
    assert "<b>Renewing</b>" in hit.snippet


def test_words_are_anded(archive: Archive) -> None:
    nuclear = set(ids(archive.search("nuclear")))
    export = set(ids(archive.search("export", limit=100)))
    both = ids(archive.search("nuclear export"))
    assert set(both) == nuclear & export
    assert "2010-18219" in both


def test_phrase_needs_adjacent_words(archive: Archive) -> None:
    loose = set(ids(archive.search("security national", limit=100)))
    phrase = set(ids(archive.search('"security national"', limit=100)))
    assert phrase < loose
    assert set(ids(archive.search('"national security"', limit=100))) <= loose


def test_prefix_reaches_longer_words(archive: Archive) -> None:
    hits = ids(archive.search("semicond*"))
    assert {"2023-23049", "2023-23055", "00-29256"} <= set(hits)
    assert "2023-20471" in hits  # "semiconductor" only


def test_words_match_their_inflections_below_the_typed_form(archive: Archive) -> None:
    typed = {"2023-23055", "2024-28270", "2023-23049", "2021-28444", "2024-08813"}
    hits = ids(archive.search("controls", limit=100))
    assert {"2023-18772", "2022-04300", "2024-22587"} <= set(hits)  # "control" only
    control_only = next(
        h for h in archive.search("controls", limit=100) if h.source_id == "2023-18772"
    )
    assert "Export <b>Control</b> Reform Act" in control_only.snippet
    assert set(hits[: len(typed)]) == typed
    assert set(ids(archive.search('"controls"', limit=100))) == typed  # quoted: exact
    assert {"2023-23055", "E9-17295"} <= set(ids(archive.search("entities", limit=100)))


def test_exclusion_beside_a_word(archive: Archive) -> None:
    everything = ids(archive.search("export", limit=100))
    without = ids(archive.search("export -nuclear", limit=100))
    assert "2010-18219" in everything and "2010-18219" not in without
    assert without and set(without) < set(everything)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5D992.c", "2022-04300"),  # ECCN with a dot
        ("0Y521", "2021-28444"),
        ("744.11", "E9-17295"),  # section number
        ("15 CFR 766", "2023-18772"),  # from cfr_references
        ("2024-01953", "2024-01953"),  # document number
    ],
)
def test_identifiers_match_as_phrases(archive: Archive, text: str, expected: str) -> None:
    assert expected in ids(archive.search(text))


def test_field_syntax_is_just_words(archive: Archive) -> None:
    assert ids(archive.search("board:proceedings")) == ["2024-01953"]
    assert archive.search("title:proceedings") == []  # a phrase "title proceedings", no field


def test_tag_filter_keeps_only_tagged(archive: Archive) -> None:
    hits = archive.search("regulations", tags=["export_control"], limit=100)
    assert hits and all(h.tags == ["export_control"] for h in hits)
    assert len(hits) < len(archive.search("regulations", limit=100))
    assert archive.search("regulations", tags=["no_such_tag"]) == []


def test_date_filter_is_inclusive(archive: Archive) -> None:
    hits = archive.search("rule", since="2023-10-25", until="2023-10-25", limit=100)
    assert set(ids(hits)) == {"2023-23055", "2023-23049"}
    assert all(
        h.publication_date >= "2025-01-01" for h in archive.search("the", since="2025-01-01")
    )


def test_filters_do_not_change_scores(archive: Archive) -> None:
    plain = {h.source_id: h.score for h in archive.search("entity list", limit=100)}
    for hit in archive.search("entity list", tags=["export_control"], since="2020-01-01"):
        assert hit.score == pytest.approx(plain[hit.source_id])


def test_limit_caps_hits(archive: Archive) -> None:
    assert len(archive.search("the", limit=3)) == 3


def test_unmatched_prefix_finds_nothing(archive: Archive) -> None:
    assert archive.search("zzzzq*") == []


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ("", {}, "empty query: type one or more words to search for"),
        ("   ", {}, "empty query: type one or more words to search for"),
        ('"entity list', {}, 'unbalanced quote: close the phrase with a second "'),
        ("-export", {}, "a query cannot only exclude: put a word to search for beside -term"),
        ("-export -russia", {}, "a query cannot only exclude"),
        ("exp*", {}, "prefix search needs 4+ letters or digits then one final *, as in regulat*"),
        ("ex*port", {}, "prefix search needs 4+ letters"),
        ("*", {}, "prefix search needs 4+ letters"),
        ("regu.lat*", {}, "prefix search needs 4+ letters"),
        ('""', {}, 'empty phrase "": put words between the quotes'),
        ("( ) &", {}, "no searchable words in '( ) &'"),
        (" ".join(["word"] * 40), {}, "query too long: at most 32 words and phrases"),
        ('"' + "of the federal register " * 51 + '"', {}, "query too long: at most 200 words"),
        ("-".join(["entity-list"] * 101), {}, "query too long: at most 200 words in all"),
        (" ".join(["word"] * 100_000), {}, "query too long: at most 4,000 characters"),
        ("export", {"limit": 0}, "limit must be a whole number from 1 to 10000, got 0"),
        ("export", {"limit": -5}, "limit must be a whole number from 1 to 10000"),
        ("export", {"since": "last week"}, "since must be a date like 2024-01-31, got 'last week'"),
        ("export", {"until": "2024-13-01"}, "until must be a date like 2024-01-31"),
        ("export", {"since": "2024-02-01", "until": "2024-01-01"}, "since (2024-02-01) is after"),
    ],
)
def test_bad_queries_raise_one_clear_line(
    archive: Archive, text: str, options: dict, message: str
) -> None:
    with pytest.raises(QueryError) as info:
        archive.search(text, **options)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_a_phrase_of_200_words_is_still_searched(archive: Archive) -> None:
    assert archive.search('"' + "of the federal register " * 50 + '"') == []


def test_an_engine_panic_becomes_an_archive_error(archive: Archive, monkeypatch) -> None:
    monkeypatch.setattr("archive.query.check_limit", lambda limit: limit)  # let limit=0 through
    with pytest.raises(ArchiveError, match="search failed in the index engine: .*Limit must be"):
        archive.search("export", limit=0)


def test_a_common_words_list_with_a_bad_line_is_refused_in_one_line(tmp_path) -> None:
    listed = tmp_path / "words.txt"
    listed.write_text("# frequent words\nfinal\n\nrule\n", encoding="utf-8")
    assert load_words(listed) == {"final", "rule"}
    listed.write_text("final\nFinal Rule\n", encoding="utf-8")
    with pytest.raises(
        ValueError, match=r"^words.txt line 2: 'Final Rule' is not one lowercase word$"
    ):
        load_words(listed)


def test_hits_name_agencies_by_raw_name_when_unnamed_and_skip_blank_ones(tmp_path: Path) -> None:
    record = json.loads(FIXTURE.read_text().splitlines()[0])
    record["agencies"] = [
        {"raw_name": "DEFENSE DEPARTMENT"},
        {"name": "", "raw_name": "Census Bureau"},
        {"name": "   ", "raw_name": None},
    ]
    with Archive.open(tmp_path / "home") as opened:
        assert not import_records(opened, [json.dumps(record)]).rejected
        (hit,) = opened.search(record["title"], limit=1)
    assert hit.agencies == ["DEFENSE DEPARTMENT", "Census Bureau"]


def test_invisible_and_look_alike_characters_never_hide_a_word(tmp_path: Path) -> None:
    """A soft hyphen (Federal Register full text marks hyphenation points with it) or a zero-width
    space inside a word split it in the index: `intelligence` did not find `intel\\u00adligence`,
    nor `3A090` its full-width form or `classification` the PDF ligature of `classiﬁcation`.
    Documents are indexed, queries read and snippets cut in the plain form (synthetic records
    made of a real one)."""
    base = json.loads(FIXTURE.read_text(encoding="utf-8").splitlines()[0])
    disguised = {
        "SYN-1": ("Artificial Intel\u00adligence Chips", "Con\u200btrols on advanced chips."),
        "SYN-2": ("Items Under \uff13\uff21\uff10\uff19\uff10", "Classi\ufb01cation review."),
    }
    records = [
        {**base, "document_number": number, "title": title, "abstract": abstract}
        for number, (title, abstract) in disguised.items()
    ]
    with Archive.open(tmp_path / "home") as archive:
        assert not import_records(archive, [json.dumps(r) for r in records]).rejected
        assert ids(archive.search("intelligence")) == ["SYN-1"]
        assert ids(archive.search('"controls on advanced"')) == ["SYN-1"]
        assert ids(archive.search("3A090")) == ["SYN-2"]
        (hit,) = archive.search("classification")
        assert hit.source_id == "SYN-2" and hit.snippet == "<b>Classification</b> review"
        assert ids(archive.search("artificial intel\u00adligence")) == ["SYN-1"]  # pasted as is
