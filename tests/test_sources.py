"""The BIS and NTIA crawlers: page extraction on the synthetic pages wrapping real release text,
then each spider through Scrapy against the site replays (`replay.sites`) with rows read back from
a real archive: first crawl, an unchanged re-crawl (conditional requests, nothing written), a new
item, a changed item, a malformed feed, a page without metadata, a refused connection, and the
cross-link from a release to the Federal Register rule it names, shown by `regwatch search`.
"""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from scrapy import Request
from scrapy.http import HtmlResponse, TextResponse
from scrapy.utils.test import get_crawler

from archive import Archive, Publication
from archive.db import stamp
from crawlers.crosslinks import link_releases
from crawlers.normalize import publication_from_fr
from crawlers.outcome import errors
from crawlers.pages import extract_page
from crawlers.references import references, title_match
from crawlers.run import CrawlResult, crawl
from crawlers.sources import source_spec
from crawlers.spiders.bis import BisSpider
from crawlers.spiders.ntia import NtiaSpider
from digests.chat import message
from digests.items import item
from regwatch.cli import main
from replay.sites import SiteServer, serve_site
from tests.conftest import REPLAY_DIR

CONTACT = "crawler-tests@example.org"
FAST = {"DOWNLOAD_DELAY": 0, "RETRY_BACKOFF_BASE": 0.001, "RETRY_TIMES": 1}
BIS = "https://www.bis.gov/press-release/"
FEB = BIS + "commerce-makes-additions-entity-list-supporting-online-censorship-and-surveillance"
APR = BIS + "commerce-adds-11-entities-entity-list-supporting-prc-military-modernization-and"
NEW = BIS + "synthetic-revisions-entity-list"
NTIA = "https://www.ntia.gov/"
BEAD = NTIA + "blog/2026/synthetic-ntia-hears-public-how-best-use-bead-savings"
ITS = NTIA + "blog/2026/synthetic-clarity-through-clutter-its-workshop"
FIRSTNET = NTIA + "press-release/2020/synthetic-firstnet-authority-board-chair"
TRIMMED = REPLAY_DIR / "federal_register/recorded/third_party_trimmed"


@pytest.fixture
def site() -> Iterator[Callable[..., SiteServer]]:
    """`site(name, scenario=None)` starts a site replay on a free port; all stop at teardown."""
    servers: list[SiteServer] = []

    def start(name: str, scenario: str | None = None) -> SiteServer:
        servers.append(serve_site(name, scenario=scenario))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def run(home: Path, source: str, base_url: str) -> CrawlResult:
    return crawl(home, source=source, base_url=base_url, contact=CONTACT, settings=FAST)


def rows(home: Path, source: str) -> dict[str, dict]:
    with Archive.open(home) as archive:
        return {r["source_id"]: r for r in archive.publications() if r["source"] == source}


def serving(path: str, file: str, kind: str) -> dict:
    """A scenario answering `path` with the site's `file` (HTTP 200, Content-Type `kind`)."""
    headers = {"Content-Type": f"{kind}; charset=utf-8"}
    return {"routes": [{"path": path, "status": 200, "file": file, "headers": headers}]}


def counts(result: CrawlResult) -> tuple[int, int, int]:
    return result.inserted, result.updated, result.unchanged


# Extraction on the synthetic pages (real release text, see replay/recordings/bis/PROVENANCE.md).


def page(name: str, url: str):
    html = (REPLAY_DIR / "bis" / name).read_text(encoding="utf-8")
    return extract_page(html, url, 200_000)


def test_release_with_metadata_takes_title_and_date_from_it():
    found = page("synthetic-press-release-2024-02-26.html", FEB)
    assert found.title.startswith("Commerce Makes Additions to Entity List for Supporting Online")
    assert found.date == "2024-02-26"
    assert found.description.startswith("WASHINGTON, D.C. – Today, the Commerce Department’s")
    assert found.text.startswith("WASHINGTON, D.C. – Today, the Commerce Department’s Bureau")
    assert "Skip to main content" not in found.text


def test_release_without_metadata_falls_back_to_the_release_line_never_the_banner():
    found = page("synthetic-press-release-2024-04-11-no-metadata.html", APR)
    assert found.title == (
        "Commerce Adds 11 Entities to the Entity List for Supporting PRC Military Modernization"
        " and Providing Support to Russia’s Military"
    )
    assert found.date == "2024-04-11"  # from "FOR IMMEDIATE RELEASE | Thursday, April 11, 2024 |"
    assert found.description is None
    assert found.text.startswith("WASHINGTON, D.C. – The U.S. Commerce Department’s Bureau")


def test_a_page_with_neither_metadata_nor_release_line_has_no_date():
    found = extract_page("<html><body><h1>Hello</h1><p>Some text here.</p></body></html>", NEW, 99)
    assert found.date is None


def test_references_in_release_text():
    text = (
        "The rule (Federal Register document 2024-12345, correction C1-2026-16628) appears at"
        " 89 FR 12345 under RIN 0694-AJ90; call 202-482-4883 by 2024-01-15."
    )
    found = references(text)
    assert found.document_numbers == ("2024-12345", "C1-2026-16628")
    assert found.citations == ("89 FR 12345",)
    assert found.rins == ("0694-AJ90",)
    assert not references("WASHINGTON, D.C. – Today, BIS added two entities (2024).")


def test_title_match_only_for_nearly_the_same_title():
    candidates = [(1, "Revisions to the Entity List"), (2, "Removal From the Entity List")]
    assert title_match("Revisions to the Entity List", candidates) == (1, 100.0)
    assert title_match("Commerce Adds 11 Entities to the Entity List", candidates) is None


# BIS through Scrapy against the bis.gov replay.


def test_bis_first_crawl_stores_every_listed_release_and_nothing_off_the_site(tmp_path, site):
    server = site("bis")
    result = run(tmp_path, "bis", server.url)
    assert result.ok, result.error
    assert counts(result) == (2, 0, 0)
    assert sorted(server.requests) == sorted(
        [
            "/robots.txt",
            "/news-updates",
            FEB.removeprefix("https://www.bis.gov"),
            APR.removeprefix("https://www.bis.gov"),
        ]
    )
    stored = rows(tmp_path, "bis")
    assert set(stored) == {FEB, APR}
    release = stored[APR]
    assert (release["publication_date"], release["type"], release["url"]) == (
        "2024-04-11",
        "Press Release",
        APR,
    )
    assert release["agencies"][0]["slug"] == "industry-and-security-bureau"
    assert "Shahed-series UAVs" in release["body_text"]
    assert stored[FEB]["title"].startswith("Commerce Makes Additions to Entity List")


def test_bis_unchanged_recrawl_is_conditional_and_writes_nothing(tmp_path, site):
    server = site("bis")
    run(tmp_path, "bis", server.url)
    before = rows(tmp_path, "bis")
    server.requests.clear()
    result = run(tmp_path, "bis", server.url)
    assert result.ok, result.error
    assert counts(result) == (0, 0, 0)
    assert server.requests == ["/robots.txt", "/news-updates"]  # 304: no page asked again
    assert server.conditional == ["/news-updates"]
    assert rows(tmp_path, "bis") == before


def test_bis_changed_release_is_updated_in_place(tmp_path, site):
    run(tmp_path, "bis", site("bis").url)
    result = run(tmp_path, "bis", site("bis", "changed-item").url)
    assert result.ok, result.error
    assert counts(result) == (0, 1, 0)  # the unchanged release answered 304
    changed = rows(tmp_path, "bis")[FEB]
    assert changed["version"] == 2
    assert "Synthetic paragraph for the changed-item test" in changed["body_text"]


def test_bis_new_release_is_linked_to_the_rule_it_names_and_search_shows_it(
    tmp_path, site, monkeypatch
):
    records = json.loads((TRIMMED / "fr-bis-documents-trimmed-2026-10-02.json").read_text())
    with Archive.open(tmp_path) as archive:
        archive.store([publication_from_fr(r) for r in records])
    run(tmp_path, "bis", site("bis").url)
    result = run(tmp_path, "bis", site("bis", "new-item").url)
    assert result.ok, result.error
    assert counts(result) == (1, 0, 0)
    with Archive.open(tmp_path) as archive:
        by_id = {r["source_id"]: r for r in archive.publications()}
    assert [(r["source_id"], r["kind"]) for r in by_id[NEW]["related"]] == [
        ("2026-17231", "document_number")
    ]
    assert [r["source_id"] for r in by_id["2026-17231"]["related"]] == [NEW]
    assert by_id[FEB]["related"] == []  # names no document, and no title is alike

    monkeypatch.setenv("REGWATCH_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    found = CliRunner().invoke(main, ["search", "Revisions Entity List", "--format", "json"])
    assert found.exit_code == 0, found.output
    hits = {hit["source_id"]: hit for hit in json.loads(found.output)}
    assert hits["2026-17231"]["related"][0]["source_id"] == NEW
    assert hits[NEW]["related"][0]["title"] == "Revisions to the Entity List"
    shown = CliRunner().invoke(main, ["show", "2026-17231", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    linked = [r for r in json.loads(shown.output)["related"] if r["source_id"] == NEW]
    assert [r["why"] for r in linked] == [["linked: a press release and the document it names"]]


def test_digest_item_and_chat_message_show_the_related_document():
    pub = {
        "id": 1,
        "version": 1,
        "source_id": NEW,
        "title": "Commerce Revises the Entity List (synthetic release)",
        "url": NEW,
        "publication_date": "2026-08-24",
        "related": [
            {
                "source": "federal_register",
                "source_id": "2026-17231",
                "title": "Revisions to the Entity List",
                "publication_date": "2026-08-24",
                "url": "javascript:alert(1)",
                "kind": "document_number",
            }
        ],
    }
    shown = item(pub).related[0]
    assert (shown.title, shown.url, shown.source_id) == (
        "Revisions to the Entity List",
        None,
        "2026-17231",
    )
    text = message({"title": pub["title"], "related": pub["related"]})
    assert "Related: Revisions to the Entity List" in text


# NTIA through Scrapy against the ntia.gov replay.


def test_ntia_first_crawl_then_unchanged_recrawl(tmp_path, site):
    server = site("ntia")
    result = run(tmp_path, "ntia", server.url)
    assert result.ok, result.error
    assert counts(result) == (3, 0, 0)
    stored = rows(tmp_path, "ntia")
    no_link = [key for key in stored if key.startswith("sha256:")]
    assert set(stored) == {BEAD, ITS, *no_link} and len(no_link) == 1
    bead = stored[BEAD]
    assert (bead["publication_date"], bead["type"]) == ("2026-02-13", "Blog")
    assert bead["abstract"].startswith("It was full steam ahead for the BEAD program")
    assert "approved 50 out of 56 BEAD Final Proposals" in bead["body_text"]
    assert "enable JavaScript" not in bead["body_text"]
    assert stored[no_link[0]]["body_text"] is None

    server.requests.clear()
    again = run(tmp_path, "ntia", server.url)
    assert again.ok, again.error
    assert counts(again) == (0, 0, 0)
    assert server.requests == ["/robots.txt", "/rss.xml"]
    assert rows(tmp_path, "ntia") == stored


def test_ntia_new_and_changed_items(tmp_path, site):
    run(tmp_path, "ntia", site("ntia").url)
    added = run(tmp_path, "ntia", site("ntia", "new-item").url)
    assert added.ok, added.error
    assert added.inserted == 1 and added.updated == 0
    firstnet = rows(tmp_path, "ntia")[FIRSTNET]
    assert (firstnet["type"], firstnet["publication_date"]) == ("Press Release", "2020-08-17")
    changed = run(tmp_path, "ntia", site("ntia", "changed-item").url)
    assert changed.ok, changed.error
    assert changed.updated == 1 and changed.inserted == 0
    bead = rows(tmp_path, "ntia")[BEAD]
    assert bead["version"] == 2 and "$21 billion in BEAD savings" in bead["body_text"]


def test_ntia_malformed_feed_fails_loudly_keeps_what_parsed_and_deletes_nothing(
    tmp_path, site, monkeypatch
):
    run(tmp_path, "ntia", site("ntia").url)
    before = rows(tmp_path, "ntia")
    server = site("ntia", "malformed-feed")
    monkeypatch.setenv("REGWATCH_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["crawl", "--source", "ntia", "--base-url", server.url])
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith(f"Error: crawl of ntia failed: {server.url}rss.xml: malformed feed (")
    assert "kept the 3 entries that parsed, deleted nothing" in last
    after = rows(tmp_path, "ntia")
    assert set(before) < set(after) and FIRSTNET in after  # the whole new item is kept
    assert after[ITS] == before[ITS]
    with Archive.open(tmp_path) as archive:
        assert archive.validators("ntia", 1)[NTIA + "rss.xml"][0] == '"ntia-rss-1"'  # not moved


def test_ntia_feed_listing_no_item_fails_in_one_line(tmp_path, site):
    """SYNTHETIC: the feed is well-formed RSS holding no item (the feed broke or moved)."""
    server = site("ntia", serving("/rss.xml", "synthetic-rss-empty.xml", "application/rss+xml"))
    result = run(tmp_path, "ntia", server.url)
    assert not result.ok
    assert result.error == f"{server.url}rss.xml: the feed lists no item (has the site changed?)"
    with Archive.open(tmp_path, readonly=True) as archive:
        assert archive.watermark("ntia") is None


@pytest.mark.parametrize(
    ("file", "problem"),
    [
        (
            "synthetic-not-a-feed.html",
            "the site served its wall ('you need to enable JavaScript to visit this website')"
            " instead of the page",
        ),
        (
            "synthetic-page-not-found.html",
            "the site answered with its 'Page not found' page, not the page",
        ),
    ],
)
def test_ntia_post_answered_by_a_page_that_is_not_it_keeps_the_feed_part_and_fails_naming_it(
    tmp_path, site, file, problem
):
    """SYNTHETIC: the BEAD post answers HTTP 200 with the page of the JavaScript banner alone (the
    wall ntia.md reports), or with Drupal's "Page not found" page (a soft 404: the post taken down
    or moved, whose text was stored as the post's, the crawl ok): its feed part is kept, the page's
    text is not its body."""
    path = BEAD.removeprefix("https://www.ntia.gov")
    server = site("ntia", serving(path, file, "text/html"))
    result = run(tmp_path, "ntia", server.url)
    assert not result.ok
    assert result.error == f"{server.url}{path[1:]}: {problem}"
    bead = rows(tmp_path, "ntia")[BEAD]
    assert bead["title"] == "NTIA Hears from the Public on How to Best Use BEAD Savings"
    assert bead["publication_date"] == "2026-02-13"
    assert bead["body_text"] is None
    with Archive.open(tmp_path, readonly=True) as archive:
        assert archive.watermark("ntia") is None


@pytest.mark.parametrize(
    ("written", "day"),
    [
        ("<pubDate>Fri, 13 Feb 2026 20:30:00 -0500</pubDate>", "2026-02-13"),
        ("<pubDate>Sat, 14 Feb 2026 00:30:00 +0100</pubDate>", "2026-02-14"),
        ("<dc:date>2026-02-13T21:00:00-05:00</dc:date>", "2026-02-13"),
    ],
)
def test_an_ntia_item_is_dated_by_the_day_its_feed_wrote_whatever_the_offset(
    tmp_path, site, written, day
):
    """SYNTHETIC: the BEAD post (February 13, 2026 on ntia.gov) dated in the feed with the site's
    own offset, an evening in Washington: it was stored as of the next day in UTC."""
    feed = (REPLAY_DIR / "ntia" / "synthetic-rss.xml").read_text(encoding="utf-8")
    feed = feed.replace("<pubDate>Fri, 13 Feb 2026 17:30:00 +0000</pubDate>", written, 1)
    path = tmp_path / "synthetic-rss-offset.xml"
    path.write_text(feed, encoding="utf-8")
    scenario = serving("/rss.xml", str(path), "application/rss+xml")
    result = run(tmp_path, "ntia", site("ntia", scenario).url)
    assert result.ok, result.error
    assert rows(tmp_path, "ntia")[BEAD]["publication_date"] == day


@pytest.mark.parametrize("target", ["bead", "feed", "login"])
def test_ntia_item_whose_page_redirects_to_another_page_is_kept(tmp_path, site, target):
    """SYNTHETIC: the ITS workshop post answers 301 to the BEAD post (merged), to the feed (taken
    down) or to `/user/login?destination=blog` (a page answering HTTP 200, the FirstNet page
    standing for it: its path matches NTIA's loose item pattern, and its text was stored as the
    post's, the crawl ok); the item must not vanish without a word, nor take another page's text."""
    path = ITS.removeprefix(NTIA.rstrip("/"))
    location = {
        "bead": BEAD.removeprefix(NTIA.rstrip("/")),
        "feed": "/rss.xml",
        "login": "/user/login?destination=blog",
    }[target]
    moved = {"path": path, "status": 301, "headers": {"Location": location}}
    login = serving("/user/login", "synthetic-press-release-firstnet.html", "text/html")["routes"]
    server = site("ntia", {"routes": [moved, *login]})
    result = run(tmp_path, "ntia", server.url)
    stored = rows(tmp_path, "ntia")
    assert stored[ITS]["title"].startswith("Clarity Through Clutter: ITS Workshop")
    assert stored[BEAD]["title"].startswith("NTIA Hears from the Public")
    if target == "bead":
        assert result.ok, result.error
        assert "BEAD" in stored[ITS]["body_text"]
    else:
        problem = {
            "feed": "not a page matching '^/[a-z0-9-]+/'",
            "login": "a page outside /blog/ where the item was",
        }[target]
        assert not result.ok
        assert (
            result.error
            == f"{server.url}{path[1:]}: redirected to {server.url}{location[1:]}, {problem}"
        )
        assert stored[ITS]["body_text"] is None


def test_ntia_refused_connection_is_one_failed_crawl(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the crawl: nothing listens there
    result = run(tmp_path, "ntia", f"http://127.0.0.1:{port}/")
    assert not result.ok
    assert "Connection was refused" in result.error or "ConnectionRefused" in result.error
    assert "\n" not in result.error
    with Archive.open(tmp_path, readonly=True) as archive:
        assert archive.status().last_crawl["ntia"].ok is False


def test_bis_release_redirected_to_the_listing_fails_loudly_and_is_not_skipped(tmp_path, site):
    """SYNTHETIC: the 2024-04-11 release answers 301 to the listing (a release taken down or
    moved); the listing was read already, and the release must not vanish without a word."""
    path = APR.removeprefix("https://www.bis.gov")
    moved = {"path": path, "status": 301, "headers": {"Location": "/news-updates"}}
    server = site("bis", {"routes": [moved]})
    result = run(tmp_path, "bis", server.url)
    assert not result.ok
    assert result.error == (
        f"{server.url}{path[1:]}: redirected to {server.url}news-updates, not a page"
        f" matching {'^/press-release/[a-z0-9][a-z0-9-]*/?$'!r}"
    )
    assert set(rows(tmp_path, "bis")) == {FEB}
    with Archive.open(tmp_path, readonly=True) as archive:
        assert archive.watermark("bis") is None


def test_bis_release_whose_text_cannot_be_read_fails_loudly_and_keeps_its_title(tmp_path, site):
    """SYNTHETIC: the 2024-04-11 release carries its title and date as metadata but no text a
    reader finds (a layout drawn by a script): what it says (the rules it names) went unread."""
    path = APR.removeprefix("https://www.bis.gov")
    server = site("bis", serving(path, "synthetic-press-release-no-text.html", "text/html"))
    result = run(tmp_path, "bis", server.url)
    assert not result.ok
    assert result.error == f"{server.url}{path[1:]}: no main text found (has the page changed?)"
    stored = rows(tmp_path, "bis")
    assert set(stored) == {FEB, APR} and stored[APR]["body_text"] is None
    assert stored[APR]["title"].startswith("Commerce Adds 11 Entities to the Entity List")
    with Archive.open(tmp_path, readonly=True) as archive:
        assert archive.watermark("bis") is None


@pytest.mark.parametrize(
    ("source", "entry", "file", "kind", "aliased"),
    [
        ("bis", "/news-updates", "synthetic-news-updates.html", "text/html", ["https://bis.gov/"]),
        (
            "ntia",
            "/rss.xml",
            "synthetic-rss.xml",
            "application/rss+xml",
            ["http://www.ntia.gov/", "https://ntia.gov/"],
        ),
    ],
)
def test_an_item_linked_on_another_form_of_the_site_host_is_read_under_its_canonical_url(
    tmp_path, site, source, entry, file, kind, aliased
):
    """SYNTHETIC: the listing or feed links its first item (the 2024-04-11 release; the BEAD post,
    then the ITS post) on another form of the site's host, as `https://bis.gov/…` (the URL the
    release's text rendering was recorded under), `http://www.ntia.gov/…` or `https://ntia.gov/…`:
    the release was skipped without a word (the crawl ok), the posts rejected as off ntia.gov."""
    body = (REPLAY_DIR / source / file).read_text(encoding="utf-8")
    linked = [APR] if source == "bis" else [BEAD, ITS]
    for url, alias in zip(linked, aliased, strict=True):
        path = url.removeprefix(source_spec(source)["base_url"])
        body = body.replace(f'"/{path}"', f'"{alias}{path}"').replace(url, alias + path)
    (tmp_path / file).write_text(body, encoding="utf-8")
    result = run(tmp_path, source, site(source, serving(entry, str(tmp_path / file), kind)).url)
    assert result.ok, result.error
    stored = rows(tmp_path, source)
    assert all(stored[url]["body_text"] for url in linked)


@pytest.mark.parametrize(
    ("source", "file", "kind", "edits"),
    [
        ("bis", "synthetic-news-updates.html", "text/html", {"https://www.commerce.gov/": ""}),
        ("ntia", "synthetic-rss.xml", "application/rss+xml", {ITS: "", ' xml:base="': ' x="'}),
    ],
)
def test_a_link_that_is_no_url_never_stops_reading_the_other_items(
    tmp_path, site, source, file, kind, edits
):
    """SYNTHETIC: one link of the listing (its footer's) or of a feed without `xml:base` (the ITS
    post's) is not a URL (`http://[synthetic/`, an IPv6 host left open): reading the whole listing
    or feed failed on it, every release or post unread, crawl after crawl while the link stayed."""
    body = (REPLAY_DIR / source / file).read_text(encoding="utf-8")
    for old, new in edits.items():
        body = body.replace(old, new or "http://[synthetic/")
    (tmp_path / file).write_text(body, encoding="utf-8")
    entry = source_spec(source)["entry_path"]
    result = run(
        tmp_path, source, site(source, serving(f"/{entry}", str(tmp_path / file), kind)).url
    )
    stored = rows(tmp_path, source)
    if source == "bis":
        assert result.ok, result.error
        assert set(stored) == {FEB, APR}
    else:
        assert result.error == (
            "record rejected: ntia http://[synthetic/: link is not a page on ntia.gov; not fetched"
        )
        assert stored[BEAD]["body_text"] and ITS not in stored and len(stored) == 2


@pytest.mark.parametrize(("hidden", "shown"), [("&#x202E;", "\\u202e"), ("&#x200F;", "\\u200f")])
def test_an_ntia_item_keyed_by_a_guid_holding_hidden_characters_is_rejected_naming_it(
    tmp_path, site, hidden, shown
):
    """SYNTHETIC (`synthetic-rss-hidden-guid.xml`): an item without a link is keyed by its guid,
    which held a right-to-left override (`synthetic-102.pdf` on screen) or an invisible
    right-to-left mark; stored as the document's id, it reached file names, calendar UIDs, links
    and messages."""
    body = (REPLAY_DIR / "ntia" / "synthetic-rss-hidden-guid.xml").read_text(encoding="utf-8")
    feed = tmp_path / "synthetic-rss-hidden-guid.xml"
    feed.write_text(body.replace("&#x202E;", hidden), encoding="utf-8")
    scenario = serving("/rss.xml", str(feed), "application/rss+xml")
    result = run(tmp_path, "ntia", site("ntia", scenario).url)
    assert result.error == (
        f"record rejected: ntia 'synthetic-102{shown}fdp.': the guid keying this item (it has no"
        " link) holds control or bidi characters"
    )
    stored = rows(tmp_path, "ntia")
    assert BEAD in stored and ITS in stored and len(stored) == 3  # the linkless speech item too
    assert not [key for key in stored if key.startswith("synthetic-102")]


def test_bis_listing_gone_fails_in_one_line_and_keeps_stored_releases(tmp_path, site):
    run(tmp_path, "bis", site("bis").url)
    before = rows(tmp_path, "bis")
    server = site("bis", "listing-gone")
    result = run(tmp_path, "bis", server.url)
    assert not result.ok
    assert result.error == f"{server.url}news-updates: HTTP 404"
    assert rows(tmp_path, "bis") == before


@pytest.mark.parametrize(("source", "entry"), [("bis", "news-updates"), ("ntia", "rss.xml")])
def test_a_listing_or_feed_answering_304_for_weeks_is_asked_whole_and_a_304_to_that_fails(
    tmp_path, site, source, entry
):
    """SYNTHETIC: after a first crawl, the listing or feed answers 304 to every request, with or
    without validators (a server or CDN stuck on one answer): each crawl was "ok, 0 new" forever.
    Validators not renewed by a whole read for `revalidate_days` are no longer sent."""
    first = run(tmp_path, source, site(source).url)
    assert first.ok, first.error
    stuck = site(source, {"routes": [{"path": f"/{entry}", "status": 304}]})
    fresh = run(tmp_path, source, stuck.url)
    assert fresh.ok, fresh.error  # validators read whole a moment ago: a 304 is believed
    assert stuck.conditional == [f"/{entry}"]
    days = source_spec(source)["revalidate_days"]
    aged = stamp(datetime.now(UTC) - timedelta(days=days, hours=1))
    with sqlite3.connect(tmp_path / "regwatch.db") as conn:
        conn.execute("UPDATE http_validators SET updated_at = ?", (aged,))
    stuck.conditional.clear()
    result = run(tmp_path, source, stuck.url)
    assert not result.ok
    assert result.error == (
        f"{stuck.url}{entry}: answered 304 Not Modified to a request for the whole page, which"
        " was not read"
    )
    assert stuck.conditional == []
    assert len(rows(tmp_path, source)) == counts(first)[0]


# A listing or feed is a rolling window (NTIA's feed holds about ten items): one that moved past
# everything read before may have dropped items unread (synthetic `moved-on` scenarios).


@pytest.mark.parametrize(
    ("source", "entry", "left"),
    [("bis", "news-updates", NEW), ("ntia", "rss.xml", FIRSTNET)],
)
def test_a_listing_that_moved_past_everything_read_before_fails_saying_items_may_be_missed(
    tmp_path, site, source, entry, left
):
    first = run(tmp_path, source, site(source).url)
    assert first.ok, first.error
    server = site(source, "moved-on")
    result = run(tmp_path, source, server.url)
    assert not result.ok
    assert result.error == (
        f"{server.url}{entry}: none of its 1 items was read by an earlier crawl, so items"
        " published since the last crawl may have left it unread: crawl it more often"
    )
    assert left in rows(tmp_path, source)  # what it lists is still stored
    with Archive.open(tmp_path, readonly=True) as archive:
        assert archive.watermark(source) == first.watermark


# A listing or feed holding more items than `max_items` (synthetic, three items against two).


def read_capped(kind, response) -> list[str]:
    """The URLs the spider `kind`, allowed two items, asks for from a listing or feed of three;
    asserts the crawl failed naming the one left unread."""
    crawler = get_crawler(kind, {"REGWATCH_BASE_URL": "http://127.0.0.1:8401/"})
    spider = kind.from_crawler(crawler, since="2024-01-01", until="2024-12-31")
    spider.spec = {**spider.spec, "max_items": 2}
    asked = [r.url for r in spider.parse_entry(response) if isinstance(r, Request)]
    assert errors(crawler.stats) == [
        f"{response.url}: lists 3 items, 1 of them never stored and left unread (read 2: max_items"
        " in sources.json)"
    ]
    return asked


def test_a_listing_past_max_items_fails_the_crawl_naming_what_was_left_unread():
    links = "".join(f'<a href="/press-release/synthetic-release-{i}">{i}</a>' for i in range(3))
    url = "http://127.0.0.1:8401/news-updates"
    listing = HtmlResponse(url, body=links.encode(), request=Request(url), encoding="utf-8")
    assert read_capped(BisSpider, listing) == [
        f"http://127.0.0.1:8401/press-release/synthetic-release-{i}" for i in (0, 1)
    ]


def test_a_feed_past_max_items_fails_the_crawl_naming_what_was_left_unread():
    items = "".join(
        f"<item><title>Synthetic item {i}</title><link>https://www.ntia.gov/blog/2026/synthetic-{i}"
        "</link><pubDate>Tue, 10 Mar 2026 12:00:00 +0000</pubDate></item>"
        for i in range(3)
    )
    body = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    )
    url = "http://127.0.0.1:8401/rss.xml"
    feed = TextResponse(url, body=body.encode(), request=Request(url), encoding="utf-8")
    assert read_capped(NtiaSpider, feed) == [
        f"http://127.0.0.1:8401/blog/2026/synthetic-{i}" for i in (0, 1)
    ]


def test_a_listing_past_max_items_fails_only_while_an_item_left_unread_was_never_stored(
    tmp_path, site
):
    """SYNTHETIC: a listing of 101 releases, newest first (the real one is 3.6 MB, its page size
    unknown); each answers with the synthetic release page. The first crawl reads 100 and fails
    naming the one never stored; the next reads that one instead of a stored one and is ok, where
    it failed crawl after crawl although nothing was left unread that was not already stored."""
    links = [f"/press-release/synthetic-release-{i}" for i in range(101)]
    listing = tmp_path / "synthetic-news-updates-101.html"
    listing.write_text("".join(f'<a href="{link}">{link}</a>' for link in links), "utf-8")
    release = serving("", "synthetic-press-release-names-rule.html", "text/html")["routes"][0]
    routes = [{**release, "path": link} for link in links]
    server = site(
        "bis", {"routes": [*serving("/news-updates", str(listing), "text/html")["routes"], *routes]}
    )
    first = run(tmp_path, "bis", server.url)
    assert not first.ok
    assert first.error == (
        f"{server.url}news-updates: lists 101 items, 1 of them never stored and left unread"
        " (read 100: max_items in sources.json)"
    )
    assert len(rows(tmp_path, "bis")) == 100
    server.requests.clear()
    again = run(tmp_path, "bis", server.url)
    assert again.ok, again.error
    assert set(rows(tmp_path, "bis")) == {"https://www.bis.gov" + link for link in links}
    assert len([path for path in server.requests if path in links]) == 100


def test_a_damaged_cell_never_stops_linking_the_other_releases(tmp_path):
    """A RIN or agencies cell of a stored Federal Register document that is not JSON (a damaged
    or hand-edited row) failed linking every release after each BIS or NTIA crawl with SQLite's
    "malformed JSON"; now the releases are linked to the documents that can be read."""
    records = json.loads((TRIMMED / "fr-bis-documents-trimmed-2026-10-02.json").read_text())
    for record in records:
        if record["document_number"] == "2026-17231":
            record["regulation_id_numbers"] = ["0694-AJ99"]
    releases = [
        Publication(
            "bis", f"{BIS}synthetic-{name}", title, "2026-08-25", abstract=abstract, type="Press"
        )
        for name, title, abstract in (
            ("rin", "Commerce acts", "The rule (RIN 0694-AJ99) revises the Entity List."),
            ("title", "Revisions to the Entity List", "Commerce revises the list."),
        )
    ]
    with Archive.open(tmp_path) as archive:
        archive.store([publication_from_fr(r) for r in records])
    with sqlite3.connect(tmp_path / "regwatch.db") as conn:
        conn.execute(
            "UPDATE publications SET agencies = '[{broken', regulation_id_numbers = 'nope' "
            "WHERE source_id = '2026-17230'"
        )
    with Archive.open(tmp_path) as archive:
        archive.store(releases)
        assert link_releases(archive) == 2
        related = {
            r["source_id"]: [(x["source_id"], x["kind"]) for x in r["related"]]
            for r in archive.publications()
            if r["source"] == "bis"
        }
    assert related == {
        f"{BIS}synthetic-rin": [("2026-17231", "rin")],
        f"{BIS}synthetic-title": [("2026-17231", "title")],
    }
