"""The replay server answers like the Federal Register API the spider relies on.

Real local server on 127.0.0.1, real HTTP; bodies compared with the verbatim recordings where the
API's exact bytes are known.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import urllib.error
import urllib.request
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from tests.conftest import REPLAY_DIR

FR_DIR = REPLAY_DIR / "federal_register"


def dates(first: str, last: str) -> str:
    """The spider's date conditions, percent-encoded as it sends them."""
    return urlencode(
        {"conditions[publication_date][gte]": first, "conditions[publication_date][lte]": last}
    )


OCT = dates("2023-10-01", "2023-10-31")


def get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url) as response:
            return response.status, response.read(), response.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers["Content-Type"]


def get_json(url: str) -> dict:
    status, body, _ = get(url)
    assert status == 200, body
    return json.loads(body)


def store_count(first: str, last: str) -> int:
    with gzip.open(FR_DIR / "store.jsonl.gz", "rt", encoding="utf-8") as lines:
        return sum(first <= json.loads(line)["publication_date"] <= last for line in lines)


def decode_cursor(token: str) -> list:
    return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


def test_recorded_samples_are_the_verbatim_captures():
    for line in (FR_DIR / "recorded" / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        data = (FR_DIR / "recorded" / name.lstrip("*")).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, name


def test_month_query_envelope_key_order_count_and_compact_json(replay_server):
    status, body, kind = get(f"{replay_server}documents.json?{OCT}&per_page=1000&order=oldest")
    data = json.loads(body)
    assert (status, kind) == (200, "application/json; charset=utf-8")
    assert list(data) == ["description", "count", "total_pages", "next_page_url", "results"]
    assert data["description"] == "Documents published from 10/01/2023 to 10/31/2023"
    assert data["count"] == store_count("2023-10-01", "2023-10-31") > 1000
    assert data["total_pages"] == 3
    assert len(data["results"]) == 1000
    assert b", " not in body[:200] and b'":' in body


def test_count_clamps_at_10000_and_total_pages_at_50(replay_server):
    query = dates("2023-07-01", "2023-12-31")
    assert store_count("2023-07-01", "2023-12-31") > 10000
    data = get_json(f"{replay_server}documents.json?{query}&per_page=2")
    assert (data["count"], data["total_pages"]) == (10000, 50)


def test_zero_results_body_has_no_total_pages_or_results(replay_server):
    query = dates("2023-10-01", "2023-10-01")
    status, body, _ = get(f"{replay_server}documents.json?{query}")
    assert status == 200
    assert body == b'{"description":"Documents published from 10/01/2023 to 10/01/2023","count":0}'


def test_unknown_field_gets_the_real_400_body(replay_server):
    url = f"{replay_server}documents.json?fields[]=document_number&fields[]=nonexistent_example"
    status, body, _ = get(url)
    assert status == 400
    assert body == (FR_DIR / "recorded" / "fields-unknown.json").read_bytes()


def test_bad_cursor_gets_the_real_400_body(replay_server):
    status, body, _ = get(f"{replay_server}documents?search_after_cursor=invalid&format=json")
    assert status == 400
    assert body == (FR_DIR / "recorded" / "invalid-cursor.json").read_bytes()


def test_per_page_outside_2_to_2000_silently_becomes_20_but_the_link_keeps_it(replay_server):
    data = get_json(f"{replay_server}documents.json?per_page=1&fields[]=title")
    assert len(data["results"]) == 20
    assert set(data["results"][0]) == {"title"}
    assert "per_page=1&" in data["next_page_url"]


def test_next_page_url_is_the_real_format_on_the_replay_host(replay_server):
    data = get_json(
        f"{replay_server}documents.json?{OCT}&per_page=100&order=oldest&fields[]=document_number"
    )
    link = urlsplit(data["next_page_url"])
    pairs = parse_qsl(link.query)
    assert f"{link.scheme}://{link.netloc}/" == replay_server.removesuffix("api/v1/")
    assert link.path == "/api/v1/documents"
    assert [k for k, _ in pairs] == sorted(k for k, _ in pairs)
    assert ("format", "json") in pairs and ("page", "2") in pairs
    cursor = decode_cursor(dict(pairs)["search_after_cursor"])
    last = data["results"][-1]["document_number"]
    assert cursor == [1696204800000, last]  # 2023-10-02 00:00 UTC, the last row of page 1


def test_following_next_page_urls_walks_every_document_once(replay_server):
    url = f"{replay_server}documents.json?{OCT}&per_page=1000&order=oldest&fields[]=document_number"
    seen, pages = [], 0
    while url:
        data = get_json(url)
        seen += [r["document_number"] for r in data["results"]]
        url, pages = data.get("next_page_url"), pages + 1
    assert pages == 3
    assert len(seen) == len(set(seen)) == store_count("2023-10-01", "2023-10-31")


def test_page_two_carries_previous_page_url_with_the_incoming_cursor(replay_server):
    first = get_json(f"{replay_server}documents.json?{OCT}&per_page=50&order=newest")
    second = get_json(first["next_page_url"])
    assert list(second)[:5] == [
        "description",
        "count",
        "total_pages",
        "next_page_url",
        "previous_page_url",
    ]
    token = dict(parse_qsl(urlsplit(first["next_page_url"]).query))["search_after_cursor"]
    assert f"page=1&per_page=50&search_after_cursor={token}" in second["previous_page_url"]
    assert second["results"][0]["publication_date"] <= first["results"][-1]["publication_date"]


def test_page_beyond_the_10000_window_is_a_synthetic_400(replay_server):
    status, body, _ = get(f"{replay_server}documents.json?page=11&per_page=1000")
    assert status == 400
    assert b"synthetic" in body


def test_verbatim_sample_documents_are_served_with_their_recorded_values(replay_server):
    recorded = json.loads((FR_DIR / "recorded" / "regulatory-document.json").read_text())
    query = "conditions%5Bpublication_date%5D%5Bis%5D=2024-12-31&per_page=100"
    fields = "&".join(f"fields[]={f}" for f in ("document_number", "docket_ids", "cfr_references"))
    data = get_json(f"{replay_server}documents.json?{query}&{fields}")
    served = {r["document_number"]: r for r in data["results"]}["2024-31396"]
    assert served == {k: recorded[k] for k in ("document_number", "docket_ids", "cfr_references")}


@pytest.mark.parametrize("replay_server", ["first-500"], indirect=True)
def test_scenario_answers_the_first_request_with_500_then_normally(replay_server):
    url = f"{replay_server}documents.json?{OCT}"
    assert get(url)[:2] == (500, b'{"status":500,"message":"Internal Server Error"}')
    assert get(url)[0] == 200


@pytest.mark.parametrize("replay_server", ["access-wall"], indirect=True)
def test_scenario_serves_the_html_wall_with_http_200(replay_server):
    status, body, kind = get(f"{replay_server}documents.json?{OCT}")
    assert (status, kind) == (200, "text/html; charset=utf-8")
    assert b"<title>Federal Register :: Request Access</title>" in body


def test_scenario_overrides_serve_a_corrected_document(replay):
    plain, corrected = replay(), replay("corrected-document")
    query = "documents.json?conditions%5Bpublication_date%5D%5Bis%5D=2023-10-25&per_page=500"

    def abstract(server) -> str:
        rows = get_json(server.url + query)["results"]
        return {r["document_number"]: r for r in rows}["2023-23055"]["abstract"]

    assert "SYNTHETIC CORRECTION" not in abstract(plain)
    assert abstract(corrected).startswith(abstract(plain))
    assert abstract(corrected).endswith(
        "[SYNTHETIC CORRECTION: replay test of a changed document.]"
    )
