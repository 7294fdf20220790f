"""The digest from a real archive: periods, sections, late and changed items, source health,
hostile text in every format, template overrides, the digest log's migration and config errors."""

import json
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from archive import Archive, db
from archive.migrations import MIGRATIONS
from digests.period import days_ending, iso_week, last_complete_week
from digests.render import render, write
from digests.select import build_digest
from regwatch.config import ConfigError, load_config, smtp_password
from regwatch.importer import import_records
from tests.browser import chromium_page

WEEK = iso_week("2026-W47")  # 2026-11-16 .. 2026-11-22


def add(archive: Archive, number: str, day: str, title: str, tags: list[str], **extra) -> None:
    """Import one FR-shaped record and store a hand-made tag result for it."""
    record = {
        "document_number": number,
        "title": title,
        "publication_date": day,
        "type": "Rule",
        "agencies": [{"name": "Industry and Security Bureau", "raw_name": "BIS"}],
        "html_url": extra.pop("url", f"https://www.federalregister.gov/d/{number}"),
        "abstract": extra.pop("abstract", "BIS amends the Export Administration Regulations."),
        **extra.pop("record", {}),
    }
    assert not import_records(archive, [json.dumps(record)]).rejected
    for batch in archive.documents_to_tag("t"):
        archive.store_tags([(item, tag_result(tags, **extra)) for item in batch], "t")


def tag_result(tags: list[str], dates: dict | None = None, entities: dict | None = None) -> dict:
    evidence = {
        tag: [
            {
                "rule": f"rule.{tag}",
                "text": "Export Administration Regulations",
                "field": "abstract",
                "effect": "support",
            },
            {"rule": f"rule.{tag}.title", "text": "Rule", "field": "title", "effect": "support"},
        ]
        for tag in tags
    }
    return {"tags": tags, "evidence": evidence, "entities": entities or {}, "dates": dates or {}}


@pytest.fixture
def archive(tmp_path):
    with Archive.open(tmp_path / "home") as opened:
        yield opened


def test_periods():
    assert (WEEK.start, WEEK.end, WEEK.label) == ("2026-11-16", "2026-11-22", "2026-W47")
    assert days_ending("2026-11-22", 7) == WEEK
    assert days_ending("2025-01-16", 3).label == "2025-01-14-to-2025-01-16"
    wednesday = datetime(2026, 11, 25, 9, 0, tzinfo=ZoneInfo("America/New_York"))
    assert last_complete_week("America/New_York", wednesday) == WEEK
    monday_early_utc = datetime(2026, 11, 30, 3, 0, tzinfo=ZoneInfo("UTC"))  # Sunday in New York
    assert last_complete_week("America/New_York", monday_early_utc) == WEEK
    with pytest.raises(ValueError, match="ISO week such as 2026-W47, got '2026-W54'"):
        iso_week("2026-W54")
    with pytest.raises(ValueError, match="ISO week such as 2026-W47"):  # named digest-٢٠٢٦-W05
        iso_week("\u0662\u0660\u0662\u0666-W05")


def test_sections_in_order_untagged_counted_not_listed(archive, tmp_path):
    add(archive, "2026-10001", "2026-11-17", "Both rule", ["ai", "export_control"])
    add(
        archive,
        "2026-10002",
        "2026-11-18",
        "Export rule",
        ["export_control", "entity_list"],
        record={"pdf_url": "https://www.govinfo.gov/x.pdf"},
        entities={"eccns": [{"value": "3A090"}], "countries": [{"value": "China"}]},
        dates={"comments_close_on": "2026-12-10", "effective_on": "2027-03-01"},
    )
    add(archive, "2026-10003", "2026-11-19", "AI notice", ["ai"])
    for n in range(4):
        add(archive, f"2026-2000{n}", "2026-11-20", f"Unrelated fisheries notice {n}", [])
    add(archive, "2026-10004", "2026-11-23", "Next week's rule", ["ai"])
    digest = build_digest(archive, WEEK)
    assert [s.title for s in digest.sections] == ["AI × export control", "Export control", "AI"]
    assert [[i.title for i in s.items] for s in digest.sections] == [
        ["Both rule"],
        ["Export rule"],
        ["AI notice"],
    ]
    assert (digest.counts["total"], digest.untagged) == (7, 4)
    assert [(u.day, u.what) for u in digest.upcoming] == [("2026-12-10", "comments close")]
    pages = render(digest)
    headings = (
        "Source health and coverage",
        "AI × export control",
        "Export control",
        "AI",
        "Changes and corrections",
        "Upcoming dates (next 30 days)",
        "Counts by week",
    )
    for page, heading in (
        (pages.html, ">{}</h2>"),
        (pages.text, "== {} =="),
        (pages.markdown, "## {}\n"),
    ):
        assert "Unrelated fisheries" not in page
        assert "4 without a primary tag (counted, not listed)" in page
        order = [page.index(heading.format(h)) for h in headings]
        assert order == sorted(order), page
        assert "https://www.govinfo.gov/x.pdf" in page
        assert "ECCNs: 3A090" in page and "countries: China" in page
    assert (
        "Export control because the abstract mentions “Export Administration Regulations”; "
        "the title says “Rule”." in pages.text
    )
    assert '<span class="rules"' in pages.html or "rules: rule.export_control" in pages.html
    by_tag = dict(digest.by_tag.rows)
    assert digest.by_tag.weeks[-1] == "2026-W47" and len(digest.by_tag.weeks) == 4
    assert by_tag["no primary tag"][-1] == 4 and by_tag["AI × export control"][-1] == 1
    paths = write(pages, tmp_path / "out", "digest-2026-W47")
    assert sorted(p.name for p in paths.values()) == [
        "digest-2026-W47.html",
        "digest-2026-W47.md",
        "digest-2026-W47.txt",
    ]


def test_html_is_self_contained_inlined_and_dark_mode_friendly(archive):
    add(archive, "2026-10001", "2026-11-17", "Both rule", ["ai", "export_control"])
    html = render(build_digest(archive, WEEK)).html
    assert '<meta name="color-scheme" content="light dark">' in html
    assert "@media (prefers-color-scheme: dark)" in html
    style = html[html.index("<style>") : html.index("</style>")]
    assert style.startswith("<style>@media (prefers-color-scheme: dark)")  # only @media kept
    assert '<div class="item" style="' in html  # the other rules are inlined
    for absent in ("<script", "<link", "<img", "url(", "<iframe", "src="):
        assert absent not in html.lower()


def test_a_week_with_nothing_tagged_still_says_so(archive):
    add(archive, "2026-20000", "2026-11-20", "Unrelated fisheries notice", [])
    pages = render(build_digest(archive, WEEK))
    for page in (pages.html, pages.text, pages.markdown):
        assert "Nothing was tagged AI or export control this period" in page
        assert "1 without a primary tag" in page


def test_untagged_archive_says_to_run_tag(archive):
    import_records(
        archive,
        [json.dumps({"document_number": "2026-1", "title": "T", "publication_date": "2026-11-18"})],
    )
    digest = build_digest(archive, WEEK)
    assert not digest.tagged
    assert "None is tagged yet: run <code>regwatch tag</code>" in render(digest).html


HOSTILE = "<script>alert(1)</script> {{ 7*7 }} <b><i>broken [x](javascript:alert(2)) *em* | pipe"


def test_hostile_titles_and_links_are_inert_in_every_format(archive):
    add(
        archive,
        "2026-10001",
        "2026-11-17",
        HOSTILE,
        ["export_control"],
        url="javascript:alert(3)",
        record={"pdf_url": "javascript:alert(4)"},
    )
    pages = render(build_digest(archive, WEEK))
    html = pages.html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b><i>broken" not in html
    assert 'href="javascript' not in html and "javascript:alert(4)" not in html
    assert "link (not followed): javascript:alert(3)" in html
    assert "{{ 7*7 }}" in html and "49" not in html
    md = pages.markdown
    assert "<script>" not in md and "\\<script\\>" in md
    assert "](javascript" not in md.replace("\\](javascript", "")
    assert "\\[x\\](javascript:alert(2))" in md and "\\*em\\*" in md and "\\| pipe" in md
    assert "(<javascript" not in md and "`javascript:alert(3)`" in md
    text = pages.text
    assert HOSTILE in text and "{{ 7*7 }}" in text


def test_an_agency_name_with_control_characters_keeps_the_counts_table_whole(archive):
    """The counts-by-agency table printed agency names as stored: a synthetic name holding CR/LF,
    ESC sequences and a right-to-left override broke the row over lines (a forged row in the text
    and Markdown tables), cleared the reader's terminal and reversed the row in every format."""
    agency = "Bureau\u202e of\x1b[2J Evil\r\nBcc: x\x85\uffff"
    add(
        archive,
        "2026-10002",
        "2026-11-17",
        "Rule",
        ["export_control"],
        record={"agencies": [{"name": agency}]},
    )
    pages = render(build_digest(archive, WEEK))
    assert "Bureau of Evil Bcc: x\t0\t0\t0\t1\n" in pages.text
    assert "| Bureau of Evil Bcc: x | 0 | 0 | 0 | 1 |\n" in pages.markdown
    assert ">Bureau of Evil Bcc: x</td>" in pages.html
    for shown in (pages.html, pages.text, pages.markdown):
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\ufffe\uffff]", shown)


def test_a_word_of_thousands_of_letters_keeps_the_digest_as_wide_as_the_window(archive):
    """A synthetic title and agency name of thousands of unbroken letters made the HTML digest
    42,000 pixels wide: every other item was read by scrolling sideways. Measured in Chromium."""
    add(
        archive,
        "2026-10003",
        "2026-11-17",
        f"Unbroken {'W' * 3000}",
        ["export_control"],
        record={"agencies": [{"name": f"Agency{'Q' * 500}"}]},
    )
    html = render(build_digest(archive, WEEK)).html
    with chromium_page(800, 600) as page:
        page.set_content(html)
        assert page.get_by_text("Unbroken WWW").first.is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 800


CUT_WORDS = """(headers) => [...document.querySelectorAll(headers)].flatMap((th) => {
  const style = getComputedStyle(th);
  const room = th.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const pen = document.createElement("canvas").getContext("2d");
  pen.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  return th.textContent.split(/\\s+|(?<=_)/).filter((w) => pen.measureText(w).width > room + 1);
})"""


def test_the_health_tables_cut_no_header_word_in_two(archive):
    """The source-health tables of the HTML digest cut their headers anywhere, as a long title
    may be cut: `documen|ts`, `watermar|k`, `federal_regi|ster held`. Measured in Chromium at
    800 pixels: every header word (a source name may break after `_`) fits its column."""
    add(archive, "2026-10004", "2026-11-17", "Rule", ["export_control"])
    sources = ("bis", "csl", "ecfr", "federal_register", "federal_register_fulltext")
    for source in (*sources, "federal_register_pi", "ntia"):
        archive.log_crawl(
            source,
            started_at="2026-11-20T07:00:00.000000Z",
            finished_at="2026-11-20T07:01:00.000000Z",
            ok=True,
            stats={},
        )
    html = render(build_digest(archive, WEEK)).html
    with chromium_page(800, 600) as page:
        page.set_content(html)
        assert page.locator("th", has_text="federal_register_fulltext").is_visible()
        assert page.evaluate(CUT_WORDS, "table.grid th") == []


def test_the_source_health_section_fits_a_phone_without_scrolling_sideways(archive):
    """On a 390-pixel phone the source-health tables were 551 and 950 pixels wide (a column per
    field, two per source): the reader scrolled sideways. Measured in Chromium on the HTML as
    e-mailed (CSS inlined): several sources, a long source name, failed crawls, a long incident."""
    add(archive, "2026-10005", "2026-11-17", "Rule", ["export_control"])
    sources = ("bis", "csl", "ecfr", "federal_register", "federal_register_pi", "ntia")
    long_name = "federal_register_public_inspection_documents_fulltext_backfill"
    for n, source in enumerate((*sources, long_name)):
        archive.log_crawl(
            source,
            started_at="2026-11-20T07:00:00.000000Z",
            finished_at="2026-11-20T07:01:00.000000Z",
            ok=n % 2 == 0,
            stats={},
        )
    archive.record_listed("federal_register", {"2026-11-17": 3}, "2026-11-20T07:01:00+00:00")
    detail = "HTTPSConnectionPool(host='www.federalregister.gov'): Max retries exceeded " * 3
    archive.sync_incidents({("ntia", "failures"): detail}, datetime(2026, 11, 20, 8, tzinfo=UTC))
    html = render(build_digest(archive, WEEK)).html
    with chromium_page(390, 844) as page:
        page.set_content(html)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert page.get_by_text("2026-11-17: 1 of 3, short").is_visible()
        assert page.evaluate(CUT_WORDS, "table.health th") == []


def test_the_counts_by_week_fit_a_phone_with_each_week_on_one_line(archive):
    """On a 390-pixel phone the counts tables cut every week header in two (`2026-W` over `44`).
    Measured in Chromium on the HTML as e-mailed: every header fits its column, and the tables
    still fit the phone, with long agency names and every tag row."""
    agencies = [
        {"name": "Office of the Under Secretary for International Trade Administration"},
        {"name": "Industry and Security Bureau"},
    ]
    add(archive, "2026-10006", "2026-11-03", "Rule", ["ai"], record={"agencies": agencies})
    add(archive, "2026-10007", "2026-11-17", "Rule", ["ai", "export_control"])
    html = render(build_digest(archive, WEEK)).html
    with chromium_page(390, 844) as page:
        page.set_content(html)
        assert page.get_by_text("2026-W44").first.is_visible()
        assert page.evaluate(CUT_WORDS, "table.grid th") == []
        assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_source_health_banner_after_a_failed_crawl_and_a_lagging_watermark(archive):
    add(archive, "2026-10001", "2026-11-17", "Both rule", ["ai", "export_control"])
    archive.log_crawl(
        "federal_register",
        started_at="2026-11-18T07:00:00.000000Z",
        finished_at="2026-11-18T07:01:00.000000Z",
        ok=False,
        stats={},
    )
    archive.set_watermark("federal_register", "2026-11-19")
    archive.log_crawl(
        "federal_register",
        started_at="2026-11-20T07:00:00.000000Z",
        finished_at="2026-11-20T07:01:00.000000Z",
        ok=True,
        stats={},
    )
    listed = {"2026-11-16": 0, "2026-11-17": 1, "2026-11-18": 0, "2026-11-19": 0}
    archive.record_listed("federal_register", listed, "2026-11-20T07:01:00+00:00")
    digest = build_digest(archive, WEEK)
    assert digest.health.reasons == [
        "federal_register: 1 crawl failed between 2026-11-16 and 2026-11-22",
        "federal_register: crawled completely only up to 2026-11-19, 3 days before the period ends",
        "federal_register: 3 days never confirmed by a completed crawl (2026-11-20..2026-11-22)",
    ]
    assert digest.subject.endswith("(may be incomplete)")
    assert [d.held["federal_register"] for d in digest.health.days] == [0, 1, 0, 0, 0, 0, 0]
    assert [d.shown("federal_register") for d in digest.health.days] == [
        *("0", "1", "0", "0"),
        *("–", "–", "–"),
    ]
    pages = render(digest)
    assert "This digest may be incomplete." in pages.html
    assert "THIS DIGEST MAY BE INCOMPLETE" in pages.text
    assert "**This digest may be incomplete.**" in pages.markdown
    archive.set_watermark("federal_register", "2026-11-29")
    archive.log_crawl(
        "federal_register",
        started_at="2026-11-23T07:00:00.000000Z",
        finished_at="2026-11-23T07:01:00.000000Z",
        ok=True,
        stats={},
    )
    week = iso_week("2026-W48")
    listed = {day: 0 for day in [f"2026-11-{n}" for n in range(23, 31)]}
    archive.record_listed("federal_register", listed, "2026-11-30T07:01:00+00:00")
    assert not build_digest(archive, week).health.incomplete


def test_templates_are_overridable_and_strict(archive, tmp_path):
    add(archive, "2026-10001", "2026-11-17", "Both rule", ["ai", "export_control"])
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "digest.txt").write_text(
        "Custom {{ digest.period.label }}: {{ digest.items|length }}\n"
    )
    pages = render(build_digest(archive, WEEK), folder)
    assert pages.text == "Custom 2026-W47: 1\n"
    assert "Source health and coverage" in pages.html
    strict = tmp_path / "strict"
    strict.mkdir()
    (strict / "digest.md").write_text("{{ digest.no_such_value }}")
    with pytest.raises(ValueError, match="digest template error.*no_such_value"):
        render(build_digest(archive, WEEK), strict)


def test_migration_numbers_may_arrive_out_of_order(tmp_path):
    """Migration 2 lands after a database already has 3: `migrate` applies it then."""
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    without_two = [m for m in MIGRATIONS if m[0] != 2]
    assert db.migrate.__globals__["MIGRATIONS"] is MIGRATIONS
    db.migrate.__globals__["MIGRATIONS"] = without_two
    try:
        assert db.migrate(conn) == [m[0] for m in without_two]
        db.migrate.__globals__["MIGRATIONS"] = sorted(
            [*without_two, (2, "late arrival", "CREATE TABLE late_two (x INTEGER);")]
        )
        assert db.migrate(conn) == [2]
        assert db.migrate(conn) == []
    finally:
        db.migrate.__globals__["MIGRATIONS"] = MIGRATIONS
    versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == [1, 2, 3] or versions[:3] == [1, 2, 3]


def test_migration_18_keeps_the_digests_sent_before_it_as_surely_sent(tmp_path):
    """An archive written before migration 18 holds digests the server answered: they stay
    sent to the same recipients, not "maybe", and a new send may be recorded as maybe."""
    home = tmp_path / "home"
    home.mkdir()
    conn = sqlite3.connect(home / "regwatch.db", isolation_level=None)
    db.migrate.__globals__["MIGRATIONS"] = [m for m in MIGRATIONS if m[0] < 18]
    try:
        db.migrate(conn)
    finally:
        db.migrate.__globals__["MIGRATIONS"] = MIGRATIONS
    conn.execute(
        "INSERT INTO digests_sent (list_name, period_start, period_end, sent_at, subject, "
        "recipients) VALUES ('team', '2026-11-16', '2026-11-22', '2026-11-23T08:00:00Z', 'W47', "
        "'[\"eng@y.example\"]')"
    )
    conn.close()
    with Archive.open(home) as archive:
        before = archive.sent_digest("team", "2026-11-16", "2026-11-22")
        assert (before.recipients, before.maybe) == (["eng@y.example"], False)
        later = archive.record_digest(
            "team",
            "2026-11-23",
            "2026-11-29",
            subject="W48",
            recipients=["x@y"],
            items=[],
            maybe=True,
        )
        assert later.maybe


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "regwatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[[digest.lists]]\nname = 'team'\nto = []\n",
            "digest.lists[0].to must list at least 1, got []",
        ),
        (
            "[[digest.lists]]\nname = 'team'\n",
            "digest.lists[0].to is required",
        ),
        (
            "[[digest.lists]]\nname = 'team'\nto = ['a@b.example']\ntags = ['a1']\n",
            "digest.lists[0].tags has unknown tag 'a1' (known: ai, cloud_compute",
        ),
        (
            "[[digest.lists]]\nname = 'a'\nto = ['a@b.example']\n[[digest.lists]]\nname = 'a'\n"
            "to = ['c@d.example']\n",
            "digest.lists[1].name 'a' is used twice",
        ),
        (
            "[[digest.lists]]\nname = 'a'\nto = ['a@b.example']\nbcc = ['x@y.example']\n",
            "unknown key 'digest.lists[0].bcc'",
        ),
        (
            "[mail]\nsecurity = 'tls'\n",
            "mail.security must be one of starttls, ssl, none, got 'tls'",
        ),
        ("[mail]\npassword = 'secret'\n", "unknown key 'mail.password'"),
    ],
)
def test_mail_and_list_config_errors_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, text), environ={})
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_password_only_from_the_environment(tmp_path):
    config = load_config(
        write_config(tmp_path, "[mail]\nhost = 'smtp.example'\nuser = 'me'\n"), environ={}
    )
    with pytest.raises(
        ConfigError,
        match="mail.user is set but environment variable REGWATCH_SMTP_PASSWORD is empty",
    ):
        smtp_password(config, environ={})
    assert smtp_password(config, environ={"REGWATCH_SMTP_PASSWORD": "pw"}) == "pw"


def test_a_damaged_cell_never_stops_the_digest_of_the_other_documents(archive, tmp_path):
    """One stored agencies, source-record or tag-result cell that is not JSON (a damaged or
    hand-edited row) stopped the whole digest with "malformed JSON" or a bare parser error; now
    every other document is listed, counted and dated, and the damaged ones with what can be
    read."""
    dates = {"comments_close_on": "2026-12-10"}
    add(archive, "2026-10001", "2026-11-17", "Intact rule", ["export_control"], dates=dates)
    add(archive, "2026-10002", "2026-11-18", "Agency-damaged rule", ["export_control"])
    add(archive, "2026-10003", "2026-11-19", "Odd-agency rule", ["export_control"])
    add(archive, "2026-10004", "2026-11-20", "Tag-damaged rule", ["export_control"], dates=dates)
    with sqlite3.connect(tmp_path / "home" / "regwatch.db") as conn:
        for number, column, value in (
            ("2026-10002", "agencies", "'[{broken'"),
            ("2026-10002", "raw", "X'00112233'"),
            ("2026-10003", "agencies", """'["BIS", 3]'"""),
        ):
            sql = f"UPDATE publications SET {column} = {value} WHERE source_id = ?"
            conn.execute(sql, [number])
        conn.execute(
            "UPDATE tag_results SET result = '{\"dates\": [' WHERE publication_id = "
            "(SELECT id FROM publications WHERE source_id = '2026-10004')"
        )
    digest = build_digest(archive, WEEK)
    listed = {i.title: i for s in digest.sections for i in s.items}
    assert sorted(listed) == ["Agency-damaged rule", "Intact rule", "Odd-agency rule"]
    assert listed["Intact rule"].agencies == ["Industry and Security Bureau"]
    assert listed["Agency-damaged rule"].agencies == listed["Odd-agency rule"].agencies == []
    assert [(u.day, u.item.title) for u in digest.upcoming] == [("2026-12-10", "Intact rule")]
    assert digest.counts["total"] == 4
    assert dict(digest.by_agency.rows)["Industry and Security Bureau"][-1] == 2
    assert "Odd-agency rule" in render(digest).text
