"""Public inspection end to end: the spider against the replay server, rows in a real SQLite file,
alerts written to the outbox by the tag step.

The recorded filings (`recorded/pi-search.json`, `pi-document.json`: issue 2026-09-29) are real;
the filing of the BIS rule 2026-17231 and the withdrawal of 2026-19936 are synthetic scenarios.
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archive import Archive, RouteFilter
from archive.rows import raw_record
from crawlers.normalize import publication_from_pi
from crawlers.spiders.federal_register_pi import FederalRegisterPiSpider
from digests.chat import message
from digests.feeds import atom
from digests.period import iso_week
from digests.render import render
from digests.select import build_digest
from regwatch import steps
from regwatch.config import Config, load_config
from tests.conftest import REPLAY_DIR

RECORDED = REPLAY_DIR / "federal_register" / "recorded"
ISSUE = "2026-09-29"


def make_config(tmp_path: Path) -> Config:
    path = tmp_path / "regwatch.toml"
    path.write_text(
        f'[archive]\nhome = "{tmp_path / "home"}"\n'
        f'[digest]\noutput_dir = "{tmp_path / "out"}"\n'
        '[[alerts.routes]]\nname = "team"\nurl = "json://127.0.0.1:9/hook"\n',
        encoding="utf-8",
    )
    return load_config(path, environ={})


def crawl(config: Config, source: str, day: str, url: str):
    result = steps.crawl(config, source=source, since=day, until=day, base_url=url)
    assert result.ok, result.error
    return result


def query(config: Config, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(Path(config.home) / "regwatch.db") as conn:
        return conn.execute(sql, args).fetchall()


def test_a_recorded_filing_becomes_a_publication_of_its_family():
    record = json.loads((RECORDED / "pi-search.json").read_text())["results"][0]
    pub = publication_from_pi(record)
    assert (pub.source, pub.source_id, pub.family) == (
        "federal_register_pi",
        "2026-19930",
        "fr:2026-19930",
    )
    assert pub.title == (
        "Antidumping or Countervailing Duty Investigations, Orders, or Reviews: "
        "Light-Walled Rectangular Pipe and Tube from Mexico"
    )
    assert (pub.publication_date, pub.type, pub.url) == ("2026-09-30", "Notice", record["html_url"])
    assert pub.raw["filing_type"] == "regular" and "page_views" not in pub.raw


def test_special_and_regular_filings_of_an_issue_are_stored(tmp_path, replay):
    config = make_config(tmp_path)
    result = crawl(config, "federal_register_pi", ISSUE, replay().url)
    assert (result.inserted, result.dropped) == (3, 0)
    rows = query(
        config,
        "SELECT source_id, raw, family, withdrawn_at "
        "FROM publications WHERE source = 'federal_register_pi' ORDER BY source_id",
    )
    assert [(pid, raw_record(raw)["filing_type"], *rest) for pid, raw, *rest in rows] == [
        ("2026-19930", "regular", "fr:2026-19930", None),
        ("2026-19936", "regular", "fr:2026-19936", None),
        ("2026-19958", "special", "fr:2026-19958", None),
    ]


def test_a_withdrawn_filing_is_marked_and_kept_and_comes_back_if_listed_again(tmp_path, replay):
    config = make_config(tmp_path)
    crawl(config, "federal_register_pi", ISSUE, replay().url)
    again = crawl(config, "federal_register_pi", ISSUE, replay("pi-withdrawn").url)
    assert (again.inserted, again.updated) == (0, 0)
    rows = query(
        config,
        "SELECT source_id, withdrawn_at IS NOT NULL FROM publications ORDER BY source_id",
    )
    assert rows == [("2026-19930", 0), ("2026-19936", 1), ("2026-19958", 0)]
    (stats,) = query(config, "SELECT stats FROM crawl_log ORDER BY id DESC LIMIT 1")
    assert json.loads(stats[0])["withdrawn"] == 1
    crawl(config, "federal_register_pi", ISSUE, replay().url)
    assert query(config, "SELECT COUNT(*) FROM publications WHERE withdrawn_at IS NOT NULL") == [
        (0,)
    ]


def test_a_day_without_an_issue_withdraws_nothing(tmp_path, replay):
    config = make_config(tmp_path)
    server = replay()
    crawl(config, "federal_register_pi", ISSUE, server.url)
    empty = crawl(config, "federal_register_pi", "2024-12-29", server.url)
    assert (empty.inserted, empty.requests) == (0, 1)
    assert query(config, "SELECT COUNT(*) FROM publications WHERE withdrawn_at IS NULL") == [(3,)]


def test_an_issue_answered_as_no_issue_withdraws_none_of_its_filings(tmp_path, replay):
    """The real no-issue body (`{"count":0,"results":[]}`) for a day whose issue is stored: it says
    there is no issue, not that every filing of one was withdrawn (no false withdrawal alerts)."""
    config = make_config(tmp_path)
    crawl(config, "federal_register_pi", ISSUE, replay().url)
    no_issue = {
        "path": "/api/v1/public-inspection-documents.json",
        "query": {"conditions[available_on]": ISSUE},
        "status": 200,
        "file": "recorded/pi-available-on-no-issue.json",
    }
    again = crawl(config, "federal_register_pi", ISSUE, replay({"routes": [no_issue]}).url)
    assert (again.inserted, again.withdrawn) == (0, 0)
    assert query(config, "SELECT COUNT(*) FROM publications WHERE withdrawn_at IS NULL") == [(3,)]


def test_an_issue_answered_with_another_days_filings_withdraws_nothing_and_fails(tmp_path, replay):
    """SYNTHETIC: asked for the issue of 2026-09-29, the server (a stale cache) answers with a
    filing last on public inspection on 2026-09-28, count and all: the answer is another day's,
    not a list saying every stored filing of the 29th was withdrawn (no false withdrawal alerts)."""
    config = make_config(tmp_path)
    crawl(config, "federal_register_pi", ISSUE, replay().url)
    (record, *_) = json.loads((RECORDED / "pi-search.json").read_text())["results"]
    record |= {"document_number": "2026-19800", "last_public_inspection_issue": "2026-09-28"}
    stale = tmp_path / "synthetic-pi-stale.json"
    stale.write_text(json.dumps({"count": 1, "results": [record]}), encoding="utf-8")
    route = {
        "path": "/api/v1/public-inspection-documents.json",
        "query": {"conditions[available_on]": ISSUE},
        "status": 200,
        "file": str(stale),
    }
    server = replay({"routes": [route]})
    again = steps.crawl(
        config, source="federal_register_pi", since=ISSUE, until=ISSUE, base_url=server.url
    )
    assert not again.ok and again.withdrawn == 0
    assert "filing 2026-19800 was last on public inspection on 2026-09-28" in again.error
    assert query(config, "SELECT COUNT(*) FROM publications WHERE withdrawn_at IS NULL") == [(3,)]


def test_a_filing_later_published_is_one_family_alerted_once(tmp_path, replay):
    config = make_config(tmp_path)
    url = replay("pi-filing-published").url
    Archive.open(config.home).close()  # an empty archive, as `regwatch schedule` makes one
    steps.tag(config)  # the route exists before anything is stored
    for source in ("federal_register", "federal_register_pi"):  # the first crawl: a backfill
        assert crawl(config, source, "2026-08-20", url).ok
    # what is stored within a second of the first crawl's end counts as its backfill (never
    # alerted): a second crawl on an idle machine came that soon and its filing was not alerted
    time.sleep(1.1)
    assert crawl(config, "federal_register_pi", "2026-08-21", url).inserted == 1
    steps.tag(config)
    assert crawl(config, "federal_register", "2026-08-24", url).inserted == 2
    steps.tag(config)
    rows = query(
        config,
        "SELECT p.source, o.kind, p.family FROM alert_outbox o "
        "JOIN publications p ON p.id = o.publication_id "
        "WHERE p.source_id = '2026-17231' ORDER BY o.id",
    )
    assert rows == [
        ("federal_register_pi", "new", "fr:2026-17231"),
        ("federal_register", "updated", "fr:2026-17231"),
    ]
    kinds = query(config, "SELECT kind FROM alert_outbox WHERE kind = 'new'")
    assert len(kinds) == 2  # the filing, and 2026-17230 (published the same day, never filed here)


def test_only_the_last_14_days_of_a_long_range_are_read_and_the_watermark_covers_it_all():
    spider = FederalRegisterPiSpider(since="1994-01-01", until="2026-09-29")
    assert (spider.first_day.isoformat(), spider.until.isoformat()) == ("2026-09-16", "2026-09-29")
    # older filings are published documents by now: the range is covered, not left as a gap
    assert spider.since.isoformat() == "1994-01-01"


def test_the_latest_issue_is_read_only_by_a_crawl_ending_today(tmp_path, replay):
    server = replay()
    spider = FederalRegisterPiSpider(since="2026-09-29", until="2026-09-29")
    assert spider.spec["current_path"] == "public-inspection-documents/current.json"
    config = make_config(tmp_path)
    crawl(config, "federal_register_pi", ISSUE, server.url)
    assert not any("current.json" in target for target in server.requests)


def test_a_published_document_whose_filing_a_digest_sent_is_a_change_not_a_new_item(tmp_path):
    from archive import Archive, Publication

    def pub(source: str, day: str) -> Publication:
        return Publication(
            source=source,
            source_id="2026-17231",
            title="Revisions to the Entity List",
            publication_date=day,
            family="fr:2026-17231",
        )

    result = {"tags": ["export_control"], "scores": {"export_control": 0.9}, "evidence": {}}
    with Archive.open(tmp_path / "home") as archive:
        archive.store([pub("federal_register_pi", "2026-08-21")])
        for batch in archive.documents_to_tag("m"):
            archive.store_tags([(item, result) for item in batch], "m")
        (filing,) = archive.digest_items(
            "team", "2026-08-17", "2026-08-23", ["export_control"], None
        )
        archive.record_digest(
            "team",
            "2026-08-17",
            "2026-08-23",
            subject="s",
            recipients=["a@example.org"],
            items=[(filing["id"], filing["version"], "new")],
        )
        archive.store([pub("federal_register", "2026-08-24")])
        for batch in archive.documents_to_tag("m"):
            archive.store_tags([(item, result) for item in batch], "m")
        week = ("team", "2026-08-24", "2026-08-30")
        assert archive.digest_items(*week, ["export_control"], None) == []
        (change,) = archive.digest_changes(*week)
        assert (change["source"], change["sent_version"]) == ("federal_register", 0)


def test_a_withdrawn_filing_already_alerted_is_alerted_again_as_withdrawn_and_relisted(tmp_path):
    record = json.loads((RECORDED / "pi-search.json").read_text())["results"][1]
    filing = publication_from_pi(record)
    result = {"tags": ["export_control"], "scores": {"export_control": 0.9}, "evidence": {}}
    home = tmp_path / "home"
    with Archive.open(home) as archive:
        past = (datetime.now(UTC) - timedelta(seconds=5)).isoformat(timespec="seconds")
        archive.log_crawl(
            "federal_register_pi", started_at=past, finished_at=past, ok=True, stats={}
        )
        archive.register_routes(["team"])
        archive.store([filing])
        for batch in archive.documents_to_tag("t"):
            archive.store_tags([(item, result) for item in batch], "t", [RouteFilter("team")])
        assert [a.kind for a in archive.pending_alerts()] == ["new"]
        issue = record["last_public_inspection_issue"]
        assert archive.mark_withdrawn("federal_register_pi", issue, []) == 1
        first, withdrawn = archive.pending_alerts()
        assert archive.mark_withdrawn("federal_register_pi", issue, []) == 0  # once
        assert len(archive.pending_alerts()) == 2
        pages = render(build_digest(archive, iso_week("2026-W40")))
        assert archive.mark_withdrawn("federal_register_pi", issue, [filing.source_id]) == 0
        *_, relisted = archive.pending_alerts()
        doc = archive.document(filing.source_id)
        feed = atom("team", archive.feed_entries("team")).decode()
    assert (relisted.kind, relisted.version) == ("updated", withdrawn.version + 1)
    assert relisted.payload["relisted_at"] and not relisted.payload["withdrawn_at"]
    assert message(relisted.payload).startswith("**Back on public inspection:** [Autism")
    assert "<title>Back on public inspection: Autism" in feed
    assert [v["changed"] for v in doc["versions"]][-2:] == [["withdrawn_at"], ["withdrawn_at"]]
    day = withdrawn.payload["withdrawn_at"][:10]
    assert f"* [withdrawn from public inspection {day}] Autism Longitudinal" in pages.text
    assert (withdrawn.kind, withdrawn.version) == ("updated", first.version + 1)
    assert withdrawn.payload["withdrawn_at"]
    assert message(withdrawn.payload).startswith("**Withdrawn from public inspection:** [Autism")
