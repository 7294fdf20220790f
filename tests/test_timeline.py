"""One timeline per rulemaking: in `regwatch show` (text and JSON), on the web document page and
in the digest's "Rulemakings that moved this week".

Enters: a real archive built through `Archive.store` from records in the API's shapes (the
public-inspection filing shaped as the recorded `pi-document.json`, documents as the recorded
search results; a correction numbered `C1-…` as the real C1-2026-16628), normalised by the
crawlers' own functions. Their values are synthetic: under RIN 0694-AJ77 a filing on public
inspection → the proposed rule it became → the final rule (with an eCFR change of § 744.23
linked to it) → its correction → a follow-up notice whose title is hostile; under RIN 0694-AJ88 a
rule that did not move in the digest's week. Tag results are stored as the tag step stores them.
Leaves: assertions on the ordered events a person sees in each output.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, date, datetime, timedelta

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from archive import Archive
from archive.sections import SectionChange
from crawlers.normalize import publication_from_fr, publication_from_pi
from digests.period import iso_week
from digests.render import render
from digests.select import build_digest
from regwatch import steps
from regwatch.cli import main
from regwatch.config import load_config
from regwatch.web.app import create_app

RIN, OTHER_RIN, DOCKET = "0694-AJ77", "0694-AJ88", "BIS-2025-0021"
PROPOSED, FINAL, CORRECTION, NOTICE = "2025-11001", "2026-16628", "C1-2026-16628", "2026-17002"
HOSTILE = "<script>alert(1)</script> {{ 7*7 }}"
COMPLIANCE = (date.today() + timedelta(days=200)).isoformat()  # always ahead: upcoming
AGENCIES = [
    {"raw_name": "DEPARTMENT OF COMMERCE", "name": "Commerce Department", "id": 54},
    {"raw_name": "Bureau of Industry and Security", "name": "Industry and Security Bureau"},
]
API = "https://www.federalregister.gov/api/v1/documents/"


def document(number: str, title: str, kind: str, day: str, **fields) -> dict:
    """A record as the documents search returns it with the crawler's `fields[]`."""
    return {
        "document_number": number,
        "title": title,
        "type": kind,
        "agencies": AGENCIES,
        "publication_date": day,
        "html_url": f"https://www.federalregister.gov/documents/{day.replace('-', '/')}/{number}/x",
        "pdf_url": f"https://www.govinfo.gov/content/pkg/FR-{day}/pdf/{number}.pdf",
        "regulation_id_numbers": [RIN],
        "docket_ids": [],
        "cfr_references": [{"title": 15, "part": "744"}],
        "correction_of": None,
        "corrections": [],
        **fields,
    }


FILING = {  # shaped as recorded/pi-document.json
    "agencies": AGENCIES,
    "agency_letters": [],
    "agency_names": None,
    "docket_numbers": [DOCKET],
    "document_number": PROPOSED,
    "editorial_note": None,
    "filed_at": "2025-06-02T12:45:00Z",
    "filing_type": "regular",
    "html_url": f"https://www.federalregister.gov/public-inspection/{PROPOSED}/drones",
    "last_public_inspection_issue": "2025-06-02",
    "pdf_url": f"https://public-inspection.federalregister.gov/{PROPOSED}.pdf",
    "publication_date": "2025-06-03",
    "raw_text_url": None,
    "title": "Streamlining Export Controls for Drone Exports ",
    "type": "Proposed Rule",
}
RECORDS = [
    document(
        PROPOSED,
        "Streamlining Export Controls for Drone Exports",
        "Proposed Rule",
        "2025-06-03",
        docket_ids=[DOCKET],
        action="Proposed rule.",
        comments_close_on="2025-08-04",
    ),
    document(
        FINAL,
        "Streamlining Export Controls for Drone Exports",
        "Rule",
        "2026-08-14",
        action="Final rule.",
        effective_on="2026-08-14",
    ),
    document(
        CORRECTION,
        "Streamlining Export Controls for Drone Exports",
        "Rule",
        "2026-08-28",
        action="Final rule; correction.",
        correction_of=f"{API}{FINAL}",
    ),
    document(NOTICE, HOSTILE, "Notice", "2026-08-26", html_url="javascript:alert(1)"),
    document(
        "2026-03003",
        "Revisions to the Entity List",
        "Rule",
        "2026-03-02",
        regulation_id_numbers=[OTHER_RIN],
        effective_on="2026-03-02",
    ),
]
SECTION = SectionChange(
    title=15,
    part="744",
    identifier="744.23",
    kind="section",
    name="§ 744.23   Supercomputer and semiconductor manufacturing end use.",
    old_date="2026-08-13",
    new_date="2026-08-14",
    amendment_date="2026-08-14",
    issue_date="2026-08-18",
    substantive=True,
    removed=False,
    old_text="(a) old",
    new_text="(a) new",
    diff="--- § 744.23\n+++ § 744.23\n",
    changes=[  # the shape crawlers.ecfr_text.diff writes
        {
            "label": "§ 744.23(a)",
            "old": "(a) old",
            "new": "(a) new",
            "old_excerpt": "(a) old",
            "new_excerpt": "(a) new",
        }
    ],
    old_url="javascript:alert(1)",  # hostile: never shown as a link
    new_url="https://www.ecfr.gov/on/2026-08-14/title-15/section-744.23",
)
EXPECTED = [  # (date, what, source id, current) as `show FINAL` lists them
    ("2025-06-02", "filed for public inspection (regular filing)", PROPOSED),
    ("2025-06-03", "published as proposed rule", PROPOSED),
    ("2025-08-04", "comments close", PROPOSED),
    ("2026-08-14", "published as rule", FINAL),
    ("2026-08-14", "effective", FINAL),
    ("2026-08-18", "in the eCFR (§ 744.23)", FINAL),
    ("2026-08-26", "published as notice", NOTICE),
    ("2026-08-28", "published as correction", CORRECTION),
    (COMPLIANCE, "compliance date", FINAL),
]


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("timeline")
    (root / "regwatch.toml").write_text(f'[archive]\nhome = "{root / "home"}"\n', encoding="utf-8")
    loaded = load_config(root / "regwatch.toml", environ={})
    with Archive.open(loaded.home) as archive:
        archive.store([publication_from_pi(FILING)])
        archive.store([publication_from_fr(record) for record in RECORDS])
        archive.store_section_changes([SECTION])
        for batch in archive.documents_to_tag("t"):
            archive.store_tags(
                [(item, tag_result(item.document["document_number"])) for item in batch], "t"
            )
    return loaded


def tag_result(number: str) -> dict:
    dates = {"compliance_on": COMPLIANCE} if number == FINAL else {}
    return {"tags": ["export_control"], "evidence": {}, "entities": {}, "dates": dates}


def invoke(config, *args: str):
    return CliRunner().invoke(main, ["--config", str(config.source), *args])


def test_show_json_lists_the_rulemaking_in_order_marking_this_document(config) -> None:
    result = invoke(config, "show", FINAL, "--format", "json")
    assert result.exit_code == 0, result.output
    timeline = json.loads(result.output)["timeline"]
    assert (timeline["rins"], timeline["dockets"]) == ([RIN], [])  # the final rule's own
    assert (timeline["documents"], timeline["omitted"], timeline["complete"]) == (5, 0, True)
    events = timeline["events"]
    assert [(e["date"], e["what"], e["document"]["source_id"]) for e in events] == EXPECTED
    assert [e["document"]["source_id"] for e in events if e["current"]] == [FINAL] * 4
    assert [e["date"] for e in events if e["upcoming"]] == [COMPLIANCE]
    assert events[0]["document"]["source"] == "federal_register_pi"
    (ecfr,) = [e for e in events if e["kind"] == "ecfr"]
    assert ecfr["sections"] == [
        {"section": "§ 744.23", "in_force": "2026-08-14", "url": SECTION.new_url}
    ]
    assert [e["document"]["url"] for e in events if e["document"]["source_id"] == NOTICE] == [None]
    [change] = json.loads(result.output)["section_changes"]
    assert (change["old_url"], change["new_url"]) == (None, SECTION.new_url)


def test_show_text_prints_the_timeline(config) -> None:
    result = invoke(config, "show", PROPOSED, "--source", "federal_register")
    assert result.exit_code == 0, result.output
    part = result.output.split("\ntimeline:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert part[0] == f"  rulemaking: RIN {RIN}, docket {DOCKET}"
    assert part[1] == (
        f"  2025-06-02 filed for public inspection (regular filing): {PROPOSED} "
        "Streamlining Export Controls for Drone Exports (this document)"
    )
    assert part[4].startswith(f"  2026-08-14 published as rule: {FINAL} Streamlining")
    assert not part[4].endswith("(this document)")
    assert part[7] == f"  2026-08-26 published as notice: {NOTICE} {HOSTILE}"
    assert part[-1].startswith(f"  {COMPLIANCE} compliance date (upcoming): {FINAL} ")
    assert len(part) == 1 + len(EXPECTED)


def test_a_rulemaking_of_hundreds_of_documents_is_capped_and_says_so(tmp_path) -> None:
    records = [
        document(f"2024-{n:05d}", f"Notice {n}", "Notice", f"2024-01-{1 + n % 28:02d}")
        for n in range(60)
    ]
    with Archive.open(tmp_path / "home") as archive:
        archive.store([publication_from_fr(record) for record in records])
        timeline = archive.document("2024-00000")["timeline"]
    assert (timeline["documents"], timeline["omitted"], timeline["complete"]) == (25, 35, True)
    assert len(timeline["events"]) == 25
    assert [e["document"]["source_id"] for e in timeline["events"] if e["current"]] == [
        "2024-00000"
    ]


def test_a_filing_shows_its_scheduled_publication_until_withdrawn(tmp_path) -> None:
    pending = FILING | {"document_number": "2026-19001", "docket_numbers": ["BIS-2026-0001"]}
    with Archive.open(tmp_path / "home") as archive:
        archive.store([publication_from_pi(FILING), publication_from_pi(pending)])
        listed = archive.document(PROPOSED, today="2025-06-02")["timeline"]["events"]
        archive.mark_withdrawn("federal_register_pi", "2025-06-02", ["2026-19001"])
        withdrawn = archive.document(PROPOSED, today="2025-06-02")["timeline"]["events"]
    assert [(e["date"], e["what"], e["upcoming"]) for e in listed] == [
        ("2025-06-02", "filed for public inspection (regular filing)", False),
        ("2025-06-03", "scheduled for publication", True),
    ]
    assert [(e["date"], e["what"]) for e in withdrawn] == [
        ("2025-06-02", "filed for public inspection (regular filing)"),
        (datetime.now(UTC).date().isoformat(), "withdrawn from public inspection"),
    ]


def test_the_document_page_has_the_timeline_escaped(config) -> None:
    with TestClient(create_app(config)) as client:
        page = client.get(f"/documents/federal_register/{FINAL}")
    assert page.status_code == 200
    html = page.text.split('<h2 id="timeline">Timeline</h2>', 1)[1].split("</section>", 1)[0]
    days = [chunk.split('"', 1)[0] for chunk in html.split('<time datetime="')[1:]]
    assert days == [day for day, _, _ in EXPECTED]
    assert f'<p class="meta">Rulemaking: RIN {RIN}</p>' in html
    assert '<li class="current"><time datetime="2026-08-14">' in html
    assert f'<a href="/documents/federal_register/{PROPOSED}">' in html
    assert f'<a href="/documents/federal_register_pi/{PROPOSED}">' in html
    assert f'<a href="{SECTION.new_url}" rel="noopener noreferrer">§ 744.23</a>' in html
    assert '<span class="tag">upcoming</span>' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }}" in html
    assert "<script>" not in page.text and "javascript:" not in page.text


def test_the_digest_lists_the_rulemakings_that_moved_this_week(config) -> None:
    with Archive.open(config.home, readonly=True) as archive:
        digest = build_digest(archive, iso_week("2026-W35"))  # 2026-08-24 .. 2026-08-30
    (moved,) = digest.rulemakings.rulemakings  # RIN 0694-AJ88 did not move: absent
    assert moved.key == f"RIN {RIN}"
    assert [e.day for e in moved.events if e.in_period] == ["2026-08-26", "2026-08-28"]
    pages = render(digest)
    text = pages.text.split("== Rulemakings that moved this week ==\n", 1)[1]
    text = text.split("== Changes and corrections ==", 1)[0]
    assert text.startswith(f"* RIN {RIN}: Streamlining Export Controls for Drone Exports\n")
    assert f"  2026-08-28 published as correction [this week]: {CORRECTION}\n" in text
    assert f"  2026-08-18 in the eCFR (§ 744.23): {FINAL}\n" in text
    assert f"  {COMPLIANCE} compliance date [upcoming]: {FINAL}\n" in text
    assert text.index("2025-06-02 filed") < text.index("2026-08-14 published as rule")
    assert OTHER_RIN not in pages.text and "Revisions to the Entity List" not in pages.text
    assert pages.text.index("== Export control ==") < pages.text.index("== Rulemakings that")
    md = pages.markdown.split("## Rulemakings that moved this week", 1)[1]
    assert f"  - 2026-08-28 published as correction **this week**: [{CORRECTION}](<" in md
    assert "\\<script\\>alert(1)\\</script\\>" in md
    html = pages.html.split("Rulemakings that moved this week</h2>", 1)[1]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "javascript:" not in html
    assert ">2026-08-28 published as correction</strong>" in html


def test_a_week_where_nothing_moved_says_so(config) -> None:
    with Archive.open(config.home, readonly=True) as archive:
        digest = build_digest(archive, iso_week("2026-W40"))
    assert digest.rulemakings.rulemakings == []
    assert "No rulemaking on the list's tags moved this period." in render(digest).text


def test_steps_show_takes_the_day_that_splits_past_from_upcoming(config) -> None:
    found = steps.show(config, FINAL, today=date(2026, 8, 20))
    upcoming = [(e["date"], e["what"]) for e in found["timeline"]["events"] if e["upcoming"]]
    assert upcoming == [
        ("2026-08-26", "published as notice"),
        ("2026-08-28", "published as correction"),
        (COMPLIANCE, "compliance date"),
    ]


def test_a_damaged_cell_never_stops_the_timeline_of_the_others(config, tmp_path) -> None:
    """A RIN or tag-result cell that is not JSON (a damaged or hand-edited row) failed the
    digest's rulemakings and `show` of every document of the rulemaking with SQLite's "malformed
    JSON"; now each lists every event but the notice's (its RINs cannot be read)."""
    home = tmp_path / "home"
    shutil.copytree(config.home, home)
    with sqlite3.connect(home / "regwatch.db") as conn:
        conn.execute(
            "UPDATE publications SET regulation_id_numbers = 'nope' WHERE source_id = ?", [NOTICE]
        )
        conn.execute(
            "UPDATE tag_results SET result = '[1' WHERE publication_id = "
            "(SELECT id FROM publications WHERE source_id = '2026-03003')"
        )
    (tmp_path / "regwatch.toml").write_text(f'[archive]\nhome = "{home}"\n', encoding="utf-8")
    damaged = load_config(tmp_path / "regwatch.toml", environ={})
    with Archive.open(home, readonly=True) as archive:
        digest = build_digest(archive, iso_week("2026-W35"))
    (moved,) = digest.rulemakings.rulemakings
    assert [e.day for e in moved.events if e.in_period] == ["2026-08-28"]
    result = invoke(damaged, "show", FINAL, "--format", "json")
    assert result.exit_code == 0, result.output
    events = json.loads(result.output)["timeline"]["events"]
    shown = [(e["date"], e["what"], e["document"]["source_id"]) for e in events]
    assert shown == [event for event in EXPECTED if event[2] != NOTICE]
