"""`regwatch serve`: pages, JSON API, Atom feed and one walk through it in headless Chromium.

Enters: the 32 real documents of tests/fixtures/archive and five synthetic ones (one with hostile
text: `<script>`, `{{ }}`, a `javascript:` link; one with words of thousands of letters) imported
and tagged into a real archive, a digest file in `digest.output_dir`, the application driven by
Starlette's TestClient — and, for the browser test, served by uvicorn on 127.0.0.1 and driven by
Playwright with Debian's chromium.
Leaves: assertions on status codes, what a person sees, and that hostile text stays text.
"""

from __future__ import annotations

import errno
import html
import json
import os
import re
import socket
import sqlite3
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import feedparser
import pytest
from starlette.testclient import TestClient

from regwatch import steps
from regwatch.config import load_config
from regwatch.inert import ERROR_WIDTH, shorten
from regwatch.web.app import create_app
from tests.browser import chromium_page

FIXTURES = Path(__file__).parent / "fixtures"
HOSTILE = "synthetic-0004"
ATOM = "{http://www.w3.org/2005/Atom}"
UNBROKEN = {  # synthetic: words of thousands of letters, as a source may send
    "document_number": "synthetic-0098",
    "title": f"Synthetic: Unbroken {'W' * 3000}",
    "type": "Notice",
    "publication_date": "2025-01-15",
    "abstract": f"Unbroken abstract https://example.invalid/{'x' * 3000}",
    "agencies": [{"name": f"Agency{'Q' * 500}"}],
}


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("web")
    (root / "regwatch.toml").write_text(
        f'[archive]\nhome = "{root / "home"}"\n[digest]\noutput_dir = "{root / "digests"}"\n'
        '[searches.bis]\nquery = "entity list"\nagencies = ["Industry and Security Bureau"]\n',
        encoding="utf-8",
    )
    loaded = load_config(root / "regwatch.toml", environ={})
    (root / "unbroken.jsonl").write_text(json.dumps(UNBROKEN) + "\n", encoding="utf-8")
    for path in (
        FIXTURES / "archive" / "fr_documents.jsonl",
        FIXTURES / "search" / "synthetic-documents.jsonl",
        root / "unbroken.jsonl",
    ):
        steps.import_file(loaded, str(path))
    steps.tag(loaded)
    (root / "digests").mkdir()
    (root / "digests" / "digest-2025-W10.html").write_text("<p>digest</p>", encoding="utf-8")
    (root / "digests" / "notes.exe").write_text("x", encoding="utf-8")
    return loaded


@pytest.fixture(scope="module")
def client(config):
    with TestClient(create_app(config)) as running:  # runs the lifespan: the reader is closed
        yield running


def assert_inert(text: str) -> None:
    assert "<script>" not in text and "<img" not in text and "javascript:" not in text
    assert "{{ 7*7 }}" in text  # shown as written, never evaluated (timestamps may hold a 49)


def test_search_page_shows_highlighted_results_facets_and_pages(client) -> None:
    page = client.get("/", params={"q": "entity list"})
    assert page.status_code == 200
    assert '<meta name="viewport"' in page.text
    assert "<b>Entity</b> <b>List</b>" in page.text
    assert '<a href="/documents/federal_register/2023-23048">Entity List Additions</a>' in page.text
    assert "<h2>sub-tag</h2>" in page.text and "entity_list</a> (" in page.text
    assert 'rel="next"' not in page.text  # fewer than 20 documents
    more = client.get("/", params={"q": "the", "page": "2"})
    assert 'rel="prev"' in more.text and "documents" in more.text


def test_a_year_facet_link_shows_that_year_only(client) -> None:
    """The year facet linked to `since=YEAR-01-01` alone: "2021 (3)" opened every later year
    too, and beside a `since` already given it added a second one."""
    page = client.get("/", params={"q": "entity", "since": "2021-03-01"})
    years = re.findall(r'<li><a href="/(\?[^"]*)">(\d{4})</a> \((\d+)\)</li>', page.text)
    assert len(years) > 1
    for href, year, count in years:
        query = html.unescape(href)
        assert query.count("since=") == query.count("until=") == 1
        found = client.get("/api/search" + query).json()
        assert found["total"] == int(count), year
        assert {hit["publication_date"][:4] for hit in found["hits"]} == {year}
        assert all(hit["publication_date"] >= "2021-03-01" for hit in found["hits"])


@pytest.mark.parametrize(
    "params",
    [
        {"q": "export"},
        {"q": "", "tag": "export_control"},
        {"q": "", "tag": "ai"},
        {"q": "", "agency": "Industry and Security Bureau"},
        {"q": "", "source": "federal_register", "type": "Rule"},
    ],
)
def test_every_facet_link_finds_what_its_count_says(client, params) -> None:
    """A facet's count is of the documents shown that carry the value. Values of one filter
    widen a search (any of them), so a link adding a second value to a filter already set
    found more documents than the count said (`tag=ai`: export_control (8) opened 167)."""
    page = client.get("/", params=params)
    links = re.findall(r'<li><a href="/(\?[^"]*)">([^<]+)</a> \((\d+)\)</li>', page.text)
    assert links
    for href, value, count in links:
        found = client.get("/api/search" + html.unescape(href)).json()
        assert found["total"] == int(count), (params, value)
    if "tag" in params:  # the tag facet's values are counted, not linked
        assert re.search(r"<li>ai \(\d+\)</li>", page.text)
        assert "tag=export_control&amp;tag=ai" not in page.text


def test_filters_from_the_query_string(client) -> None:
    page = client.get("/", params={"q": "", "eccn": "3A090"})
    assert "1 documents" in page.text and "/documents/federal_register/synthetic-0001" in page.text
    assert "eccn: 3A090 ✕" in page.text
    page = client.get("/", params={"q": "export", "type": "proposed rule", "agency": "BIS"})
    assert "0 documents" in page.text and "No documents match." in page.text


def test_bad_query_is_a_friendly_message(client) -> None:
    page = client.get("/", params={"q": '"entity list'})
    assert page.status_code == 400
    assert 'role="alert">unbalanced quote: close the phrase with a second &#34;</p>' in page.text
    assert client.get("/", params={"q": "x", "since": "yesterday"}).status_code == 400
    page = client.get("/", params={"q": "export", "type": "rules"})
    assert "no stored document has type &#39;rules&#39;; did you mean &#39;Rule&#39;?" in page.text
    api = client.get("/api/search", params={"q": "export", "type": "rules"}).json()
    assert api["notes"] == ["no stored document has type 'rules'; did you mean 'Rule'?"]
    page = client.get("/", params={"q": "export", "country": "Narnia"})
    assert page.status_code == 400 and "unknown country &#39;Narnia&#39;" in page.text
    page = client.get("/", params={"agnecy": "BIS"})  # misspelt: never silently unfiltered
    assert page.status_code == 400 and "unknown parameter &#39;agnecy&#39;" in page.text
    api = client.get("/api/search", params={"q": "export", "agnecy": "BIS"})
    assert api.status_code == 400 and api.json()["error"].startswith(
        "unknown parameter 'agnecy'; the parameters are q, tag, sub_tag, agency,"
    )
    assert client.get("/feed.atom", params={"q": "export", "tags": "ai"}).status_code == 400
    nameless = client.get("/api/search?q=export&=BIS")  # was answered unfiltered
    assert nameless.status_code == 400 and nameless.json()["error"].startswith(
        "unknown parameter ''"
    )
    long = client.get("/api/search", params={"q": "export", "agency": "z" * 60_000}).json()
    assert len(long["notes"][0]) < 300  # the requester's 60,000 characters were echoed whole
    bad_open = client.get("/api/search", params={"q": "export", "open": "yes"})
    assert bad_open.json() == {"error": "open must be 1 (open for comment) or 0, got 'yes'"}
    assert client.get("/api/search", params={"q": "export", "open": "0"}).status_code == 200


@pytest.mark.parametrize("page", ["\u00b2", "\u0663", "9" * 5000, "-1", "0", "501"])
def test_a_page_number_that_is_no_plain_number_is_a_400(client, page) -> None:
    """A superscript two passed `isdigit` and crashed `int` (500), as did 5,000 digits (more
    than Python converts); only ASCII digits are a page, on every route that takes one."""
    message = f"page must be a whole number from 1 to 500, got {page!r}"
    for path in ("/", "/api/search", "/feed.atom"):
        answer = client.get(path, params={"q": "entity", "page": page})
        assert answer.status_code == 400, path
    assert client.get("/api/search", params={"q": "entity", "page": page}).json() == {
        "error": shorten(message, ERROR_WIDTH)
    }


def test_a_bad_page_or_sort_without_a_query_is_a_400_too(client) -> None:
    """`/?page=0` or `/?sort=oldest` alone showed the empty search form with a 200 and not a
    word; the empty form itself (`q=&sort=relevance`, as a click on Search sends it) still is."""
    for params, message in (
        ({"page": "0"}, "page must be a whole number from 1 to 500, got &#39;0&#39;"),
        ({"q": "", "sort": "oldest"}, "sort must be relevance or newest, got &#39;oldest&#39;"),
        ({"sort": ["newest", "relevance"]}, "sort is given 2 times: give it once"),
    ):
        page = client.get("/", params=params)
        assert page.status_code == 400 and f'role="alert">{message}</p>' in page.text, params
    empty = client.get("/", params={"q": "", "sort": "relevance"})
    assert empty.status_code == 200 and 'role="alert"' not in empty.text


def test_a_single_valued_parameter_given_twice_is_a_400(client) -> None:
    """`?since=2025-01-01&since=2020-01-01` searched with the last one alone, dropping the other
    without a word (as `q=export&q=entity`)."""
    for name, values in (("since", ["2025-01-01", "2020-01-01"]), ("q", ["export", "entity"])):
        answer = client.get("/api/search", params={"tag": "ai", name: values})
        assert answer.status_code == 400
        assert answer.json() == {"error": f"{name} is given 2 times: give it once"}


def test_api_search_and_errors(client) -> None:
    answer = client.get("/api/search", params={"q": "entity list", "sub_tag": "entity_list"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["total"] == len(body["hits"]) > 3
    assert all("entity_list" in hit["tags"] for hit in body["hits"])
    assert dict(body["facets"]["source"]) == {"federal_register": body["total"]}
    bad = client.get("/api/search", params={"q": "("})
    assert (bad.status_code, bad.json()) == (400, {"error": "no searchable words in '('"})
    saved = client.get("/api/search", params={"q": "@bis"}).json()
    assert saved["hits"] and all(
        "Industry and Security Bureau" in hit["agencies"] for hit in saved["hits"]
    )


def test_api_document(client) -> None:
    doc = client.get("/api/documents/federal_register/synthetic-0002").json()
    assert doc["source_id"] == "synthetic-0002"
    assert [r["source_id"] for r in doc["related"]] == ["synthetic-0001"]
    missing = client.get("/api/documents/federal_register/nosuch")
    assert (missing.status_code, missing.json()) == (
        404,
        {"error": "no document nosuch from federal_register in the archive"},
    )


def test_an_error_quoting_a_huge_value_is_one_short_line(client) -> None:
    number, word = "9" * 5000, "a" * 3999
    missing = client.get(f"/api/documents/federal_register/{number}").json()["error"]
    assert missing == shorten(
        f"no document {number} from federal_register in the archive", ERROR_WIDTH
    )
    assert len(missing) == ERROR_WIDTH and "…" in missing
    bad = client.get("/api/search", params={"q": word}).json()["error"]
    assert len(bad) == ERROR_WIDTH and bad.startswith("no searchable words in 'aaa")
    page = client.get("/", params={"q": word})
    assert page.status_code == 400
    (message,) = [line for line in page.text.splitlines() if 'role="alert"' in line]
    assert word[:150] in message and word[:300] not in message
    for path in (f"/documents/federal_register/{number}", f"/digests/{number}.html"):
        shown = client.get(path)
        assert shown.status_code == 404
        assert number[:150] in shown.text and number[:300] not in shown.text


def test_document_page(client) -> None:
    page = client.get("/documents/federal_register/synthetic-0001")
    assert page.status_code == 200
    assert "<h1>Synthetic: Revisions to ECCN 3A090.a Advanced Computing Controls</h1>" in page.text
    assert "<dt>eccns</dt><dd>3A090.a</dd>" in page.text
    assert "same RIN 0694-AJ99" in page.text and "first seen" in page.text


def test_hostile_text_stays_text_everywhere(client) -> None:
    pages = [
        client.get("/", params={"q": "hostile"}),
        client.get("/", params={"q": "<script>alert(1)</script> {{ 7*7 }}"}),
        client.get(f"/documents/federal_register/{HOSTILE}"),
        client.get("/feed.atom", params={"q": "hostile"}),
        client.get(f"/api/documents/federal_register/{HOSTILE}"),
    ]
    assert [p.status_code for p in pages] == [200, 400, 200, 200, 200]  # 7*7: not a prefix
    for page in pages[:3]:
        assert_inert(page.text)
        assert "Content-Security-Policy" in page.headers
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; {{ 7*7 }}" in pages[0].text
    assert "{{ config }} {% raw %} &lt;img src=x onerror=alert(1)&gt;" in pages[2].text
    assert "<h2>Links</h2>" not in pages[2].text  # its only link is javascript:
    entry = ET.fromstring(pages[3].content).find(f"{ATOM}entry")
    assert entry.find(f"{ATOM}title").text.startswith("Synthetic: <script>alert('x')</script>")
    assert entry.find(f"{ATOM}link").get("href").endswith("/documents/federal_register/" + HOSTILE)
    assert "<script>" not in pages[3].text  # escaped inside the XML


CONTROLS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufffe\uffff]"
)


def test_bidi_overrides_and_control_characters_from_a_source_reach_no_page(tmp_path) -> None:
    """A right-to-left override in a title reversed the page's `<title>`, its heading and the
    rest of the line ("evil" read "live"); NUL, ESC and C1 characters were written into the HTML
    and the feed. Pages and feeds show the stored letters in their order; the API keeps them."""
    title = "Export controls \u202eevil\u202c on\x00 AI\x1b[31m chips\u2066\x85\uffff\r\nBcc: x"
    record = {
        "document_number": "synthetic-0099",
        "title": title,
        "type": "Rule",
        "publication_date": "2025-06-15",
        "abstract": "Synthetic hostile abstract \u202eraeb\x0c for export controls.",
        "agencies": [{"name": "Bureau\u202e of\x1b[2J Evil"}],
        "html_url": "https://www.federalregister.gov/d/synthetic-0099/\u202egpj.exe",
    }
    (tmp_path / "hostile.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    (tmp_path / "regwatch.toml").write_text(
        f'[archive]\nhome = "{tmp_path / "home"}"\n', encoding="utf-8"
    )
    config = load_config(tmp_path / "regwatch.toml", environ={})
    steps.import_file(config, str(tmp_path / "hostile.jsonl"))
    with TestClient(create_app(config)) as running:
        page = running.get("/documents/federal_register/synthetic-0099")
        found = running.get("/", params={"q": "hostile \u202e"})
        feed = running.get("/feed.atom", params={"q": "hostile \u202e"})
        api = running.get("/api/documents/federal_register/synthetic-0099")
    shown = "Export controls evil on AI chips\nBcc: x"  # a space on the page
    assert f"<title>{shown} – regwatch</title>" in page.text
    assert f"<h1>{shown}</h1>" in page.text and "Bureau of Evil" in page.text
    assert "Synthetic hostile abstract raeb for export controls." in page.text
    assert f">{shown}</a></h2>" in found.text and "Bureau of Evil" in found.text
    assert "<title>hostile  – regwatch search</title>" in found.text
    entry = ET.fromstring(feed.content).find(f"{ATOM}entry")
    assert entry.find(f"{ATOM}title").text == "Export controls evil on AI chips Bcc: x"
    assert ET.fromstring(feed.content).find(f"{ATOM}title").text == "regwatch search: hostile"
    for answer in (page, found, feed):
        assert answer.status_code == 200 and not CONTROLS.search(answer.text)
    assert "gpj.exe" not in page.text  # a link a bidi control would rewrite is no link
    assert api.json()["title"] == title  # stored as received
    assert "\\u202e" in api.text and not CONTROLS.search(api.text)  # and inert on a terminal


def test_feed_for_any_search(client) -> None:
    feed = ET.fromstring(client.get("/feed.atom", params={"q": "@bis", "sort": "newest"}).content)
    entries = feed.findall(f"{ATOM}entry")
    days = [e.find(f"{ATOM}updated").text for e in entries]
    assert entries and days == sorted(days, reverse=True)
    assert client.get("/feed.atom", params={"q": "-x"}).status_code == 400


def test_digest_archive_lists_and_serves_digest_files(client) -> None:
    page = client.get("/digests")
    assert "digest-2025-W10.html" in page.text and "notes.exe" not in page.text
    assert client.get("/digests/digest-2025-W10.html").text == "<p>digest</p>"
    assert client.get("/digests/notes.exe").status_code == 404
    assert client.get("/digests/..%2Fregwatch.toml").status_code == 404


def test_links_in_the_digest_folder_reach_no_file_outside_it(client, config, tmp_path) -> None:
    """A link named like a digest (`digest-x.txt` → /etc/passwd, ~/.ssh/id_rsa) was listed and
    served whole; only what is inside `digest.output_dir` is a digest, links between digests too."""
    folder = Path(config["digest.output_dir"])
    secret = tmp_path / "secret.txt"
    secret.write_text("synthetic private key", encoding="utf-8")
    links = {"digest-evil.txt": secret, "digest-up.md": Path("..") / "regwatch.toml"}
    links["digest-latest.html"] = Path("digest-2025-W10.html")
    for name, target in links.items():
        (folder / name).symlink_to(target)
    try:
        listed = client.get("/digests").text
        assert "digest-latest.html" in listed
        assert "digest-evil.txt" not in listed and "digest-up.md" not in listed
        assert client.get("/digests/digest-latest.html").text == "<p>digest</p>"
        for name in ("digest-evil.txt", "digest-up.md", "%2F" + str(secret).lstrip("/")):
            answer = client.get(f"/digests/{name}")
            assert answer.status_code == 404, name
            assert "synthetic private key" not in answer.text and "[archive]" not in answer.text
    finally:
        for name in links:
            (folder / name).unlink()


def test_a_digest_file_that_cannot_be_read_is_a_503_naming_it(client, config, monkeypatch):
    broken = Path(config["digest.output_dir"]) / "broken.html"
    broken.write_text("<p>digest</p>", encoding="utf-8")

    def fails(path: Path) -> bytes:  # synthetic: a disk whose every read fails (EIO)
        raise OSError(errno.EIO, os.strerror(errno.EIO), str(path))

    monkeypatch.setattr(Path, "read_bytes", fails)
    try:
        answer = client.get("/digests/broken.html")
        assert answer.status_code == 503
        assert "cannot read digest file broken.html: Input/output error" in answer.text
        assert client.get("/digests").status_code == 200
    finally:
        broken.unlink()


def test_a_document_with_a_damaged_cell_is_shown_and_named_on_every_page(tmp_path) -> None:
    """One damaged `agencies` cell (synthetic: a hand edit) made the document page, and every
    search page, API answer and feed holding that document, a 500."""
    (tmp_path / "regwatch.toml").write_text(
        f'[archive]\nhome = "{tmp_path / "home"}"\n', encoding="utf-8"
    )
    config = load_config(tmp_path / "regwatch.toml", environ={})
    steps.import_file(config, str(FIXTURES / "search" / "synthetic-documents.jsonl"))
    with sqlite3.connect(tmp_path / "home" / "regwatch.db") as conn:
        conn.execute("UPDATE publications SET agencies = '{' WHERE source_id = 'synthetic-0001'")
    note = "federal_register synthetic-0001: stored agencies cannot be read (damaged)"
    with TestClient(create_app(config)) as running:
        page = running.get("/documents/federal_register/synthetic-0001")
        api = running.get("/api/documents/federal_register/synthetic-0001")
        found = running.get("/", params={"q": "synthetic"})
        hits = running.get("/api/search", params={"q": "synthetic"}).json()
        feed = running.get("/feed.atom", params={"q": "synthetic"})
    assert page.status_code == 200 and note in page.text and "Revisions to ECCN" in page.text
    assert "importing or crawling the document again rewrites agencies" in page.text
    assert api.json()["damaged"] == ["agencies"] and api.json()["agencies"] == []
    assert found.status_code == 200 and note in found.text and "Revisions to ECCN" in found.text
    assert len(hits["hits"]) == 4 and hits["notes"][0].startswith(note)
    assert feed.status_code == 200 and len(ET.fromstring(feed.content).findall(f"{ATOM}entry")) == 4


@pytest.fixture
def damaged_date(tmp_path):
    """A config whose archive holds synthetic-0001 with its publication date hand-edited to
    2024-02-30, with the other synthetic documents of its rulemaking."""
    (tmp_path / "regwatch.toml").write_text(
        f'[archive]\nhome = "{tmp_path / "home"}"\n', encoding="utf-8"
    )
    config = load_config(tmp_path / "regwatch.toml", environ={})
    steps.import_file(config, str(FIXTURES / "search" / "synthetic-documents.jsonl"))
    with sqlite3.connect(tmp_path / "home" / "regwatch.db") as conn:
        conn.execute(
            "UPDATE publications SET publication_date = '2024-02-30' "
            "WHERE source_id = 'synthetic-0001'"
        )
    return config


def test_a_feed_keeps_every_entry_when_one_stored_date_is_damaged(damaged_date) -> None:
    """One publication date hand-edited to 2024-02-30 made the whole feed a 500: a feed reader lost
    every entry of the search. The entry stays, dated as the newest, its summary naming it."""
    with TestClient(create_app(damaged_date)) as running:
        answer = running.get("/feed.atom", params={"q": "synthetic"})
    assert answer.status_code == 200
    feed = feedparser.parse(answer.content)
    assert not feed.bozo and len(feed.entries) == 4
    (damaged,) = [e for e in feed.entries if e.link.endswith("/synthetic-0001")]
    assert damaged.title.startswith("Synthetic: Revisions to ECCN 3A090.a")
    assert damaged.summary.startswith(
        "federal_register synthetic-0001: stored publication_date '2024-02-30' cannot be read"
    )
    assert damaged.updated == max(e.updated for e in feed.entries) == feed.feed.updated


def test_a_document_page_shows_a_rulemaking_holding_a_damaged_date(damaged_date) -> None:
    """The timeline measured how far apart its documents were published, and one date that is no
    day (hand-edited 2024-02-30) made the page of every document of that rulemaking a 500."""
    with TestClient(create_app(damaged_date)) as running:
        pages = [running.get(f"/documents/federal_register/synthetic-000{n}") for n in (1, 2)]
        api = running.get("/api/documents/federal_register/synthetic-0002")
    assert [page.status_code for page in pages + [api]] == [200, 200, 200]
    assert "<dt>publication date</dt><dd>2024-02-30</dd>" in pages[0].text
    event = '<time datetime="2024-02-30">2024-02-30</time> published as proposed rule'
    assert all(event in page.text for page in pages)
    events = api.json()["timeline"]["events"]
    assert "synthetic-0001" in [e["document"]["source_id"] for e in events]


def test_an_unknown_path_or_a_writing_method_is_answered_in_the_routes_form(client) -> None:
    """`POST /api/search` and a mistyped `/api/document/…` answered plain text ("Method Not
    Allowed", "Not Found") that a JSON client cannot read, and pages a bare line without the site
    around it. The API answers `{"error"}`, pages a message naming what to do; HEAD reads."""
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        api = client.request(method, "/api/search", params={"q": "entity list"})
        assert (api.status_code, api.json()) == (
            405,
            {"error": f"{method} /api/search is refused: regwatch serve only reads (GET or HEAD)"},
        )
        assert set(api.headers["Allow"].split(", ")) == {"GET", "HEAD"}
    page = client.delete("/documents/federal_register/2023-23048")
    assert (
        page.status_code == 405
        and (
            'role="alert">DELETE /documents/federal_register/2023-23048 is refused: regwatch serve '
            "only reads (GET or HEAD)</p>"
        )
        in page.text
    )
    typo = client.get("/api/document/federal_register/2023-23048")
    assert typo.status_code == 404 and typo.json()["error"].startswith(
        "no page /api/document/federal_register/2023-23048: the pages are /, /documents/SOURCE/ID,"
    )
    page = client.get("/search", params={"q": "entity list"})
    assert page.status_code == 404 and 'role="alert">no page /search: the pages are /,' in page.text
    assert '<a href="/">regwatch search</a>' in page.text
    head = client.head("/", params={"q": "entity list"})
    assert head.status_code == 200 and head.headers["content-type"].startswith("text/html")


def test_every_answer_refuses_framing_and_sniffing(config) -> None:
    """The pages could be framed by any site (no `frame-ancestors`: a click on a framed page is
    the attacker's), and the router's 404 and 405 and the Host check's 400 carried no header."""
    with TestClient(create_app(config, host="127.0.0.1"), base_url="http://localhost") as local:
        answers = {
            "page": local.get("/", params={"q": "entity list"}),
            "unknown path": local.get("/nosuch"),
            "POST": local.post("/api/search", params={"q": "entity list"}),
            "other Host": local.get("/", headers={"Host": "rebound.example"}),
        }
    assert [a.status_code for a in answers.values()] == [200, 404, 405, 400]
    for what, answer in answers.items():
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"], what
        assert "script" not in answer.headers["Content-Security-Policy"], what
        assert answer.headers["X-Content-Type-Options"] == "nosniff", what
        assert answer.headers["Referrer-Policy"] == "no-referrer", what


def test_a_fault_of_the_server_is_one_line_in_the_routes_form_with_the_headers(
    config, monkeypatch
) -> None:
    """A fault (none known; one is staged) was Starlette's plain 'Internal Server Error', sent
    outside the middleware adding the security headers."""

    def broken(*args, **kwargs):
        raise RuntimeError("staged fault")

    monkeypatch.setattr(steps, "search", broken)
    app = create_app(config, host="127.0.0.1")
    with TestClient(app, base_url="http://localhost", raise_server_exceptions=False) as local:
        shown = local.get("/", params={"q": "entity list"})
        asked = local.get("/api/search", params={"q": "entity list"})
    assert (shown.status_code, asked.status_code) == (500, 500)
    message = "regwatch serve failed on {}: RuntimeError: staged fault"
    assert message.format("/") in shown.text
    assert asked.json() == {"error": message.format("/api/search")}
    for answer in (shown, asked):
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
        assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_browser_shows_no_page_framed_by_another_site(server) -> None:
    with chromium_page(800, 600) as page:
        page.set_content(f'<iframe src="{server}/?q=entity+list"></iframe>')
        page.wait_for_load_state("load")
        (frame,) = page.main_frame.child_frames
        assert "Entity List" not in frame.content()
        page.goto(server + "/?q=entity+list")  # opened itself, it shows
        assert "Entity List" in page.locator("main").inner_text()


def test_serve_binds_localhost_by_default() -> None:
    from regwatch.cli import serve

    host = next(o for o in serve.params if o.name == "host")
    assert host.default == "127.0.0.1"


def test_served_on_localhost_it_answers_only_requests_naming_localhost(config, monkeypatch):
    """DNS rebinding: a web page whose own name the attacker re-pointed at 127.0.0.1 sent its
    requests with that name as Host and read the archive and its saved searches; `regwatch serve`
    on a loopback address now answers only localhost, 127.0.0.1 and [::1] (any port)."""
    import uvicorn

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app, **options))
    steps.serve(config, "127.0.0.1", 8080)
    query = {"q": "entity list"}
    with TestClient(served["app"], base_url="http://127.0.0.1:8080") as local:
        for name in ("127.0.0.1:8080", "localhost:8080", "LOCALHOST", "[::1]:8080"):
            assert local.get("/api/search", params=query, headers={"Host": name}).status_code == 200
        for name in ("rebound.example:8080", "127.0.0.1.rebound.example", "testserver"):
            refused = local.get("/api/search", params=query, headers={"Host": name})
            assert refused.status_code == 400 and "Entity" not in refused.text, name
    steps.serve(config, "0.0.0.0", 8080)  # served to the network on purpose: any name reaches it
    with TestClient(served["app"]) as anywhere:
        assert anywhere.get("/api/search", params=query).status_code == 200


@pytest.fixture
def server(config):
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    app = uvicorn.Server(uvicorn.Config(create_app(config), log_level="warning"))
    thread = threading.Thread(target=app.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    ready = threading.Event()
    for _ in range(200):
        if app.started:
            ready.set()
            break
        ready.wait(0.05)
    assert app.started
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    app.should_exit = True
    thread.join(10)
    sock.close()


def test_browser_search_filter_and_open_a_document(server) -> None:
    with chromium_page(390, 844) as page:  # a phone
        page.goto(server + "/")
        page.wait_for_function("document.activeElement === document.getElementById('q')")
        page.keyboard.type("entity list")  # the query box has the focus
        page.keyboard.press("Enter")
        page.wait_for_selector("article.hit")
        before = page.locator("section p").first.inner_text()
        first_hit = page.locator("article.hit h2 a").first.bounding_box()
        assert first_hit["y"] + first_hit["height"] <= 844  # results on the first screen
        page.get_by_role("link", name="narrow the results").click()  # the facets, after them
        page.wait_for_url("**#narrow")
        page.get_by_role("link", name="semiconductors", exact=True).click()
        page.wait_for_selector("text=sub_tag: semiconductors ✕")
        after = page.locator("section p").first.inner_text()
        assert int(after.split()[0]) < int(before.split()[0])
        page.locator("article.hit h2 a").first.click()
        page.wait_for_selector("h1")
        assert page.get_by_role("heading", name="Tags").is_visible()
        assert "semiconductors" in page.locator("main").inner_text()
        page.goto(server + "/documents/federal_register/synthetic-0002")
        assert page.get_by_role("heading", name="Timeline").is_visible()
        link = page.locator("ol.timeline a").first  # the proposed rule of the same RIN
        link.focus()
        page.keyboard.press("Enter")
        page.wait_for_url("**/synthetic-0001")
        assert "this document" in page.locator("ol.timeline li.current").first.inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
        page.goto(server + "/?q=hostile")
        assert page.locator("script").count() == 0
        assert "<script>alert('x')</script> {{ 7*7 }}" in page.locator("main").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
        for path in ("/?q=unbroken", "/documents/federal_register/synthetic-0098"):
            page.goto(server + path)  # a word of 3,000 letters made the page 58,000 px wide
            assert page.get_by_text("Synthetic: Unbroken WWW").first.is_visible()
            assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1, path


def test_a_home_without_an_archive_is_a_503_never_no_matches(tmp_path):
    """A mistyped home: the page says there is no archive there (and creates none)."""
    (tmp_path / "regwatch.toml").write_text(
        f'[archive]\nhome = "{tmp_path / "mistyped"}"\n', encoding="utf-8"
    )
    with TestClient(create_app(load_config(tmp_path / "regwatch.toml", environ={}))) as running:
        answer = running.get("/", params={"q": "entity list"})
        api = running.get("/api/search", params={"q": "entity list"})
    assert answer.status_code == 503 and "no archive at" in answer.text
    assert api.status_code == 503 and "no archive at" in api.json()["error"]
    assert not (tmp_path / "mistyped").exists()


def test_an_index_moved_away_under_the_server_is_named_with_its_remedy(tmp_path):
    """The index moved away (or rebuilt) under a running server: the search answered with the
    engine's "Failed to acquire Lockfile: IoError(…)" and no remedy, and after a document page
    reopened the reader without it, one more search failed once the index was back."""
    (tmp_path / "regwatch.toml").write_text(
        f'[archive]\nhome = "{tmp_path / "home"}"\n', encoding="utf-8"
    )
    config = load_config(tmp_path / "regwatch.toml", environ={})
    steps.import_file(config, str(FIXTURES / "search" / "synthetic-documents.jsonl"))
    index, away = tmp_path / "home" / "index", tmp_path / "index.away"
    with TestClient(create_app(config)) as running:
        assert running.get("/api/search", params={"q": "synthetic"}).status_code == 200
        index.rename(away)
        api = running.get("/api/search", params={"q": "synthetic"})
        assert api.status_code == 503
        assert api.json()["error"] == f"search index {index} is missing; run `regwatch reindex`"
        assert running.get("/documents/federal_register/synthetic-0001").status_code == 200
        away.rename(index)
        assert running.get("/api/search", params={"q": "synthetic"}).json()["total"] == 4
