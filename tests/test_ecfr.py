"""The eCFR source: paragraph labels and diffs on the synthetic section XML of
`replay/recordings/ecfr/`, crawl tests (Scrapy in a child process against the replay server, rows
in a real SQLite archive): a version pair producing the right section diff linked to the rule that
made it, never asking for a date past `up_to_date_as_of`, and hostile answers.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from archive import Archive
from crawlers.ecfr_text import Unreadable, diff, paragraphs
from crawlers.run import crawl
from digests.period import iso_week
from digests.render import render
from digests.select import build_digest
from regwatch.cli import main
from regwatch.config import load_config
from regwatch.web.app import create_app
from replay import ecfr as ecfr_replay
from replay.server import RECORDINGS, serve

CONTACT = "ecfr-tests@example.org"
FAST = {"DOWNLOAD_DELAY": 0, "RETRY_BACKOFF_BASE": 0.001, "RETRY_TIMES": 1}
SECTIONS = RECORDINGS / "ecfr" / "sections"
RULE = "2024-28270"  # real BIS rule of 2024-12-05 naming CFR parts 740 and 744 among others
VERSIONS = "/api/versioner/v1/versions/title-15.json"
OLD_23 = "…you may not export items classified in ECCN 3B001 or 3B002 when you have knowledge that"
NEW_23 = (
    "…you may not export items classified in ECCN 3B001, 3B002, or 3B993 when you have knowledge"
)


def xml(name: str) -> bytes:
    return (SECTIONS / f"synthetic-{name}.xml").read_bytes()


def run(home: Path, server, source: str = "ecfr", **extra):
    return crawl(
        home,
        source=source,
        base_url=server.base_url(source),
        contact=CONTACT,
        settings={**FAST, **extra.pop("settings", {})},
        **extra,
    )


# --- parse tests ---------------------------------------------------------------------------------


def test_paragraphs_carry_their_designation_path_even_after_a_paragraph_heading():
    labels = [label for label, _ in paragraphs(xml("744.23@2024-12-05"), "744.23")]
    assert labels == ["", "(a)(1)", "(a)(2)", "(a)(3)", "(a)(4)", "(b)"]


def test_a_version_pair_gives_labelled_paragraph_changes_and_a_unified_diff():
    old = paragraphs(xml("744.23@2023-11-17"), "744.23")
    new = paragraphs(xml("744.23@2024-12-05"), "744.23")
    changes, unified = diff("§ 744.23", old, new, ("2024-12-04", "2024-12-05"))
    assert [(c["label"], c["old"] is None) for c in changes] == [
        ("§ 744.23(a)(2)", False),
        ("§ 744.23(a)(4)", True),
    ]
    assert changes[0]["old_excerpt"].startswith(
        "…you may not export items classified in ECCN 3B001 or"
    )
    assert "3B001, 3B002, or 3B993" in changes[0]["new_excerpt"]
    assert unified.startswith("--- § 744.23 (2024-12-04)\n+++ § 744.23 (2024-12-05)")
    assert "+(4) High bandwidth memory." in unified


def test_entities_and_doctypes_in_section_xml_are_never_expanded(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<DIV8 N="744.1" TYPE="SECTION"><P>(a) read &x; here</P></DIV8>'
    ).encode()
    assert "TOP SECRET" not in repr(paragraphs(body, "744.1"))
    with pytest.raises(Unreadable, match="no DIV8 section"):
        paragraphs(b"<html><body>Request Access</body></html>", "744.1")
    with pytest.raises(Unreadable, match="not XML"):
        paragraphs(b"{}", "744.1")


# --- crawl tests ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """FR day 2024-12-05 crawled, then the eCFR from issue date 2024-11-01."""
    home = tmp_path_factory.mktemp("ecfr") / "home"
    server = serve(RECORDINGS)
    try:
        fr = run(home, server, "federal_register", since="2024-12-05", until="2024-12-05")
        result = run(home, server, since="2024-11-01", until="2025-06-30")
        requests = list(server.requests)
    finally:
        server.stop()
    assert fr.ok and fr.inserted == 1, fr
    return home, result, requests


def test_changed_sections_of_parts_730_to_774_are_stored_and_nothing_past_up_to_date(crawled):
    home, result, requests = crawled
    assert result.ok and result.inserted == 3, result
    full = [r for r in requests if "/full/" in r]
    assert all(r.split("/full/")[1][:10] <= "2024-12-10" for r in full)  # up_to_date_as_of
    assert not any("700.1" in r or "744.21" in r for r in full)  # outside 730-774; future
    assert any(r.startswith(VERSIONS + "?chapter=VII&subchapter=C&issue_date") for r in requests)
    with Archive.open(home, readonly=True) as archive:
        assert archive.watermark("ecfr") == "2024-12-08"  # held before the waiting 744.21 version


def test_a_section_change_is_linked_to_the_rule_that_amended_it(crawled):
    with Archive.open(crawled[0], readonly=True) as archive:
        [rule] = [p["id"] for p in archive.publications() if p["source_id"] == RULE]
        changes = archive.section_changes(rule)
        by_section = {c["identifier"]: c for c in changes}
        assert sorted(by_section) == ["740.2", "744.23"]  # 744.6 changed on another day
        assert archive.amending_publications(by_section["744.23"]["id"]) == [rule]
        others = set(range(1, 4)) - {c["id"] for c in changes}
        assert [archive.amending_publications(cid) for cid in others] == [[]]
    change = by_section["744.23"]
    assert (change["old_date"], change["new_date"], change["amendment_date"]) == (
        "2024-12-04",
        "2024-12-05",
        "2024-12-05",
    )
    assert change["new_url"] == "https://www.ecfr.gov/on/2024-12-05/title-15/section-744.23"
    assert "3B001 or 3B002" in change["old_text"] and "3B993" in change["new_text"]


def test_the_digest_puts_the_section_diff_under_the_rule_with_both_versions(crawled):
    result = {"tags": ["export_control"], "evidence": {}, "entities": {}, "dates": {}}
    with Archive.open(crawled[0]) as archive:
        for batch in archive.documents_to_tag("t"):
            archive.store_tags([(item, result) for item in batch], "t")
        pages = render(build_digest(archive, iso_week("2024-W49")))
    text = pages.text
    line = f"§ 744.23(a)(2): {OLD_23}"
    assert line in text and NEW_23 in text
    assert text.index(RULE) < text.index(line)
    assert "eCFR 2024-12-04: https://www.ecfr.gov/on/2024-12-04/title-15/section-744.23" in text
    assert "https://www.ecfr.gov/on/2024-12-05/title-15/section-744.23" in pages.html
    assert "§ 744.23(a)(4): (added) -> (4) High bandwidth memory." in text


# --- hostile answers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ('{"content_versions": [], "meta": {"total_pages": "51"}}', "more than the 50 pages"),
        (
            '{"content_versions": [{"identifier": "744.1"}], "meta": {"total_pages": "1"}}',
            "content_versions[0] has a missing or malformed",
        ),
        ('{"content_versions": {}, "meta": {"total_pages": "1"}}', "content_versions is a object"),
    ],
)
def test_a_hostile_versions_body_fails_the_crawl_in_one_line(tmp_path, replay, body, problem):
    path = tmp_path / "versions.json"
    path.write_text(body)
    server = replay({"routes": [{"path": VERSIONS, "status": 200, "file": str(path)}]})
    result = run(tmp_path / "home", server, since="2024-11-01", until="2025-06-30")
    assert not result.ok and problem in result.error, result.error
    with Archive.open(tmp_path / "home", readonly=True) as archive:
        assert archive.watermark("ecfr") is None


@pytest.mark.parametrize(
    ("lie", "problem"),
    [
        ("one page", "received 2 versions of the 5 meta.result_count lists"),
        ("page ignored", "received 6 versions of the 5 meta.result_count lists"),
    ],
)
def test_versions_pages_disagreeing_with_result_count_fail_the_crawl(
    tmp_path, replay, lie, problem
):
    """SYNTHETIC lies about the 5 versions issued since 2024-11-01, 2 a page: page 1 says it is
    the only page, or every page is page 1 again (`page` ignored); versions are never missed."""
    first = json.loads(
        ecfr_replay.versions(RECORDINGS / "ecfr", {"issue_date[gte]": "2024-11-01"}, 2)
    )
    if lie == "one page":
        first["meta"]["total_pages"] = "1"
    path = tmp_path / "versions-page-1.json"
    path.write_text(json.dumps(first))
    server = replay(
        {
            "routes": [{"path": VERSIONS, "status": 200, "file": str(path)}],
            "sources": {"ecfr": {"per_page": 2}},
        }
    )
    result = run(tmp_path / "home", server, since="2024-11-01", until="2025-06-30")
    assert not result.ok and problem in result.error, result.error
    assert "\n" not in result.error
    with Archive.open(tmp_path / "home", readonly=True) as archive:
        assert archive.watermark("ecfr") is None


def test_a_comment_in_a_table_row_is_read_past_and_the_change_kept(tmp_path, replay):
    """SYNTHETIC: the 2024-12-05 text of § 744.23 with a table whose row holds an XML comment
    (well-formed XML): the section is read, never a traceback and a silently missing change."""
    table = "<GPOTABLE><ROW><ENT>3B993</ENT><!-- cell moved --><ENT>License</ENT></ROW></GPOTABLE>"
    body = xml("744.23@2024-12-05").replace(b"</DIV8>", table.encode() + b"</DIV8>")
    path = tmp_path / "synthetic-744.23-row-comment.xml"
    path.write_bytes(body)
    full = "/api/versioner/v1/full/2024-12-05/title-15.xml"
    row = {"path": full, "query": {"section": "744.23"}, "status": 200, "file": str(path)}
    server = replay({"routes": [row]})
    result = run(tmp_path / "home", server, since="2024-11-01", until="2025-06-30")
    assert result.ok and result.inserted == 3, result
    with sqlite3.connect(tmp_path / "home" / "regwatch.db") as conn:
        sql = "SELECT new_text FROM ecfr_changes WHERE identifier = '744.23'"
        assert conn.execute(sql).fetchone()[0].endswith("3B993 | License")


def test_a_redirect_off_the_api_host_is_refused(tmp_path, replay):
    foreign = {"Location": "http://192.0.2.1/api/versioner/v1/titles.json"}
    server = replay(
        {"routes": [{"path": "/api/versioner/v1/titles.json", "status": 302, "headers": foreign}]}
    )
    result = run(tmp_path / "home", server, since="2024-11-01", until="2025-06-30")
    assert not result.ok and "not on the API host" in result.error, result.error


def test_show_and_the_web_page_put_the_section_diff_under_the_rule(crawled):
    home = crawled[0]
    config_file = home.parent / "regwatch.toml"
    config_file.write_text(f'[archive]\nhome = "{home}"\n', encoding="utf-8")
    shown = CliRunner().invoke(main, ["--config", str(config_file), "show", RULE])
    assert shown.exit_code == 0, shown.output
    part = shown.output[shown.output.index("EAR sections changed:") :]
    assert f"  § 744.23(a)(2): {OLD_23}" in part and f" → {NEW_23}" in part
    assert "(eCFR 2024-12-04 → 2024-12-05) https://www.ecfr.gov/on/2024-12-05/title-15/" in part
    as_json = CliRunner().invoke(
        main, ["--config", str(config_file), "show", RULE, "--format", "json"]
    )
    labels = [c["label"] for c in json.loads(as_json.output)["section_changes"]]
    assert "§ 744.23(a)(2)" in labels and "§ 744.23(a)(4)" in labels
    with TestClient(create_app(load_config(config_file))) as client:
        page = client.get(f"/documents/federal_register/{RULE}")
    assert page.status_code == 200
    assert "<h2>EAR sections changed</h2>" in page.text
    assert '<a href="https://www.ecfr.gov/on/2024-12-05/title-15/section-744.23"' in page.text


def test_xml_of_another_section_than_the_one_asked_for_fails_the_crawl(tmp_path, replay):
    """SYNTHETIC: asked for the 2024-12-05 text of § 744.23, the API answers with § 744.6's (a
    `section=` filter ignored, a mix-up): it was stored as the text of § 744.23, the wrong diff
    kept for good (a stored change is never written again), and the crawl reported ok."""
    full = "/api/versioner/v1/full/2024-12-05/title-15.xml"
    other = str(SECTIONS / "synthetic-744.6@2024-11-01.xml")
    row = {"path": full, "query": {"section": "744.23"}, "status": 200, "file": other}
    server = replay({"routes": [row]})
    result = run(tmp_path / "home", server, since="2024-11-01", until="2025-06-30")
    assert not result.ok
    assert result.error.endswith(
        "section=744.23: the XML holds no section or appendix 744.23 (it holds 744.6)"
    ), result.error
    with sqlite3.connect(tmp_path / "home" / "regwatch.db") as conn:
        stored = conn.execute("SELECT identifier FROM ecfr_changes ORDER BY identifier").fetchall()
    assert stored == [("740.2",), ("744.6",)]
    with Archive.open(tmp_path / "home", readonly=True) as archive:
        assert archive.watermark("ecfr") is None


def test_a_version_waiting_for_a_later_crawl_never_holds_back_one_already_in_the_ecfr(
    tmp_path, replay
):
    """SYNTHETIC: the versions list names the waiting § 744.21 version (dated 2024-12-20, issued
    2024-12-09) before a § 744.6 version dated 2024-12-09, which is in the eCFR (up to date as of
    2024-12-10): § 744.6 was skipped as "not in the eCFR yet" (compared with the watermark the
    waiting version held back), a crawl ok, and so on every crawl until 2024-12-20."""
    listed = json.loads(
        ecfr_replay.versions(RECORDINGS / "ecfr", {"issue_date[gte]": "2024-12-07"}, 1000)
    )
    [waiting] = listed["content_versions"]
    ready = {**waiting, "identifier": "744.6", "date": "2024-12-09", "amendment_date": "2024-12-09"}
    listed["content_versions"] = [waiting, {**ready, "issue_date": "2024-12-10"}]
    listed["meta"]["result_count"] = "2"
    path = tmp_path / "synthetic-versions-waiting-first.json"
    path.write_text(json.dumps(listed))
    server = replay({"routes": [{"path": VERSIONS, "status": 200, "file": str(path)}]})
    result = run(tmp_path / "home", server, since="2024-12-07", until="2025-06-30")
    assert result.ok and result.inserted == 1, result
    with sqlite3.connect(tmp_path / "home" / "regwatch.db") as conn:
        sql = "SELECT identifier, new_date FROM ecfr_changes"
        assert conn.execute(sql).fetchall() == [("744.6", "2024-12-09")]
    with Archive.open(tmp_path / "home", readonly=True) as archive:
        assert archive.watermark("ecfr") == "2024-12-08"  # still held before § 744.21


OLDER_744_6 = "/api/versioner/v1/full/2024-10-31/title-15.xml"
HEAD_744_6 = '§ 744.6 Restrictions on specific activities of "U.S. persons."\n\n(a) Scope. '


def stored_744_6(home: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(home / "regwatch.db") as conn:
        sql = "SELECT old_text, new_text FROM ecfr_changes WHERE identifier = '744.6'"
        return conn.execute(sql).fetchall()


def test_a_404_for_the_older_text_of_a_section_with_earlier_versions_fails_until_answered(
    tmp_path, replay
):
    """SYNTHETIC: the text of § 744.6 as of 2024-10-31 answers 404 (an eCFR hiccup), while the
    section's versions list has its 2024-01-01 version: the whole section was stored as added,
    for good, and the crawl reported ok. It fails naming the section and date, stores nothing of
    § 744.6, and the next crawl, answered, stores the true change."""
    row = {"path": OLDER_744_6, "query": {"section": "744.6"}, "status": 404}
    home = tmp_path / "home"
    result = run(home, replay({"routes": [row]}), since="2024-11-01", until="2025-06-30")
    assert not result.ok
    assert "section=744.6: HTTP 404 for the text of 744.6 as of 2024-10-31" in result.error
    assert "its version of 2024-01-01" in result.error, result.error
    assert stored_744_6(home) == []
    with Archive.open(home, readonly=True) as archive:
        assert archive.watermark("ecfr") is None
    again = run(home, replay(), since="2024-11-01", until="2025-06-30")
    assert again.ok and again.inserted == 1, again
    assert stored_744_6(home) == [
        (
            f"{HEAD_744_6}This section applies to U.S. persons.",
            f"{HEAD_744_6}This section applies to U.S. persons wherever located.",
        )
    ]


def test_a_section_whose_first_version_is_the_new_one_is_stored_as_added(tmp_path, replay):
    """SYNTHETIC: § 744.6's versions list holds only its 2024-11-01 version, and its text as of
    2024-10-31 is 404: the section was added that day, every paragraph shown as added."""
    listed = json.loads(
        ecfr_replay.versions(
            RECORDINGS / "ecfr", {"section": "744.6", "issue_date[gte]": "2024-11-01"}, 1000
        )
    )
    path = tmp_path / "synthetic-versions-744.6-first.json"
    path.write_text(json.dumps(listed))
    history = {"path": VERSIONS, "query": {"section": "744.6"}, "status": 200, "file": str(path)}
    older = {"path": OLDER_744_6, "query": {"section": "744.6"}, "status": 404}
    home = tmp_path / "home"
    result = run(home, replay({"routes": [history, older]}), since="2024-11-01", until="2025-06-30")
    assert result.ok and result.inserted == 3, result
    assert stored_744_6(home) == [
        ("", f"{HEAD_744_6}This section applies to U.S. persons wherever located.")
    ]
