"""Every kind of replay response holds the keys and JSON value types of the recorded real one.

Kinds: a search with every `fields[]`, a search without `fields[]` (the default field set), a
search without results, public inspection's `current.json` and `available_on` issue (with and
without an issue), and a raw full text. Values may differ (other documents): each value has a
type some recorded document gives that key, or null where those are nulls or scalars (the API
sends null for a document without that value), never null where they are lists or objects.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from tests.conftest import REPLAY_DIR
from tests.test_replay import get

RECORDED = REPLAY_DIR / "federal_register" / "recorded"
SCALARS = {"string", "number", "boolean", "null"}


def kind(value) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def real(name: str) -> dict:
    return json.loads((RECORDED / name).read_text(encoding="utf-8"))


def recorded_documents() -> list[dict]:
    """Every document the recordings hold, search results and single documents alike."""
    found = [real(n) for n in ("current-document.json", "regulatory-document.json")]
    found += [real("rin-significant-document.json")]
    for name in ("search-all-fields-page-one.json", "search-newest-page-one.json"):
        found += real(name)["results"]
    return found


def assert_results_like(served: list[dict], recorded: list[dict]) -> None:
    """Same keys as `recorded`; each value of a type some recorded document gives that key."""
    assert served, "the replay served no results to compare"
    keys = set(recorded[0])
    examples = [*recorded, *recorded_documents()]
    allowed = {key: {kind(r[key]) for r in examples if key in r} for key in keys}
    for result in served:
        assert set(result) == keys, set(result) ^ keys
        for key, value in result.items():
            types = allowed[key] | ({"null"} if allowed[key] <= SCALARS else set())
            assert kind(value) in types, (key, value)


def assert_envelope_like(served: dict, recorded: dict) -> None:
    """The recorded keys in the recorded order; paging links only where there are more pages."""
    paging = {"next_page_url", "previous_page_url"}
    assert [k for k in served if k not in paging] == [k for k in recorded if k not in paging]


def test_a_search_with_every_field_gives_every_key_with_the_real_types(replay_server):
    recorded = real("search-all-fields-page-one.json")
    fields = sorted(recorded["results"][0])
    query = urlencode(
        [("conditions[publication_date][gte]", "2026-08-01"), ("per_page", "50")]
        + [("fields[]", name) for name in [*fields, "explanation"]]
    )
    status, body, _ = get(f"{replay_server}documents.json?{query}")
    served = json.loads(body)
    assert status == 200
    assert_envelope_like(served, recorded)
    assert_results_like(served["results"], recorded["results"])
    assert all("explanation" not in r for r in served["results"])  # accepted, silently omitted


def test_a_search_without_fields_gives_the_default_set_in_the_real_order(replay_server):
    recorded = real("search-newest-page-one.json")
    query = urlencode([("conditions[publication_date][gte]", "2026-08-01"), ("per_page", "50")])
    served = json.loads(get(f"{replay_server}documents.json?{query}")[1])
    assert_envelope_like(served, recorded)
    assert_results_like(served["results"], recorded["results"])
    assert all(list(r) == list(recorded["results"][0]) for r in served["results"])


def test_a_search_without_results_has_the_real_keys(replay_server):
    recorded = real("search-terminal.json")
    query = urlencode([("conditions[publication_date][is]", "2026-12-25")])
    served = json.loads(get(f"{replay_server}documents.json?{query}")[1])
    assert list(served) == list(recorded) and served["count"] == 0


@pytest.mark.parametrize(
    "path",
    [
        "public-inspection-documents/current.json",
        "public-inspection-documents.json?conditions%5Bavailable_on%5D=2026-09-29",
    ],
)
def test_public_inspection_issues_hold_the_real_result_shape(replay_server, path):
    status, body, kind_ = get(replay_server + path)
    served = json.loads(body)
    assert (status, kind_) == (200, "application/json; charset=utf-8")
    assert list(served) == [
        "count",
        "results",
        "special_filings_updated_at",
        "regular_filings_updated_at",
    ]
    assert served["count"] == len(served["results"]) == 3
    assert_results_like(served["results"], real("pi-search.json")["results"])
    assert {r["filing_type"] for r in served["results"]} == {"regular", "special"}


def test_a_date_without_an_issue_is_the_recorded_body(replay_server):
    path = "public-inspection-documents.json?conditions%5Bavailable_on%5D=2024-12-29"
    status, body, _ = get(replay_server + path)
    assert (status, body) == (200, (RECORDED / "pi-available-on-no-issue.json").read_bytes())


def test_a_raw_text_is_served_as_recorded_and_a_missing_one_is_a_404_page(replay_server):
    host = replay_server.removesuffix("api/v1/")
    status, body, kind_ = get(f"{host}documents/full_text/text/1994/01/03/93-32104.txt")
    assert (status, kind_) == (200, "text/plain")
    assert body == (RECORDED / "raw-text-93-32104.txt").read_bytes()
    status, body, kind_ = get(f"{host}documents/full_text/html/1994/01/03/93-32104.html")
    assert (status, kind_) == (404, "text/html; charset=utf-8") and b"synthetic" in body
