"""The crawl ledger: per source and day, what the Federal Register listed, from real crawls of the
replay server into a real archive, read back from SQLite, the digest and `regwatch status`.
A quiet weekend is listed 0; a failed slice leaves its days unconfirmed; a day whose stored
documents fall short of the listed count makes the digest "may be incomplete" and `status` flag it.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
from collections import Counter
from datetime import date

import pytest
from click.testing import CliRunner
from scrapy import Request
from scrapy.http import TextResponse

from archive import Archive
from crawlers.items import Listed, Publication
from crawlers.run import crawl
from crawlers.spiders.federal_register import Slice
from regwatch.cli import main
from tests.conftest import REPLAY_DIR
from tests.test_crawl import spider

FAST = {"DOWNLOAD_DELAY": 0, "RETRY_BACKOFF_BASE": 0.001, "RETRY_TIMES": 1}
FIRST, LAST = "2023-10-19", "2023-10-24"  # Thursday to Tuesday: 21 and 22 are a quiet weekend


def store_counts(first: str, last: str) -> dict[str, int]:
    """The replay's real documents per publication day (days without any are absent)."""
    with gzip.open(REPLAY_DIR / "federal_register" / "store.jsonl.gz", "rt") as lines:
        days = (json.loads(line)["publication_date"] for line in lines)
        return dict(Counter(day for day in days if first <= day <= last))


def ledger_rows(home) -> dict[str, int]:
    conn = sqlite3.connect(home / "regwatch.db")
    try:
        return dict(conn.execute("SELECT day, listed FROM crawl_ledger ORDER BY day"))
    finally:
        conn.close()


def run(home, url: str, first: str, last: str, **settings):
    return crawl(
        home,
        since=first,
        until=last,
        base_url=url,
        contact="ledger-tests@example.org",
        settings={**FAST, **settings},
    )


def cli(home, *args: str):
    return CliRunner(env={"REGWATCH_HOME": str(home)}).invoke(main, list(args))


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REGWATCH_CONFIG", raising=False)
    return tmp_path


@pytest.mark.parametrize("slice_max", [1000, 150])  # one six-day slice; halves down to single days
def test_the_ledger_holds_the_replays_real_counts_and_a_quiet_weekend_as_zero(
    workdir, replay, slice_max
):
    home = workdir / "home"
    result = run(home, replay().url, FIRST, LAST, REGWATCH_SLICE_MAX=slice_max)
    assert result.ok, result.error
    real = store_counts(FIRST, LAST)
    assert real["2023-10-20"] == 157 and "2023-10-21" not in real and "2023-10-22" not in real
    days = [f"2023-10-{n}" for n in range(19, 25)]
    assert ledger_rows(home) == {day: real.get(day, 0) for day in days}
    with Archive.open(home, readonly=True) as archive:
        (coverage,) = archive.coverage(FIRST, LAST)
    assert coverage.listed == coverage.held == {day: real.get(day, 0) for day in days}
    digest = cli(home, "digest", "--until", LAST, "--days", "6")
    assert digest.exit_code == 0, digest.output
    text = (workdir / "data" / "digests" / f"digest-{FIRST}-to-{LAST}.txt").read_text()
    assert "MAY BE INCOMPLETE" not in text
    assert "2023-10-21  federal_register held 0 listed 0\n" in text


def test_a_day_short_of_its_listed_count_flags_the_digest_and_status(workdir, replay):
    home = workdir / "home"
    assert run(home, replay().url, FIRST, LAST).ok
    conn = sqlite3.connect(home / "regwatch.db")
    with conn:
        conn.execute(
            "DELETE FROM publications WHERE id = (SELECT MIN(id) FROM publications "
            "WHERE publication_date = '2023-10-23')"
        )
    conn.close()
    digest = cli(home, "digest", "--until", LAST, "--days", "6")
    assert digest.exit_code == 0, digest.output
    stem = workdir / "data" / "digests" / f"digest-{FIRST}-to-{LAST}"
    reason = "federal_register: 2023-10-23 holds 94 of the 95 documents the source listed"
    html, text, md = (stem.with_suffix(s).read_text() for s in (".html", ".txt", ".md"))
    assert "This digest may be incomplete." in html and reason in html
    assert "THIS DIGEST MAY BE INCOMPLETE" in text and reason in text
    assert "2023-10-23  federal_register held 94 listed 95 SHORT" in text
    assert "| 2023-10-23 | 94 **short** | 95 |" in md
    assert '<span class="day short"' in html and "2023-10-23: 94 of 95, short</span>" in html
    status = cli(home, "status")
    assert status.exit_code == 0, status.output
    assert "crawl ledger of federal_register, 2023-10-18 to 2023-10-24 (listed / held):" in (
        status.output
    )
    assert "  2023-10-23  95 / 94  SHORT by 1\n" in status.output
    assert "  2023-10-21  0 / 0\n" in status.output
    assert "  2023-10-18  not confirmed by a completed crawl / 0\n" in status.output


def test_a_failed_slice_leaves_its_days_unconfirmed_beside_completed_ones(workdir, replay):
    home = workdir / "home"
    failing = {
        "routes": [
            {
                "path": "/api/v1/documents.json",
                "query": {"conditions[publication_date][gte]": "2023-10-25"},
                "status": 500,
                "file": "synthetic/synthetic-500.json",
            }
        ]
    }
    result = run(home, replay(failing).url, FIRST, "2023-10-26", REGWATCH_SLICE_MAX=200)
    assert not result.ok and "2023-10-25..2023-10-26" in result.error
    real = store_counts(FIRST, LAST)
    assert ledger_rows(home) == {f"2023-10-{n}": real.get(f"2023-10-{n}", 0) for n in range(19, 25)}
    digest = cli(home, "digest", "--until", "2023-10-26", "--days", "4")
    assert digest.exit_code == 0, digest.output
    text = (workdir / "data" / "digests" / "digest-2023-10-23-to-2023-10-26.txt").read_text()
    unconfirmed = "2 days never confirmed by a completed crawl (2023-10-25..2023-10-26)"
    assert f"federal_register: {unconfirmed}" in text
    assert "2023-10-25  federal_register held 0 listed -\n" in text


def test_a_whole_failed_crawl_confirms_nothing(workdir, replay):
    home = workdir / "home"
    result = run(home, replay("first-malformed-json").url, "2023-10-25", "2023-10-25")
    assert not result.ok
    assert ledger_rows(home) == {}
    with Archive.open(home, readonly=True) as archive:
        assert archive.status().ledger == {}
        (coverage,) = archive.coverage("2023-10-25", "2023-10-25")
    assert coverage.listed == {"2023-10-25": None}


def page(records: list[dict], count: int) -> TextResponse:
    body = json.dumps({"count": count, "results": records}).encode()
    request = Request("http://127.0.0.1:8400/api/v1/documents.json?x=1")
    return TextResponse(request.url, body=body, request=request)


def fr_record(number: str, day: str) -> dict:
    return {"document_number": number, "title": f"Notice {number}", "publication_date": day}


def test_a_complete_slice_ends_with_its_per_day_listing_and_a_stray_date_gives_none():
    crawler = spider()
    part = Slice(date(2023, 10, 20), date(2023, 10, 22))
    records = [fr_record("a", "2023-10-20"), fr_record("b", "2023-10-20")]
    response = page(records, 2)
    response.request.meta["slice"] = part
    out = crawler.parse(response.replace(request=response.request))
    assert [type(o) for o in out] == [Publication, Publication, Listed]
    assert out[-1] == Listed(
        "federal_register", {"2023-10-20": 2, "2023-10-21": 0, "2023-10-22": 0}
    )
    stray = Slice(date(2023, 10, 20), date(2023, 10, 22))
    response = page([fr_record("c", "2023-10-20"), fr_record("d", "2023-10-23")], 2)
    response.request.meta["slice"] = stray
    assert all(not isinstance(o, Listed) for o in crawler.parse(response))


def test_the_ledger_refuses_what_is_not_a_day_or_a_count(tmp_path):
    with Archive.open(tmp_path) as archive:
        with pytest.raises(ValueError, match="'2023-W43' is not an ISO date"):
            archive.record_listed("federal_register", {"2023-W43": 1}, "t")
        with pytest.raises(ValueError, match="listed count -1 is not a count"):
            archive.record_listed("federal_register", {"2023-10-20": -1}, "t")
        assert archive.record_listed("federal_register", {"2023-10-20": 3}, "t") == 1
        assert archive.record_listed("federal_register", {"2023-10-20": 4}, "u") == 1
    assert ledger_rows(tmp_path) == {"2023-10-20": 4}
