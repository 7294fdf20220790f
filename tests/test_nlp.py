"""The tagger on real Federal Register text: tags, evidence, disambiguation, entities, dates,
serialisation and the JSON-lines command.

Enters: tests/fixtures/nlp/real_documents.jsonl (real titles and abstracts, each with its
provenance) and the rule files in nlp/patterns.
Leaves: pass/fail.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from nlp import TagResult, load_tagger, tag_jsonl
from nlp.rules import load_rules
from nlp.tagger import Tagger, build_pipeline

FIXTURES = Path(__file__).parent / "fixtures" / "nlp"
REAL = {
    d["document_number"]: d
    for d in map(json.loads, (FIXTURES / "real_documents.jsonl").read_text().splitlines())
}


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return load_tagger()


def tag(tagger: Tagger, number: str) -> TagResult:
    return tagger.tag(REAL[number])


def support(result: TagResult, tag_name: str) -> dict[str, dict]:
    """Rule id -> evidence item, for the rules that support `tag_name`."""
    items = result.evidence.get(tag_name, [])
    return {e["rule"]: e for e in items if e["effect"] == "support"}


def values(result: TagResult, entity: str) -> list[str]:
    return [m["value"] for m in result.entities.get(entity, [])]


# --- primary tags on real documents -----------------------------------------------------


@pytest.mark.parametrize(
    ("number", "tags"),
    [
        ("2024-22587", ["ai", "export_control", "semiconductors", "cloud_compute"]),
        ("2026-00789", ["ai", "export_control", "semiconductors"]),
        ("2025-05426", ["export_control", "entity_list"]),
        ("2023-18772", ["export_control", "enforcement"]),
        ("2020-01118", ["export_control", "enforcement"]),
        ("2018-21422", ["export_control"]),
        ("00-29459", ["export_control"]),
        ("2020-28776", ["ai", "export_control"]),
        ("2024-18596", ["ai"]),
        ("2024-08168", ["ai"]),
        ("2024-20529", ["ai", "cloud_compute"]),
    ],
)
def test_real_documents_get_exact_tags(tagger: Tagger, number: str, tags: list[str]) -> None:
    assert tag(tagger, number).tags == tags


def test_evidence_names_rule_field_and_offsets(tagger: Tagger) -> None:
    document = REAL["2025-05426"]
    result = tagger.tag(document)
    entity_list = support(result, "export_control")["ec.term.entity_list"]
    assert (entity_list["field"], entity_list["start"], entity_list["end"]) == ("title", 35, 46)
    assert document["title"][35:46] == entity_list["text"] == "Entity List"
    assert support(result, "export_control")["ctx.cfr.ear"]["field"] == "cfr_references"
    assert result.scores["export_control"] >= 0.99


def test_cfr_context_counts_by_share_of_the_documents_cfr_parts(tagger: Tagger) -> None:
    nrc_rule = {**REAL["00-29459"]}
    assert "export_control" in tagger.tag(nrc_rule).tags
    omnibus = {
        "title": "Miscellaneous Corrections",
        "cfr_references": [{"title": 10, "part": p} for p in ("2", "20", "30", "50", "110")],
    }
    result = tagger.tag(omnibus)
    assert result.tags == []
    assert support(result, "export_control")["ctx.cfr.nrc_export"]["weight"] == 0.18


def test_title_only_denial_order_is_export_control_enforcement(tagger: Tagger) -> None:
    result = tag(tagger, "2020-01118")
    assert support(result, "enforcement")["ec.term.tdo"]["text"] == "Temporarily Denying"
    assert support(result, "export_control")["ec.term.export_privileges"]["field"] == "title"


def test_advanced_computing_counts_for_ai_only_inside_export_control(tagger: Tagger) -> None:
    chips = tag(tagger, "2026-00789")
    assert support(chips, "ai")["ai.term.advanced_computing"]["text"] == "Advanced Computing"
    doe = tagger.tag({"title": "Advanced Computing Advisory Committee; Meeting"})
    assert "ai" not in doe.tags
    unmet = [e for e in doe.evidence["ai"] if e["effect"] == "unmet"]
    assert unmet[0]["rule"] == "ai.term.advanced_computing"
    assert unmet[0]["requires"] == ["export_control"]


# --- hard negatives: each trap class of LABELS.md ---------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "2018-14661",  # artificial reefs
        "96-8471",  # embryo imports (artificial insemination genetics)
        "2010-23320",  # ODNI: "intelligence" of the intelligence community
        "2010-25444",  # model-year vehicles
        "2025-03395",  # aircraft Model 737 airworthiness directive
        "98-33699",  # intelligent transportation systems
        "2018-00802",  # automated customs systems
        "2019-21047",  # Export-Import Bank financing
        "2014-12932",  # LNG export decisions
        "2020-05583",  # LNG export authorization
        "2015-09800",  # trade missions
        "2024-11593",  # President's Export Council
        "2013-21459",  # "export control reform" as one agenda topic of the PEC
        "00-29256",  # DRAM antidumping review
        "2023-04355",  # Section 337 semiconductor investigation
        "2023-20471",  # CHIPS Act guardrails
        "2024-01953",  # foreign-trade zones
        "2020-00596",  # OFAC sanctions actions
        "2022-17047",  # highly pathogenic avian influenza, poultry
        "2020-06510",  # Advanced Scientific Computing Advisory Committee
    ],
)
def test_hard_negatives_get_no_primary_tag(tagger: Tagger, number: str) -> None:
    result = tag(tagger, number)
    assert "ai" not in result.tags
    assert "export_control" not in result.tags


@pytest.mark.parametrize(
    ("number", "veto"),
    [
        ("2021-02953", "neg.ai.american_indian"),
        ("2025-23775", "neg.ai.aleutian_islands"),
        ("2023-16814", "neg.ai.intake"),
    ],
)
def test_ai_acronym_vetoed_by_context(tagger: Tagger, number: str, veto: str) -> None:
    result = tag(tagger, number)
    assert result.tags == []
    assert result.scores["ai"] == 0.0
    vetoed = [e for e in result.evidence["ai"] if e["effect"] == "suppressed"]
    assert vetoed[0]["rule"] == "ai.term.ai_acronym"
    assert vetoed[0]["text"] == "AI"
    assert vetoed[0]["suppressed_by"] == veto
    assert any(e["rule"] == veto and e["effect"] == "negative" for e in result.evidence["ai"])


# --- general rules found on the independent check set (data/fr_check_set.jsonl) ----------


@pytest.mark.parametrize(
    "number",
    [
        "2022-01628",  # "technology areas: Artificial Intelligence, Cybersecurity, ..."
        "2023-24091",  # "Crisis in the Middle East; The International Dimensions of AI; ..."
    ],
)
def test_ai_as_one_item_of_a_long_list_does_not_tag_ai(tagger: Tagger, number: str) -> None:
    result = tag(tagger, number)
    assert "ai" not in result.tags
    vetoed = [e for e in result.evidence["ai"] if e["effect"] == "suppressed"]
    assert vetoed
    assert {e["suppressed_by"] for e in vetoed} == {"neg.ai.listed_mention"}
    negative = [e for e in result.evidence["ai"] if e["effect"] == "negative"]
    assert [e["rule"] for e in negative] == ["neg.ai.listed_mention"]


def test_ai_listed_in_the_abstract_but_named_in_the_title_still_tags_ai(tagger: Tagger) -> None:
    # USPTO: the abstract lists "artificial intelligence (AI) and other emerging technologies
    # (ET) (e.g., quantum computing, synthetic biology, blockchain, ...)"; the title names AI.
    result = tag(tagger, "2022-12139")
    assert "ai" in result.tags
    assert support(result, "ai")["ai.term.artificial_intelligence"]["field"] == "title"


def test_ai_as_the_topic_of_a_sentence_is_not_a_listed_mention(tagger: Tagger) -> None:
    # Real sentence (2024-09591, Diabetes Mellitus Interagency Coordinating Committee).
    result = tagger.tag(
        {
            "title": "Notice of Diabetes Mellitus Interagency Coordinating Committee Meeting",
            "abstract": 'The topic for this meeting will be "Artificial Intelligence in Diabetes '
            'Precision Medicine: Real world data, real world opportunities and challenges".',
        }
    )
    assert result.tags == ["ai"]


def test_generative_ai_is_ai_vocabulary(tagger: Tagger) -> None:
    # "Civil Rights, Civil Liberties, and Generative AI": a three-item project name.
    result = tag(tagger, "2025-23399")
    assert result.tags == ["ai"]
    assert support(result, "ai")["ai.term.generative"]["text"] == "Generative AI"


def test_nrc_licence_transfer_listing_export_licences_is_not_export_control(
    tagger: Tagger,
) -> None:
    result = tag(tagger, "2022-01175")
    assert result.tags == []
    vetoed = [e for e in result.evidence["export_control"] if e["effect"] == "suppressed"]
    assert [(e["rule"], e["suppressed_by"]) for e in vetoed] == [
        ("ec.term.export_license", "neg.ec.licence_transfer")
    ]
    # An NRC order suspending general licences to export is a nuclear export control.
    assert "export_control" in tag(tagger, "2022-10565").tags


def test_nrc_export_licence_application_is_export_control(tagger: Tagger) -> None:
    # Real abstract (2022-11854): "export license" alone scores 0.495; the NRC licence number
    # (XSNM3828) is the second piece of evidence that makes it a 10 CFR 110 export control.
    result = tagger.tag(
        {
            "title": "ALARA Logistics, LLC",
            "abstract": "The U.S. Nuclear Regulatory Commission (NRC) received an application for "
            "an export license (XSNM3828) requested by ALARA Logistics, LLC. On April 5, 2022, "
            "ALARA Logistics, LLC filed an application with the NRC seeking approval for a "
            "license to export high enriched uranium to Belgium.",
        }
    )
    assert result.tags == ["export_control"]
    assert support(result, "export_control")["ctx.nrc_export_licence"]["text"] == "XSNM3828"
    assert values(result, "nrc_export_licences") == ["XSNM3828"]
    # An amendment number (XW027/01, 2022-25376) counts too.
    amendment = tagger.tag(
        {
            "title": "Perma-Fix Northwest Richland, Inc.",
            "abstract": "The U.S. Nuclear Regulatory Commission (NRC) received an application to "
            "amend an export license (XW027/01), from Perma-Fix Northwest Richland, Inc.",
        }
    )
    assert amendment.tags == ["export_control"]


def test_nrc_licence_number_alone_or_in_a_transfer_is_not_export_control(tagger: Tagger) -> None:
    # Without "export license" the number is weak evidence only (reported only in
    # export-control documents).
    alone = tagger.tag({"title": "Framatome, Inc.", "abstract": "Licence (XW015) was amended."})
    assert alone.tags == []
    assert values(alone, "nrc_export_licences") == []
    # A licence transfer listing export licences (clause shaped like 2023-15210's) is vetoed.
    transfer = tagger.tag(
        {
            "title": "Consideration of Approval of Indirect Transfer of Licenses",
            "abstract": "The application seeks NRC approval of the indirect transfer of Special "
            "Nuclear Material License No. SNM-1097 and Export License No. (XSNM3398) to a newly "
            "created subsidiary.",
        }
    )
    assert transfer.tags == []
    vetoed = [e for e in transfer.evidence["export_control"] if e["effect"] == "suppressed"]
    assert {(e["rule"], e["suppressed_by"]) for e in vetoed} == {
        ("ec.term.export_license", "neg.ec.licence_transfer"),
        ("ctx.nrc_export_licence", "neg.ec.licence_transfer"),
    }


def test_ai_inside_one_item_of_a_long_list_of_cited_documents_does_not_tag_ai(
    tagger: Tagger,
) -> None:
    # Real sentence (2025-18640, Education grant priority): AI is the name of another cited
    # priority, one item of a seven-comma enumeration, eight tokens from a separator.
    result = tagger.tag(
        {
            "title": "Proposed Priority and Definitions-Secretary's Supplemental Priority and "
            "Definitions on Meaningful Learning Opportunities",
            "abstract": "This priority and definitions augment the initial set of three "
            "Secretary's Supplemental Priorities on Evidence-Based Literacy, Educational Choice, "
            "and Returning Education to the States published as final priorities on September 9, "
            "2025 (90 FR 43514), the Secretary's Supplemental Priority on Artificial Intelligence "
            "published as a proposed priority on July 21, 2025 (90 FR 34203), and the "
            "Secretary's Supplemental Priority on Promoting Patriotic Education published as a "
            "proposed priority on September 17, 2025 (90 FR 44788).",
        }
    )
    assert result.tags == []
    vetoed = [e for e in result.evidence["ai"] if e["effect"] == "suppressed"]
    assert {e["suppressed_by"] for e in vetoed} == {"neg.ai.listed_citation"}


def test_ai_in_a_short_sentence_with_a_citation_still_tags_ai(tagger: Tagger) -> None:
    # Same shape but few separators: a notice about one AI document keeps its tag.
    result = tagger.tag(
        {
            "title": "Proposed Priority; Extension of Comment Period",
            "abstract": "The Department extends the comment period for the Secretary's "
            "Supplemental Priority on Artificial Intelligence published as a proposed priority "
            "on July 21, 2025 (90 FR 34203).",
        }
    )
    assert result.tags == ["ai"]


def test_retransfer_is_export_control_vocabulary(tagger: Tagger) -> None:
    # NNSA advance consent list for retransfers of U.S.-origin nuclear material (123 Agreement).
    result = tag(tagger, "2024-09961")
    assert result.tags == ["export_control"]
    assert support(result, "export_control")["ec.term.reexport"]["text"] == "retransfers"


def test_license_review_policy_without_cfr_references(tagger: Tagger) -> None:
    # The advanced-computing licence policy rule, read without its agencies and CFR parts
    # (as in the 106k-abstract file): the licence review policy makes it an export control,
    # and that lets "advanced computing" speak for AI.
    document = {**REAL["2026-00789"], "agencies": [], "cfr_references": []}
    result = tagger.tag(document)
    assert {"ai", "export_control"} <= set(result.tags)
    assert "ec.term.license_review_policy" in support(result, "export_control")


def test_commerce_country_chart_is_export_control_vocabulary(tagger: Tagger) -> None:
    # Clause of 2023-26532 (Allied Governments Favorable Treatment), without its EAR sentence.
    result = tagger.tag(
        {
            "title": "Revisions to Certain Crime Control and Detection Controls",
            "abstract": "BIS is revising the Commerce Country Chart to remove Crime Control and "
            "Detection (CC) controls on certain items that are destined for Austria, Finland, "
            "Ireland, Liechtenstein, South Korea, Sweden, and Switzerland.",
        }
    )
    assert result.tags == ["export_control"]
    assert "ec.term.country_chart" in support(result, "export_control")


def test_lng_reexport_is_not_export_control(tagger: Tagger) -> None:
    # Real title shape of DOE LNG dockets: "re-export" of U.S. LNG from Mexico.
    result = tagger.tag(
        {
            "title": "Mexico Pacific Limited LLC; Application for Long-Term Authorization To "
            "Export Liquefied Natural Gas; Re-export to Non-Free Trade Agreement Countries",
        }
    )
    assert "export_control" not in result.tags
    suppressed = [e for e in result.evidence["export_control"] if e["effect"] == "suppressed"]
    assert suppressed[0]["suppressed_by"] == "neg.ec.energy_exports"


def test_arms_export_control_act_does_not_count_as_export_controls(tagger: Tagger) -> None:
    result = tagger.tag(
        {"title": "Disclosure of Violations of the Arms Export Control Act", "abstract": None}
    )
    rules = {e["rule"] for e in result.evidence["export_control"]}
    assert rules == {"ec.term.aeca"}


# --- entities -----------------------------------------------------------------------------


def test_eccns_and_country_groups_with_offsets(tagger: Tagger) -> None:
    document = REAL["2023-22299"]
    result = tagger.tag(document)
    assert values(result, "eccns") == ["9E003.k", "9E001"]
    assert values(result, "country_groups") == ["A:5"]
    eccn = result.entities["eccns"][0]
    assert (eccn["field"], document["abstract"][eccn["start"] : eccn["end"]]) == (
        "abstract",
        "9E003.k",
    )


# Synthetic sentences in the form BIS rules write ECCN ranges, chains and lists: (the ECCNs, as
# written; values).
ECCN_RANGES = [
    ("3A001-3A003", ["3A001", "3A003"]),
    ("3A001-3A003-3A005", ["3A001", "3A003", "3A005"]),
    ("0A501-0A504 and 0A505", ["0A501", "0A504", "0A505"]),
    ("3A001.a-3A001.c", ["3A001.a", "3A001.c"]),
    ("3A090.a-c", ["3A090.a", "3A090.c"]),
    ("4A090.a-.b", ["4A090.a", "4A090.b"]),
    ("3A001.b.1-3", ["3A001.b.1", "3A001.b.3"]),
    ("3A090\u20133A092", ["3A090", "3A092"]),
    ("3A001 through 3A003", ["3A001", "3A003"]),
    ("4A090 and 4A090.z", ["4A090", "4A090.z"]),
    ("3A090, 4A090", ["3A090", "4A090"]),
]


@pytest.mark.parametrize(("written", "eccns"), ECCN_RANGES, ids=[w for w, _ in ECCN_RANGES])
def test_an_eccn_range_chain_or_list_gives_each_eccn_written_and_nothing_in_between(
    tagger: Tagger, written: str, eccns: list[str]
) -> None:
    abstract = (
        "This rule revises the license requirements for items classified under ECCNs "
        f"{written} when destined for a country in Country Group D:5."
    )
    result = tagger.tag({"title": "Revisions to the Commerce Control List", "abstract": abstract})
    assert values(result, "eccns") == eccns
    for mention in result.entities["eccns"]:
        assert abstract[mention["start"] : mention["end"]] == mention["text"]
        assert mention["text"] in written


# Synthetic sentences listing paragraphs of one ECCN as BIS rules write them: (as written; values;
# the text each is quoted from).
ECCN_PARAGRAPH_LISTS = [
    ("3A090.a and .b", ["3A090.a", "3A090.b"], ["3A090.a", ".b"]),
    ("3A090.a, .b and .c", ["3A090.a", "3A090.b", "3A090.c"], ["3A090.a", ".b", ".c"]),
    ("3A090.a, .b, and .c", ["3A090.a", "3A090.b", "3A090.c"], ["3A090.a", ".b", ".c"]),
    ("4A090.a or .b", ["4A090.a", "4A090.b"], ["4A090.a", ".b"]),
    ("3A090.a and b", ["3A090.a", "3A090.b"], ["3A090.a", "b"]),
    ("3A001.b.2 or b.3", ["3A001.b.2", "3A001.b.3"], ["3A001.b.2", "b.3"]),
    ("9A610.a through .x", ["9A610.a", "9A610.x"], ["9A610.a", ".x"]),
    ("3A001.a-3A003.b and .c", ["3A001.a", "3A003.b", "3A003.c"], ["3A001.a", "3A003.b", ".c"]),
]


@pytest.mark.parametrize(
    ("written", "eccns", "quoted"), ECCN_PARAGRAPH_LISTS, ids=[w for w, *_ in ECCN_PARAGRAPH_LISTS]
)
def test_each_listed_paragraph_of_an_eccn_is_extracted_in_full_quoting_its_own_text(
    tagger: Tagger, written: str, eccns: list[str], quoted: list[str]
) -> None:
    abstract = f"This rule revises license requirements for ECCNs {written} when bound for China."
    result = tagger.tag({"title": "Revisions to the Commerce Control List", "abstract": abstract})
    assert values(result, "eccns") == eccns
    mentions = result.entities["eccns"]
    assert [m["text"] for m in mentions] == quoted
    assert [abstract[m["start"] : m["end"]] for m in mentions] == quoted


# Synthetic: a word, a count, an abbreviation or a page after an ECCN paragraph is no paragraph.
@pytest.mark.parametrize(
    "written",
    [
        "3A090.a and a computer",
        "3A090.a or the",
        "3A090.a and 2 other items",
        "3A090.a, i.e., chips",
        "3A090.a, e.g. chips",
        "3A090.a, p. 5",
        "3A090.a, pp. 5-7",
    ],
)
def test_a_word_after_an_eccn_paragraph_is_not_read_as_another_paragraph(
    tagger: Tagger, written: str
) -> None:
    abstract = f"This rule revises ECCN {written} exported to China."
    result = tagger.tag({"title": "Revisions to the Commerce Control List", "abstract": abstract})
    assert values(result, "eccns") == ["3A090.a"]


@pytest.mark.parametrize(
    ("written", "eccn"), [("3A090-controlled", "3A090"), ("4A090.a-designated", "4A090.a")]
)
def test_an_eccn_joined_to_a_word_by_a_hyphen_is_extracted(
    tagger: Tagger, written: str, eccn: str
) -> None:
    abstract = f"This rule adds license requirements for {written} items destined for China."
    result = tagger.tag({"title": "Revisions to the Commerce Control List", "abstract": abstract})
    assert values(result, "eccns") == [eccn]
    assert result.entities["eccns"][0]["text"] == eccn


@pytest.mark.parametrize("written", ["3A001-3", "P/N 5A320-4", "P/N 1A234-B", "P/N 3A001-3A003-4"])
def test_a_hyphen_after_an_eccn_shaped_code_that_starts_no_range_extracts_nothing(
    tagger: Tagger, written: str
) -> None:
    result = tagger.tag({"title": "Airworthiness Directives", "abstract": f"Replace {written}."})
    assert values(result, "eccns") == []


def test_license_exception_and_eccn(tagger: Tagger) -> None:
    result = tag(tagger, "2022-11282")
    assert values(result, "license_exceptions") == ["ACE"]
    assert values(result, "eccns") == ["5D001"]
    assert result.dates == {}  # "comments to an October 21, 2021 interim rule" is no deadline


def test_countries_and_country_group_of_a_real_ear_rule(tagger: Tagger) -> None:
    result = tag(tagger, "2024-10280")
    assert values(result, "country_groups") == ["D:5"]
    assert {"Australia", "United Kingdom", "Cyprus", "Russia"} <= set(values(result, "countries"))


def test_fr_citation_cfr_part_and_rin(tagger: Tagger) -> None:
    cited = tag(tagger, "2020-00229")
    assert values(cited, "fr_citations") == ["84 FR 58818"]
    assert values(cited, "cfr") == ["part 121"]
    assert values(tag(tagger, "2020-00413"), "rins") == ["1801-AA19"]
    section = tag(tagger, "2025-13745").entities["cfr"][0]
    assert (section["value"], section["title"], section["part"]) == ("23 CFR 771.123", 23, "771")


def test_api_fields_join_entities(tagger: Tagger) -> None:
    result = tagger.tag(
        {
            "title": "Entity List Additions",
            "cfr_references": [{"title": 15, "part": "744"}],
            "regulation_id_numbers": ["0694-AJ90"],
            "docket_ids": ["Docket No. 231013-0249"],
        }
    )
    assert values(result, "cfr") == ["15 CFR 744"]
    assert values(result, "rins") == ["0694-AJ90"]
    assert values(result, "dockets") == ["Docket No. 231013-0249"]


def test_entity_names_only_reported_for_entity_list_rules(tagger: Tagger) -> None:
    sentence = (
        "This rule also applies this new control to Huawei Technologies Co., Ltd. (Huawei) "
        "and its non-U.S. affiliates listed as entities."
    )
    listed = tagger.tag({"title": "Amendments to the Entity List", "abstract": sentence})
    assert values(listed, "entity_names") == ["Huawei Technologies Co., Ltd."]
    unrelated = tagger.tag({"title": "Notice of Meeting", "abstract": sentence})
    assert "entity_names" not in unrelated.entities


# --- dates --------------------------------------------------------------------------------


def test_dates_from_abstract_text(tagger: Tagger) -> None:
    assert tag(tagger, "2024-00997").dates == {"comments_close_on": "2024-03-04"}
    assert tag(tagger, "2020-00250").dates == {"effective_on": "2020-01-15"}
    assert tag(tagger, "2024-18596").dates == {"meeting_on": "2024-09-04"}


def test_api_dates_win_over_text_and_reference_dates_are_ignored(tagger: Tagger) -> None:
    document = {
        **REAL["2024-00997"],
        "comments_close_on": "2024-03-05",
        "dates": "The comment period for the proposed rule published on May 1, 2024 "
        "(89 FR 35101), is extended to July 1, 2024. This rule is effective upon publication.",
        "publication_date": "2024-05-20",
    }
    result = tagger.tag(document)
    assert result.dates == {"comments_close_on": "2024-03-05", "effective_on": "2024-05-20"}
    sources = {e["slot"]: e["source"] for e in result.evidence["dates"]}
    assert sources == {"comments_close_on": "api", "effective_on": "dates"}


def test_comment_extension_takes_the_new_deadline(tagger: Tagger) -> None:
    result = tagger.tag(
        {
            "dates": "The comment period for the proposed rule published on May 1, 2024 "
            "(89 FR 35101), is extended to July 1, 2024."
        }
    )
    assert result.dates == {"comments_close_on": "2024-07-01"}


def test_a_date_takes_the_slot_of_a_cue_in_its_own_sentence_only(tagger: Tagger) -> None:
    text = (
        "Comments must be received by March 4, 2024. A public meeting is planned. "
        "April 2, 2024 is a holiday. The meeting will be held\nMay 5, 2024."
    )
    assert tagger.tag({"dates": text}).dates == {"comments_close_on": "2024-03-04"}


def test_a_date_after_a_reference_date_looks_back_to_the_start_of_its_sentence(
    tagger: Tagger,
) -> None:
    text = "At the meeting, the plan published on March 1, 2024 will be discussed on March 8, 2024."
    assert tagger.tag({"dates": text}).dates == {"meeting_on": "2024-03-08"}


def test_a_sentence_of_thousands_of_dates_costs_linear_time(tagger: Tagger) -> None:
    dates = "Comments must be received by March 4, 2024 " + "and April 2, 2024 " * 4_000
    started = time.monotonic()
    result = tagger.tag({"dates": dates})  # synthetic: one sentence, no cue between its dates
    assert (
        time.monotonic() - started < 12
    )  # 0.7 s here; each date read the sentence from its start: 51 s
    assert result.dates == {"comments_close_on": "2024-03-04"}


# --- inputs, thresholds, version, serialisation --------------------------------------------


def test_agencies_as_plain_strings_and_missing_fields(tagger: Tagger) -> None:
    result = tagger.tag({"title": None, "agencies": ["Industry and Security Bureau"]})
    assert result.tags == []
    assert support(result, "export_control")["ec.term.bis"]["field"] == "agencies"
    assert tagger.tag({}).to_dict()["tags"] == []


def test_thresholds_from_config() -> None:
    strict = load_tagger({"ai": 0.99})
    result = strict.tag(REAL["2024-08168"])
    assert result.scores["ai"] == 0.8
    assert "ai" not in result.tags


def test_version_changes_with_rules(tagger: Tagger) -> None:
    rules = load_rules()
    rules.terms[0] = {**rules.terms[0], "weights": {"ai": 0.5}}
    assert Tagger(build_pipeline(rules)).version != tagger.version
    assert Tagger(build_pipeline()).version == tagger.version


def test_pipeline_round_trips_through_disk(tagger: Tagger, tmp_path: Path) -> None:
    tagger.to_disk(tmp_path / "pipeline")
    loaded = load_tagger(path=tmp_path / "pipeline")
    assert loaded.version == tagger.version
    assert loaded.nlp.pipe_names == ["regwatch_extractor", "regwatch_tagger"]
    documents = list(REAL.values())
    assert [r.to_dict() for r in loaded.tag_many(documents)] == [
        r.to_dict() for r in tagger.tag_many(documents)
    ]


def test_results_live_on_the_doc(tagger: Tagger) -> None:
    doc = tagger.nlp("Export Controls on Semiconductor Manufacturing Items under ECCN 3B001")
    assert doc.cats["export_control"] >= 0.5
    assert doc._.regwatch.tags == ["export_control", "semiconductors"]
    assert [s.label_ for s in doc.spans["regwatch_ids"]] == ["eccns"]
    assert "ec.term.export_controls" in {s.label_ for s in doc.spans["regwatch_terms"]}


# --- JSON lines -----------------------------------------------------------------------------


def test_tag_jsonl_writes_one_line_per_input(tagger: Tagger, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps(REAL[n]) for n in ("2025-05426", "2018-14661")) + "\n")
    done = tag_jsonl(source, tmp_path / "out.jsonl", tagger)
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert (done.tagged, done.rejected) == (2, [])
    assert [(x["document_number"], x["tags"]) for x in lines] == [
        ("2025-05426", ["export_control", "entity_list"]),
        ("2018-14661", []),
    ]
    assert set(lines[0]) == {
        "document_number",
        "title",
        "tags",
        "scores",
        "evidence",
        "entities",
        "dates",
    }


def test_tag_jsonl_rejects_bad_lines_by_number_and_tags_the_rest(
    tagger: Tagger, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    good = json.dumps(REAL["2025-05426"])
    source.write_bytes(
        b"\n".join(
            [
                good.encode(),
                b"{not json}",
                b"",
                b"[1, 2]",
                b'{"title": "caf\xe9 Entity List"}',  # Latin-1 byte, not UTF-8
                b'{"title": "lone surrogate \\ud800 Entity List"}',  # valid JSON, untaggable
                b'{"document_number": "x-1", "title": "Entity List", "abstract": 7}',
            ]
        )
        + b"\n"
    )
    done = tag_jsonl(source, tmp_path / "out.jsonl", tagger)
    assert done.tagged == 2
    assert [(n, reason.split(" (")[0]) for n, reason in done.rejected] == [
        (2, "invalid JSON: Expecting property name enclosed in double quotes"),
        (4, "expected a JSON object, got list"),
        (5, "not UTF-8"),
        (
            6,
            "UnicodeEncodeError: 'utf-8' codec can't encode character '\\ud800' in position 0:"
            " surrogates not allowed",
        ),
    ]
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [x["document_number"] for x in lines] == ["2025-05426", "x-1"]


def test_tag_jsonl_refuses_to_write_over_its_input(tagger: Tagger, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    content = json.dumps(REAL["2025-05426"]) + "\n"
    source.write_text(content)
    (tmp_path / "link.jsonl").symlink_to(source)
    (tmp_path / "sub").mkdir()
    for spelling in (source, tmp_path / "sub" / ".." / "in.jsonl", tmp_path / "link.jsonl"):
        with pytest.raises(ValueError, match="is the input file itself"):
            tag_jsonl(source, spelling, tagger)
    assert source.read_text() == content


# --- untrusted input: wrong types, untaggable documents, long texts --------------------------


@pytest.mark.parametrize(
    ("document", "tags"),
    [
        ({"title": "Entity List", "abstract": 42}, ["export_control", "entity_list"]),
        ({"title": "Notice", "abstract": ["artificial intelligence", 3, None, {"x": 1}]}, ["ai"]),
        ({"title": "Entity List", "agencies": "Industry and Security Bureau"}, None),
        ({"title": {"nested": "object"}, "abstract": True}, []),
        ({"title": "x", "cfr_references": ["junk", {"title": "x", "part": 7}, 15]}, []),
        ({"title": "x", "cfr_references": {"title": 15, "part": "744"}}, []),
        ({"title": "x", "cfr_references": [{"title": "²", "part": "7"}]}, []),  # a digit, not 0-9
        ({"title": "x", "cfr_references": [{"title": "1" * 5000, "part": "7"}]}, []),
        ({"title": "x", "regulation_id_numbers": "0694-AJ90", "docket_ids": 5}, []),
        ({"title": "x", "publication_date": 20240101, "effective_on": ["2024-01-01"]}, []),
    ],
)
def test_wrongly_typed_fields_are_coerced_or_ignored(
    tagger: Tagger, document: dict, tags: list[str] | None
) -> None:
    result = tagger.tag(document)
    if tags is not None:
        assert result.tags == tags
    assert result.dates == {}


def test_a_string_of_agencies_is_one_agency_and_an_identifier_string_is_one_identifier(
    tagger: Tagger,
) -> None:
    result = tagger.tag(
        {"title": "x", "agencies": "Industry and Security Bureau", "docket_ids": "BIS-2024-0047"}
    )
    assert (
        support(result, "export_control")["ec.term.bis"]["text"] == "Industry and Security Bureau"
    )
    assert values(result, "dockets") == ["BIS-2024-0047"]


def test_one_untaggable_document_fails_alone(tagger: Tagger) -> None:
    documents = [REAL["2025-05426"], {"title": "lone surrogate \ud800"}, [1, 2], REAL["2024-08168"]]
    results = tagger.tag_each(documents)
    assert [type(r).__name__ for r in results] == [
        "TagResult",
        "TagFailure",
        "TagFailure",
        "TagResult",
    ]
    assert results[0].tags == ["export_control", "entity_list"]
    assert results[1].reason.startswith("UnicodeEncodeError: 'utf-8' codec can't encode")
    assert results[2].reason == "TypeError: a document must be a JSON object, not list"
    assert results[3].tags == ["ai"]


def test_a_text_longer_than_max_length_is_tagged_in_pieces_with_original_offsets(
    tagger: Tagger,
) -> None:
    paragraph = "The Bureau revises the procedures for widget inspections. " * 30 + "\n\n"
    body = paragraph * (3_000_000 // len(paragraph))
    body += "Items are controlled under ECCN 3A090 of the Export Administration Regulations."
    assert len(body) > 3 * tagger.nlp.max_length - 100_000
    result = tagger.tag({"title": "Widget Inspection Procedures", "body": body})
    ear = support(result, "export_control")["ec.term.ear"]
    assert ear["field"] == "body"
    assert ear["start"] > tagger.nlp.max_length
    assert body[ear["start"] : ear["end"]] == "Export Administration Regulations"
    (eccn,) = result.entities["eccns"]
    assert body[eccn["start"] : eccn["end"]] == "3A090"
    assert result.scores["export_control"] > 0


# A synthetic sentence in the words of BIS's rules, nearly every other phrase of it a match.
DENSE = (
    "BIS is imposing controls on advanced computing items and semiconductor manufacturing items "
    "under the Export Administration Regulations (EAR), 15 CFR 744.23, adding ECCN 3A090 and "
    "entities to the Entity List, including artificial intelligence developers, 88 FR 73458. "
)


@pytest.mark.parametrize(
    "body",
    [
        DENSE * (400_000 // len(DENSE)),  # a large rule's full text: thousands of matches
        "Areas such as " + "artificial intelligence, AI 90 FR 1, " * 2_000,  # one long sentence
    ],
    ids=["dense-rule", "one-sentence-list"],
)
def test_a_body_full_of_matches_is_tagged_in_time_linear_in_its_length(
    tagger: Tagger, body: str
) -> None:
    started = time.monotonic()
    result = tagger.tag({"title": "Synthetic long rule", "body": body})
    assert time.monotonic() - started < 5  # each match walked its sentence: 55 s and 103 s
    assert result.evidence


@pytest.mark.parametrize("unit", ["ABC-", "BIS-2024-"])
def test_a_hyphen_chain_costs_the_identifier_patterns_linear_time(
    tagger: Tagger, unit: str
) -> None:
    chain = unit * (24_000 // len(unit))  # synthetic: a docket or entity name that never ends
    text = f"Additions to the Entity List: {chain} and EPA-R06-RCRA-2022-0653, Synthetic Co., Ltd."
    started = time.monotonic()
    result = tagger.tag({"title": "Entity List additions", "body": text})
    assert time.monotonic() - started < 3  # the patterns backtracked along it: 13 s and 4 s
    assert "RCRA-2022-0653" in values(result, "dockets")


def test_split_text_cuts_at_paragraphs_then_sentences_and_joins_back() -> None:
    from nlp.document import split_text

    text = "a" * 60 + "\n\n" + "b. " * 30 + "c" * 250
    pieces = split_text(text, 100)
    assert "".join(pieces) == text
    assert pieces[0] == "a" * 60 + "\n\n"
    assert all(len(p) <= 100 for p in pieces)
    assert pieces[1].endswith(". ")
    assert split_text("short", 100) == ["short"]


# --- item 9: classes found reading the tags of the 106k abstracts (real titles) --------------


@pytest.mark.parametrize(
    "title",
    [
        "Order Relating to Marjan Caby",  # 2020-01177
        "In the Matter of: Alexander Brazhnikov, Jr., Respondent; Final Decision and Order",
        "In the Matter of: Southwind Airlines, Appellant; Final Decision and Order",  # 2023-22434
        "In the Matters of: Nordic Maritime Pte. Ltd. and Morten Innhaug Respondents; Partial "
        "Remand and Final Denial Order",  # 2020-05600
        "In the Matter of: Dina Zhu, 101 Windsor Chase Drive, Lawrenceville, GA 30043; Order "
        "Relating to Dina Zhu",  # 2023-23571
        "In the Matter of: Shuren Qin, Inmate Number: 01003-138, FCI Allenwood Low, Federal "
        "Correctional Institution, P.O. Box 1000, White Deer, PA 17887;",  # 2023-03420
    ],
)
def test_title_only_bis_orders_without_an_agency_are_enforcement(
    tagger: Tagger, title: str
) -> None:
    assert tagger.tag({"title": title}).tags == ["export_control", "enforcement"]


@pytest.mark.parametrize(
    "title",
    [
        "Shelton W. Barnes, M.D.; Decision and Order",  # 2020-01967, DEA registration
        "Earlean Edwards Dukart, Complainant v. Ocean Star International Inc., d/b/a "
        "International Van Lines, Respondent; Notice of Filing of Complaint",  # 2020-02784, FMC
        "Atomic Safety and Licensing Board Panel; Before the Licensing Board: G. Paul Bollwerk, "
        "III, Chair, Nicholas G. Trikouros, Dr. Craig M. White; In the Matter of: Crow Butte "
        "Resources, Inc. (North Trend Expansion Project); Memorandum and Order (Notice of "
        "Hearing)",  # 2023-28385, NRC licensing board
        "Agency Information Collection Activities; Proposed eCollection eComments Requested; "
        "Application for Permit To Export Controlled Substances, Application for Permit To "
        "Export Controlled Substances for Subsequent Reexport",  # 2023-25323, DEA
    ],
)
def test_other_agencies_orders_and_drug_export_permits_are_not_export_control(
    tagger: Tagger, title: str
) -> None:
    assert tagger.tag({"title": title}).tags == []


def test_ai_as_part_of_a_product_name_does_not_tag_ai(tagger: Tagger) -> None:
    # Real abstract (2020-07729, FMCSA).
    result = tagger.tag(
        {
            "title": "Parts and Accessories Necessary for Safe Operation; Application for an "
            "Exemption From Samsara Networks Inc.",
            "abstract": "The Federal Motor Carrier Safety Administration (FMCSA) requests public "
            "comment on an application for exemption from Samsara Networks Inc. (Samsara) to "
            "allow its AI Dash Cam to be mounted lower in the windshield on commercial motor "
            "vehicles than is currently permitted.",
        }
    )
    assert result.tags == []
    vetoed = [e for e in result.evidence["ai"] if e["effect"] == "suppressed"]
    assert [(e["text"], e["suppressed_by"]) for e in vetoed] == [("AI", "neg.ai.product_name")]


def test_a_grant_priority_citing_an_ai_priority_among_others_is_not_ai(tagger: Tagger) -> None:
    # Real abstract sentence (2025-17960, Education): AI names one of two cited priorities.
    result = tagger.tag(
        {
            "title": "Proposed Priority and Definitions-Secretary's Supplemental Priority and "
            "Definitions on Promoting Patriotic Education",
            "abstract": "This priority and definitions augment other Secretary's Supplemental "
            "Priorities, such as the initial set of three Secretary's Supplemental Priorities on "
            "Evidence-Based Literacy, Educational Choice, and Returning Education to the States "
            "published as final priorities on September 9, 2025, (90 FR 43514) and the "
            "additional Secretary's Supplemental Priority on Artificial Intelligence published "
            "as a proposed priority on July 21, 2025 (90 FR 34203).",
        }
    )
    assert result.tags == []
    vetoed = [e for e in result.evidence["ai"] if e["effect"] == "suppressed"]
    assert {e["suppressed_by"] for e in vetoed} == {"neg.ai.cited_document"}


def test_eccn_0d521_is_ai_software_without_a_title_phrase(tagger: Tagger) -> None:
    result = tag(tagger, "2020-28776")
    assert result.tags[:2] == ["ai", "export_control"]
    assert support(result, "ai")["ctx.eccn.ai_software"]["text"] == "0D521"
