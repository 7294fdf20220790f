"""Invisible and look-alike characters that real sources put in text (soft hyphens from Federal
Register HTML, zero-width spaces, no-break spaces, typographic hyphens, full-width forms) change
neither tags nor extracted identifiers nor watch-list hits, and every offset and quote still
points into the text as the user has it.

Enters: the real titles and abstracts of tests/fixtures/nlp/real_documents.jsonl and
tests/fixtures/watch/real_abstracts.jsonl, each disguised the way a source does it.
Leaves: pass/fail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nlp import TagResult, load_tagger
from nlp.document import field_value
from nlp.fold import FoldError, load_fold_table
from nlp.tagger import Tagger
from nlp.watch import WatchList, watch_item

FIXTURES = Path(__file__).parent / "fixtures"
REAL = [
    json.loads(line)
    for line in (FIXTURES / "nlp" / "real_documents.jsonl").read_text().splitlines()
]
TEXT_FIELDS = ("title", "abstract")


def _every_word(mark: str) -> Callable[[str], str]:
    return lambda text: re.sub(r"(?<=\w)(?= )", mark, text)


# Each way a source disguises a text; undoing it gives the plain text back.
DISGUISES: dict[str, Callable[[str], str]] = {
    "soft hyphens inside long words": lambda text: re.sub(r"(\w{4})(?=\w{4})", "\\1\u00ad", text),
    "zero-width space after words": _every_word("\u200b"),
    "zero-width joiner after words": _every_word("\u200d"),
    "zero-width non-joiner after words": _every_word("\u200c"),
    "word joiner after words": _every_word("\u2060"),
    "byte order mark after words": _every_word("\ufeff"),
    "no-break spaces": lambda text: text.replace(" ", "\u00a0"),
    "narrow no-break spaces": lambda text: text.replace(" ", "\u202f"),
    "non-breaking hyphens": lambda text: text.replace("-", "\u2011"),
    "typographic hyphens": lambda text: text.replace("-", "\u2010"),
    "full-width forms": lambda text: "".join(
        chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text
    ),
}


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return load_tagger()


def disguised(document: dict[str, Any], disguise: Callable[[str], str]) -> dict[str, Any]:
    return {k: disguise(v) if k in TEXT_FIELDS and v else v for k, v in document.items()}


def without_places(result: TagResult) -> dict[str, Any]:
    """The result with every quote and offset left out: what must not change at all."""
    drop = {"text", "start", "end"}

    def strip(items: list[dict]) -> list[dict]:
        return [{k: v for k, v in item.items() if k not in drop} for item in items]

    return {
        "tags": result.tags,
        "scores": result.scores,
        "evidence": {tag: strip(items) for tag, items in result.evidence.items()},
        "entities": {entity: strip(items) for entity, items in result.entities.items()},
        "dates": result.dates,
    }


def places(result: TagResult) -> list[tuple[str, int, int, str]]:
    """(field, start, end, quote) of every evidence item, entity mention and text date."""
    items = [e for tag in result.evidence.values() for e in tag]
    items += [m for mentions in result.entities.values() for m in mentions]
    return [
        (item.get("field") or item["source"], item["start"], item["end"], item["text"])
        for item in items
        if item.get("start") is not None
    ]


@pytest.mark.parametrize("disguise", DISGUISES.values(), ids=DISGUISES.keys())
def test_disguised_real_documents_tag_and_extract_as_the_plain_ones(
    tagger: Tagger, disguise: Callable[[str], str]
) -> None:
    for document in REAL:
        shown = disguised(document, disguise)
        plain, found = tagger.tag(document), tagger.tag(shown)
        assert without_places(found) == without_places(plain), document["document_number"]
        assert len(places(found)) == len(places(plain))
        for field, start, end, quote in places(found):
            assert field_value(shown, field)[start:end] == quote, document["document_number"]


# Real sentences (BIS rules, 2023-2025) with one character as a source wrote it.
SENTENCES = [
    ("artificial intel\u00adligence", "ai", None, None),
    ("export\u200b controls", "export_control", None, None),
    ("Export Administra\u2060tion Regulations", "export_control", None, None),
    ("ECCN\u00a03A090", None, "eccns", "3A090"),
    ("ECCN \ufeff3A090", None, "eccns", "3A090"),
    ("ECCN \uff13\uff21\uff10\uff19\uff10", None, "eccns", "3A090"),
    ("ECCN 3A\u00ad090", None, "eccns", "3A090"),
    ("15\u00a0CFR\u202f744", None, "cfr", "15 CFR 744"),
    ("RIN 0694\u2011AJ90", None, "rins", "0694-AJ90"),
    ("Docket No. BIS\u20102024\u20100047", None, "dockets", "BIS-2024-0047"),
]
SENTENCE = (
    "This rule revises the {} provisions that apply to advanced computing items and to "
    "integrated circuits destined for certain countries."
)


@pytest.mark.parametrize(("written", "tag", "entity", "value"), SENTENCES)
def test_a_term_or_identifier_behind_one_hidden_character_is_found_and_quoted_as_written(
    tagger: Tagger, written: str, tag: str | None, entity: str | None, value: str | None
) -> None:
    abstract = SENTENCE.format(written)
    result = tagger.tag({"title": "Revisions to License Requirements", "abstract": abstract})
    start = abstract.index(written)
    if tag:
        assert tag in result.tags
        quotes = [e for e in result.evidence[tag] if e["start"] == start]
        assert [abstract[e["start"] : e["end"]] for e in quotes] == [written]
    if entity:
        (mention,) = result.entities[entity]
        assert mention["value"] == value
        assert abstract[mention["start"] : mention["end"]] == mention["text"]
        assert mention["text"].endswith(written[-3:])


def test_en_dash_ranges_still_name_both_ends(tagger: Tagger) -> None:
    abstract = "Items classified under ECCNs 3A090\u20133A092 and 15 CFR 744\u2013746."
    result = tagger.tag({"title": "Revisions", "abstract": abstract})
    assert [m["value"] for m in result.entities["eccns"]] == ["3A090", "3A092"]
    assert [m["value"] for m in result.entities["cfr"]] == ["15 CFR 744"]


# Synthetic sentences in the style of Federal Register comment instructions: (identifier as
# written with hyphens, sentence, rule, API field listing the same identifier).
IDENTIFIERS = {
    "rins": (
        "0694-AK05",
        "Comments must refer to regulatory identification number (RIN) {} in the subject line.",
        "id.rin",
        "regulation_id_numbers",
    ),
    "dockets": (
        "BIS-2025-0012",
        "You may submit comments, identified by docket number {}, through the portal.",
        "id.docket.agency",
        "docket_ids",
    ),
}


@pytest.mark.parametrize("dash", ["\u2013", "\u2014"], ids=["en dash", "em dash"])
@pytest.mark.parametrize("entity", IDENTIFIERS)
def test_an_identifier_pasted_with_typographic_dashes_is_read_with_hyphens_quoted_as_written(
    tagger: Tagger, entity: str, dash: str
) -> None:
    value, sentence, rule, api_field = IDENTIFIERS[entity]
    written = value.replace("-", dash)
    abstract = f"Comments must be received by March\u00a04, 2025. {sentence.format(written)}"
    found = tagger.tag({"title": "Revisions", "abstract": abstract})
    start = abstract.index(written)
    assert found.entities[entity] == [
        {
            "value": value,
            "text": written,
            "field": "abstract",
            "start": start,
            "end": start + len(written),
            "rule": rule,
        }
    ]
    listed = tagger.tag({"abstract": abstract, api_field: [value]})
    assert [m["value"] for m in listed.entities[entity]] == [value]


def watch_document() -> dict[str, Any]:
    path = FIXTURES / "watch" / "real_abstracts.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(d for d in map(json.loads, lines) if d["document_number"] == "2020-03144")


WATCHED = [
    ("counterparty", "HUAWEI TECHNOLOGIES CO., LTD", "China"),
    ("term", "temporary general license", None),
]


@pytest.mark.parametrize("disguise", DISGUISES.values(), ids=DISGUISES.keys())
def test_watch_list_finds_names_and_terms_behind_hidden_characters(
    tagger: Tagger, disguise: Callable[[str], str]
) -> None:
    watch = WatchList([watch_item(*item) for item in WATCHED])
    document = watch_document()
    shown = disguised(document, disguise)
    plain = watch.match(document, tagger.tag(document).entities)
    found = watch.match(shown, tagger.tag(shown).entities)
    assert [h["kind"] for h in plain] == ["term", "term", "counterparty"]
    same = ("kind", "item", "matched", "field", "score")
    assert [[h[k] for k in same] for h in found] == [[h[k] for k in same] for h in plain]
    for hit in found:
        assert shown[hit["field"]][hit["start"] : hit["end"]] == hit["text"]


def test_a_watched_value_pasted_with_hidden_characters_is_read_plain() -> None:
    pasted = watch_item("term", "temporary\u00a0general li\u00adcense\u200b")
    assert pasted.value == "temporary general license"
    assert watch_item("eccn", "\uff13A090").value == "3A090"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "x", "first": "U+00A0", "last": "U+00A0"}', "reads_as or compatibility"),
        ('{"first": "U+00A0", "last": "U+00A0", "reads_as": " "}', "needs an 'id'"),
        ('{"id": "x", "first": "00A0", "last": "U+00A0", "reads_as": " "}', "U+XXXX"),
        ('{"id": "x", "first": "U+0041", "last": "U+0041", "reads_as": "a"}', "non-ASCII"),
        ('{"id": "x", "first": "U+00AD", "last": "U+00A0", "reads_as": ""}', "non-ASCII"),
        ('{"id": "x", "first": "U+2013", "last": "U+2013", "reads_as": "--"}', "one ASCII"),
        ('{"id": "x", "first": "U+00E9", "last": "U+00E9", "compatibility": true}', "ASCII"),
        ('{"id": "x", "first": "U+200B", "last": "U+200B", "reads_as": "", "typo": 1}', "an entry"),
        ('{"id": "soft_hyphen", "first": "U+2060", "last": "U+2060", "reads_as": ""}', "duplicate"),
        ('{"id": "x", "first": "U+00AD", "last": "U+00AD", "reads_as": "-"}', "an earlier line"),
        ("{not json", "invalid JSON"),
    ],
)
def test_the_character_table_is_checked_when_loaded(tmp_path: Path, line: str, message: str):
    table = tmp_path / "characters.jsonl"
    good = '{"id": "soft_hyphen", "first": "U+00AD", "last": "U+00AD", "reads_as": ""}'
    table.write_text(f"{good}\n{line}\n", encoding="utf-8")
    with pytest.raises(FoldError, match=f"^characters.jsonl line 2: .*{re.escape(message)}"):
        load_fold_table(table)


def test_the_shipped_character_table_loads_and_keeps_en_dashes() -> None:
    table = load_fold_table()
    assert table.reads["\u00ad"] == "" and table.reads["\uff13"] == "3"
    assert "\u2013" not in table.reads and "\u2014" not in table.reads
