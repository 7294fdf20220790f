"""The boundary every record crosses (crawl and import): typed, or rejected with the reason.

Records come from the real recording `search-all-fields-page-one.json`, then one field at a time
is given a type a hostile or broken source could send.
"""

import json

import pytest

from crawlers.items import Rejected
from crawlers.normalize import publication_from_fr
from crawlers.spiders.federal_register import FederalRegisterSpider
from replay.server import RECORDINGS

PAGE = RECORDINGS / "federal_register" / "recorded" / "search-all-fields-page-one.json"
REAL = json.loads(PAGE.read_text(encoding="utf-8"))["results"]


def test_every_real_record_normalises_to_its_declared_types():
    for record in REAL:
        pub = publication_from_fr(record)
        assert all(isinstance(getattr(pub, n), str) for n in ("source_id", "title"))
        assert all(isinstance(a, dict) for a in pub.agencies)
        assert all(isinstance(c["title"], int) for c in pub.cfr_references if c.get("title"))
        assert all(isinstance(c["part"], str) for c in pub.cfr_references if c.get("part"))
        assert all(isinstance(v, str) for n in ("topics", "docket_ids") for v in getattr(pub, n))


def test_whole_numbers_become_text_and_cfr_titles_numbers():
    record = {
        **REAL[0],
        "title": 1984,
        "docket_ids": [17, None, " ", " BIS-2024-1 "],
        "cfr_references": [{"title": "15", "part": 744}],
    }
    pub = publication_from_fr(record)
    assert pub.title == "1984"
    assert pub.docket_ids == ["17", "BIS-2024-1"]
    assert pub.cfr_references == [{"title": 15, "part": "744"}]
    assert pub.raw["title"] == 1984  # the record as received stays for audit


TEXT = "must be text or a whole number, got"
DATE = "is not an ISO date (YYYY-MM-DD):"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"title": True}, f"title {TEXT} boolean"),
        ({"title": 1.5}, f"title {TEXT} number"),
        ({"abstract": {"text": "x"}}, f"abstract {TEXT} object"),
        ({"document_number": ["2024-1"]}, f"document_number {TEXT} list"),
        ({"agencies": "Commerce Department"}, "agencies must be a list, got string"),
        ({"agencies": [None]}, "agencies[0] must be an object, got null"),
        ({"agencies": [{"name": ["x"]}]}, f"agencies[0].name {TEXT} list"),
        ({"topics": "Exports"}, "topics must be a list, got string"),
        ({"topics": ["ok", {"a": 1}]}, f"topics[1] {TEXT} object"),
        (
            {"cfr_references": [{"title": "XV", "part": "744"}]},
            "cfr_references[0].title must be a whole number, got 'XV'",
        ),
        ({"cfr_references": {"title": 15}}, "cfr_references must be a list, got object"),
        ({"publication_date": "2024-W01-1"}, f"publication_date {DATE} '2024-W01-1'"),
        ({"effective_on": "20240101"}, f"effective_on {DATE} '20240101'"),
        ({"comments_close_on": 20240101}, f"comments_close_on {DATE} '20240101'"),
        ({"title": "   "}, "missing title"),
        (
            {"document_number": "2024-1\n0 rejected"},
            "document_number holds spaces or control characters: '2024-1\\n0 rejected'",
        ),
        (
            {"document_number": "2024-\u202e1"},
            "document_number holds spaces or control characters: '2024-\\u202e1'",
        ),
        (
            {"document_number": "2024 1"},
            "document_number holds spaces or control characters: '2024 1'",
        ),
    ],
)
def test_a_field_of_the_wrong_type_rejects_the_record_naming_it(change, reason):
    with pytest.raises(ValueError) as error:
        publication_from_fr({**REAL[0], **change})
    assert str(error.value) == reason


def test_the_spider_rejects_a_poisoned_record_with_its_document_number():
    spider = FederalRegisterSpider(since="2024-12-31", until="2024-12-31")
    item = spider.item({**REAL[0], "agencies": "BIS"})
    reason = "agencies must be a list, got string"
    assert item == Rejected("federal_register", REAL[0]["document_number"], reason)
    assert spider.item(REAL[1]).source_id == REAL[1]["document_number"]


def test_null_in_every_field_the_api_may_send_is_read_as_no_value():
    api = json.loads((RECORDINGS / "federal_register" / "api.json").read_text())
    record = {name: None for name in api["allowed_fields"]}
    record.update(document_number="2026-17231", title="Revisions to the Entity List")
    record.update(publication_date="2026-08-24", agencies=[{"raw_name": None, "name": None}])
    record.update(cfr_references=[{"title": None, "part": None}], topics=[None, "Exports"])
    pub = publication_from_fr(record)
    assert (pub.abstract, pub.type, pub.url, pub.effective_on, pub.body_text) == (None,) * 5
    assert pub.agencies == [{"raw_name": None, "name": None}]
    assert pub.cfr_references == [{"title": None, "part": None}]
    assert (pub.topics, pub.docket_ids, pub.family) == (["Exports"], [], "fr:2026-17231")
