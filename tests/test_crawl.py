"""The Federal Register crawler: parse tests on verbatim recordings, crawl tests against the replay
server with rows read back from a real archive (SQLite file + index) through `archive.Archive`.
"""

from __future__ import annotations

import gzip
import json
import re
import sqlite3
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from functools import partial
from pathlib import Path

import pytest
import tantivy
from scrapy import Request, signals
from scrapy.exceptions import CloseSpider, DropItem
from scrapy.http import Response, TextResponse
from scrapy.settings import Settings
from scrapy.spiderloader import SpiderLoader
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

import crawlers.settings
import crawlers.sources
import scheduler
from archive import Archive, ArchiveError
from crawlers.items import Listed, Publication, Rejected
from crawlers.middlewares import BackoffRetryMiddleware
from crawlers.outcome import errors
from crawlers.pipelines import ArchivePipeline, next_watermark
from crawlers.run import CrawlResult, crawl, crawl_window, record_failed, user_agent
from crawlers.site import SiteSpider
from crawlers.sources import check_registry, registry, source_spec
from crawlers.spiders.federal_register import FederalRegisterSpider, Slice
from tests.conftest import REPLAY_DIR

FR_DIR = REPLAY_DIR / "federal_register"
RECORDED = FR_DIR / "recorded"
CONTACT = "crawler-tests@example.org"
# Fast but otherwise real: no politeness delay, millisecond backoff, Retry-After capped at 50 ms.
# RETRY_TIMES is pinned because the truncated-body scenario truncates exactly 1 + 5 attempts.
FAST = {
    "DOWNLOAD_DELAY": 0,
    "RETRY_BACKOFF_BASE": 0.001,
    "RETRY_AFTER_MAX": 0.05,
    "RETRY_TIMES": 5,
}
REPLAY_HOST = "http://127.0.0.1:8400/api/v1/"


def spider(base_url: str = REPLAY_HOST, **settings) -> FederalRegisterSpider:
    crawler = get_crawler(FederalRegisterSpider, {"REGWATCH_BASE_URL": base_url, **settings})
    return FederalRegisterSpider.from_crawler(crawler, since="2024-01-01", until="2024-12-31")


def response(
    name: str, meta: dict, kind: str = "application/json; charset=utf-8", body: bytes = b""
) -> Response:
    """The recording `name` (or `body`) as the answer to a request carrying `meta`."""
    body = body or (FR_DIR / name).read_bytes()
    request = Request("http://127.0.0.1:8400/api/v1/documents.json?x=1", meta=meta)
    return TextResponse(request.url, body=body, headers={"Content-Type": kind}, request=request)


def whole_range(day: str) -> dict:
    return {"slice": Slice(date.fromisoformat(day), date.fromisoformat(day))}


def store_numbers(first: str, last: str) -> set[str]:
    with gzip.open(FR_DIR / "store.jsonl.gz", "rt", encoding="utf-8") as lines:
        records = (json.loads(line) for line in lines)
        return {r["document_number"] for r in records if first <= r["publication_date"] <= last}


def rows(home: Path, first: str, last: str) -> dict[str, dict]:
    with Archive.open(home) as archive:
        return {r["source_id"]: r for r in archive.publications(since=first, until=last)}


def watermark(home: Path) -> str | None:
    with Archive.open(home) as archive:
        return archive.watermark("federal_register")


def run(home: Path, server, first: str, last: str, **settings):
    return crawl(
        home,
        since=first,
        until=last,
        base_url=server.url,
        contact=CONTACT,
        settings={**FAST, **settings},
    )


# --- parse tests: verbatim recordings in, exact items and requests out ---------------------------


def test_parse_last_page_yields_the_exact_publication_and_no_request():
    meta = whole_range("1994-01-03")
    out = list(spider().parse(response("recorded/search-single-last-page.json", meta)))
    record = json.loads((RECORDED / "search-single-last-page.json").read_text())["results"][0]
    assert out == [
        Publication(
            source="federal_register",
            source_id="93-32104",
            title=(
                "Drawdown of Commodities and Services From the Inventory and Resources of the "
                "Department of Defense To Maintain Egypt's Military Readiness and Security"
            ),
            publication_date="1994-01-03",
            url=(
                "https://www.federalregister.gov/documents/1994/01/03/93-32104/drawdown-of-"
                "commodities-and-services-from-the-inventory-and-resources-of-the-department-"
                "of-defense"
            ),
            type="Presidential Document",
            agencies=[
                {
                    "raw_name": "EXECUTIVE OFFICE OF THE PRESIDENT",
                    "name": "Executive Office of the President",
                    "id": 538,
                    "url": "https://www.federalregister.gov/agencies/executive-office-of-the-president",
                    "json_url": "https://www.federalregister.gov/api/v1/agencies/538",
                    "parent_id": None,
                    "slug": "executive-office-of-the-president",
                }
            ],
            raw=record,
            family="fr:93-32104",
        ),
        Listed("federal_register", {"1994-01-03": 1}),
    ]


def test_all_fields_records_keep_cfr_dockets_and_rins():
    records = json.loads((RECORDED / "search-all-fields-page-one.json").read_text())["results"]
    items = [spider().item(record) for record in records]
    first = items[0]
    assert [i.source_id for i in items] == ["2024-31396", "2024-30747"]
    assert first.cfr_references == [
        {"chapter": None, "citation_url": None, "part": "52", "title": 40}
    ]
    assert first.docket_ids == ["EPA-R09-OAR-2023-0649", "FRL-11647-02-R9"]
    assert first.action == "Final rule."
    assert "page_views" not in first.raw


def test_next_page_url_is_followed_verbatim_on_the_canonical_host():
    recorded = json.loads((RECORDED / "search-newest-page-one.json").read_text())
    meta = whole_range("2024-12-31")
    default = spider("https://www.federalregister.gov/api/v1/", REGWATCH_SLICE_MAX=100_000)
    out = list(default.parse(response("recorded/search-newest-page-one.json", meta)))
    assert out[-1].url == recorded["next_page_url"]


def test_next_page_url_on_the_canonical_host_is_rebased_onto_a_configured_replay_host():
    recorded = json.loads((RECORDED / "search-newest-page-one.json").read_text())
    meta = whole_range("2024-12-31")
    out = list(spider().parse(response("recorded/search-newest-page-one.json", meta)))
    expected = recorded["next_page_url"].replace(
        "https://www.federalregister.gov", "http://127.0.0.1:8400"
    )
    assert [type(o).__name__ for o in out] == ["Request"]  # the page's items wait for the slice
    assert out[-1].url == expected


def test_a_slice_reading_count_10000_is_split_in_halves_without_items():
    meta = {"slice": Slice(date(2024, 1, 1), date(2024, 12, 31))}
    out = list(spider().parse(response("recorded/search-newest-page-one.json", meta)))
    assert [(o.meta["slice"].first, o.meta["slice"].last) for o in out] == [
        (date(2024, 1, 1), date(2024, 7, 1)),
        (date(2024, 7, 2), date(2024, 12, 31)),
    ]
    assert "conditions%5Bpublication_date%5D%5Bgte%5D=2024-07-02" in out[1].url


def test_one_day_still_at_the_cap_is_paged_and_then_reported_incomplete():
    s = spider()
    out = list(s.parse(response("recorded/search-newest-page-one.json", whole_range("2024-12-31"))))
    assert [type(o).__name__ for o in out] == ["Request"]
    last = json.loads((FR_DIR / "recorded/search-single-last-page.json").read_bytes())
    last["results"][0]["publication_date"] = "2024-12-31"  # synthetic: a last page of that day
    assert list(s.parse(response("", out[-1].meta, body=json.dumps(last).encode()))) == []
    assert s.crawler.stats.get_value("regwatch/errors") == [
        "publication dates 2024-12-31..2024-12-31, page 2: count 10000 reaches the API cap,"
        " not all listed"
    ]


def test_first_request_asks_for_every_stored_field_with_the_real_query():
    url = spider().search_url(date(2023, 10, 1), date(2023, 10, 31))
    assert url.startswith(
        "http://127.0.0.1:8400/api/v1/documents.json?"
        "conditions%5Bpublication_date%5D%5Bgte%5D=2023-10-01&"
        "conditions%5Bpublication_date%5D%5Blte%5D=2023-10-31&fields%5B%5D=document_number&"
    )
    assert url.endswith("&order=oldest&per_page=1000")
    for field in ("abstract", "agencies", "cfr_references", "docket_ids", "topics", "html_url"):
        assert f"fields%5B%5D={field}&" in url


def test_the_html_wall_closes_the_spider_loudly():
    s = spider()
    wall = response(
        "synthetic/synthetic-request-access.html", whole_range("2024-12-31"), "text/html"
    )
    with pytest.raises(CloseSpider) as closed:
        list(s.parse(wall))
    assert closed.value.reason == "access_wall"
    assert "'Request Access' page" in s.crawler.stats.get_value("regwatch/errors")[0]


def test_malformed_json_yields_nothing_and_records_a_failure():
    s = spider()
    assert (
        list(s.parse(response("synthetic/synthetic-malformed.json", whole_range("2024-12-31"))))
        == []
    )
    assert "malformed JSON" in s.crawler.stats.get_value("regwatch/errors")[0]


def test_a_record_without_title_is_rejected_named_and_fails_the_crawl(tmp_path):
    item = spider().item({"document_number": "2023-99999", "publication_date": "2023-10-02"})
    assert item == Rejected("federal_register", "2023-99999", "missing title")
    stats = get_crawler().stats
    pipeline = ArchivePipeline(tmp_path, "federal_register", 10, stats)
    with pytest.raises(DropItem, match=r"^federal_register 2023-99999: missing title$"):
        pipeline.process_item(item)
    assert errors(stats) == ["record rejected: federal_register 2023-99999: missing title"]


def test_an_exception_in_a_spider_callback_fails_the_crawl_in_one_line(tmp_path):
    """Scrapy only logs a callback's exception: the items of that response are lost, so the
    pipeline records it and the crawl is not a success (its watermark stays)."""
    s = spider(REGWATCH_HOME=str(tmp_path), REGWATCH_SOURCE="federal_register")
    pipeline = ArchivePipeline.from_crawler(s.crawler)  # signals hold receivers weakly
    page = response("recorded/search-single-last-page.json", whole_range("2024-12-31"))
    s.crawler.signals.send_catch_log(
        signals.spider_error,
        failure=Failure(ValueError("Input object is not an XML element")),
        response=page,
        spider=s,
    )
    assert errors(s.crawler.stats) == [
        "http://127.0.0.1:8400/api/v1/documents.json?x=1: reading it failed:"
        " ValueError: Input object is not an XML element"
    ]
    assert pipeline.stats.get_value("regwatch/failures") == 1


def test_a_publication_the_archive_refuses_is_dropped_and_its_batch_still_stored(tmp_path):
    stats = get_crawler().stats
    pipeline = ArchivePipeline(tmp_path, "federal_register", 10, stats)
    good = Publication("federal_register", "2023-21000", "A notice", "2023-10-02")
    bad = Publication(
        "federal_register", "2023-21001", "Bad date", "2023-10-02", effective_on="10/2/23"
    )
    pipeline.open_spider()
    pipeline.process_item(good)
    pipeline.process_item(bad)
    pipeline.close_spider()
    pipeline.archive.close()
    assert (stats.get_value("item_dropped_count"), stats.get_value("regwatch/inserted")) == (1, 1)
    assert set(rows(tmp_path, "2023-10-02", "2023-10-02")) == {"2023-21000"}
    assert errors(stats)[0].startswith(
        "record rejected by the archive: federal_register 2023-21001"
    )


def test_a_full_disk_at_the_index_commit_fails_the_crawl(tmp_path, monkeypatch):
    """The batch is in SQLite but not searchable: tantivy's error was taken for a bad record,
    the batch retried one by one (each "unchanged"), and the crawl passed as ok."""
    Archive.open(tmp_path).close()  # an archive with its (empty) index
    stats = get_crawler().stats
    pipeline = ArchivePipeline(tmp_path, "federal_register", 10, stats)
    pipeline.open_spider()
    full = "An IO error occurred: 'No space left on device (os error 28)'"

    def no_room(writer: tantivy.IndexWriter) -> None:
        raise ValueError(full)

    monkeypatch.setattr(tantivy.IndexWriter, "commit", no_room)
    pipeline.process_item(Publication("federal_register", "2023-21000", "A notice", "2023-10-02"))
    pipeline.close_spider()
    assert errors(stats) == [
        f"storing 1 publications failed: cannot write search index {tmp_path / 'index'}: {full}"
    ]
    monkeypatch.undo()  # room again: the next writer makes it searchable
    pipeline.archive.close()
    with Archive.open(tmp_path, readonly=True) as archive:
        assert archive.index_health().problem is None


def test_a_full_disk_while_a_refused_batch_is_retried_fails_the_crawl_in_one_line(
    tmp_path, monkeypatch
):
    """One record the archive refuses sends its batch item by item; the disk fills on the first
    item: the error escaped `close_spider`, Scrapy only logged it, and the crawl passed as ok."""
    Archive.open(tmp_path).close()
    s = spider(
        REGWATCH_HOME=str(tmp_path), REGWATCH_SOURCE="federal_register", REGWATCH_BATCH_SIZE=10
    )
    pipeline = ArchivePipeline.from_crawler(s.crawler)
    pipeline.open_spider()
    full = "An IO error occurred: 'No space left on device (os error 28)'"

    def no_room(writer: tantivy.IndexWriter) -> None:
        raise ValueError(full)

    monkeypatch.setattr(tantivy.IndexWriter, "commit", no_room)
    for number, effective_on in (
        ("2023-21000", None),
        ("2023-21001", "10/2/23"),
        ("2023-21002", None),
    ):
        pipeline.process_item(
            Publication(
                "federal_register", number, "A notice", "2023-10-02", effective_on=effective_on
            )
        )
    pipeline.close_spider()
    monkeypatch.undo()
    pipeline.spider_closed(s, "finished")
    told = f"storing 3 publications failed: cannot write search index {tmp_path / 'index'}: {full}"
    assert errors(s.crawler.stats) == [told]
    with Archive.open(tmp_path) as archive:
        assert archive.watermark("federal_register") is None
        [record] = archive.crawl_records(1)
    assert (record.last_ok, record.recent) == (None, [(False, told)])


def test_watermark_moves_forward_only_over_contiguous_successful_ranges():
    d = date.fromisoformat
    assert next_watermark(None, d("2023-10-01"), d("2023-10-31")) == "2023-10-31"
    assert next_watermark("2023-10-31", d("2023-10-28"), d("2023-11-05")) == "2023-11-05"
    assert next_watermark("2023-10-31", d("2023-11-01"), d("2023-11-05")) == "2023-11-05"
    assert next_watermark("2023-10-31", d("2020-01-01"), d("2020-12-31")) == "2023-10-31"
    assert next_watermark("2023-10-31", d("2023-11-02"), d("2023-11-05")) == "2023-10-31"


def test_retry_waits_for_retry_after_capped_and_backs_off_otherwise():
    project = {k: v for k, v in vars(crawlers.settings).items() if k.isupper()}
    crawler = get_crawler(
        settings_dict={**project, "RETRY_AFTER_MAX": 30, "RETRY_BACKOFF_BASE": 0.5}
    )
    middleware = BackoffRetryMiddleware.from_crawler(crawler)
    request = Request("http://127.0.0.1/api/v1/documents.json", meta={"retry_times": 2})
    in_7s = format_datetime(datetime.now(UTC) + timedelta(seconds=7), usegmt=True)

    def wait(status: int, retry_after: str | None = None) -> float:
        headers = {"Retry-After": retry_after} if retry_after else {}
        return middleware.delay(request, Response(request.url, status=status, headers=headers))

    assert wait(429, "12") == 12
    assert wait(503, "3600") == 30
    assert 5 < wait(429, in_7s) <= 7
    assert wait(500) == wait(429) == 0.5 * 2**2


def test_unknown_source_is_a_one_line_error_listing_valid_names():
    with pytest.raises(
        ValueError,
        match=r"^unknown source 'fedreg'; valid sources: bis, csl, ecfr, federal_register, "
        r"federal_register_fulltext, federal_register_pi, ntia$",
    ):
        source_spec("fedreg")


def test_the_source_registry_is_checked_when_read():
    assert check_registry(registry()) is registry()  # the shipped file holds sound facts
    spec = registry()["federal_register_fulltext"]
    for key, bad in (("max_attempts", 0), ("outage_grace_days", "7"), ("batch", 2.5)):
        with pytest.raises(ValueError, match=rf"^sources.json: federal_register_fulltext.{key} "):
            check_registry({"federal_register_fulltext": {**spec, key: bad}})
    with pytest.raises(ValueError, match="max_attempts must be a whole number of at least 1"):
        check_registry({"x": {**spec, "max_attempts": True}})
    with pytest.raises(
        ValueError, match=r"^sources.json: x.spider must be non-empty text, got ''$"
    ):
        check_registry({"x": {**spec, "spider": ""}})
    with pytest.raises(ValueError, match="x.download_delay must be seconds, got -1"):
        check_registry({"x": {**registry()["bis"], "download_delay": -1}})
    with pytest.raises(ValueError, match="x.revalidate_days must be a whole number of at least 1"):
        check_registry({"x": {**registry()["bis"], "revalidate_days": 0}})
    assert check_registry({"x": {**spec, "first_crawl_days": 0}})  # 0: no look-back


MISSING = object()  # the key left out of the source


@pytest.mark.parametrize("source", ["bis", "ntia"])
@pytest.mark.parametrize(
    ("key", "bad", "error"),
    [
        ("aliases", MISSING, "is missing"),
        ("aliases", "https://bis.gov/", "must be a list of http(s) URLs with a host, got 'https:"),
        ("aliases", ["bis.gov"], "must be a list of http(s) URLs with a host, got ['bis.gov']"),
        ("aliases", ["https:///"], "must be a list of http(s) URLs with a host"),
        ("not_found_titles", MISSING, "is missing"),
        ("not_found_titles", "Page not found", "must be a list of non-empty text, got 'Page"),
        ("not_found_titles", [""], "must be a list of non-empty text, got ['']"),
        ("wall_markers", [None], "must be a list of non-empty text, got [None]"),
        ("revalidate_days", MISSING, "is missing"),
        ("max_text_chars", MISSING, "is missing"),
        ("download_delay", MISSING, "is missing"),
        ("entry_path", "", "must be non-empty text, got ''"),
        ("item_path", MISSING, "is missing"),
        ("types", {"/press-release/": None}, "must be an object of path text to type text"),
        ("agencies", [{"name": "BIS"}], "must be a list of objects with raw_name, name and slug"),
    ],
)
def test_a_site_source_lacking_a_fact_or_holding_a_wrong_one_is_named_when_read(
    source, key, bad, error
):
    """A site source's facts are checked when the registry is read, never a `KeyError` or a
    crawl that misbehaves mid-way (an empty not-found title would match every page)."""
    spec = {k: v for k, v in registry()[source].items() if k != key}
    if bad is not MISSING:
        spec[key] = bad
    with pytest.raises(ValueError, match=rf"^sources.json: {source}.{key} {re.escape(error)}"):
        check_registry({source: spec})


def test_every_site_spider_is_named_as_one_in_the_registry_check():
    loader = SpiderLoader.from_settings(Settings({"SPIDER_MODULES": ["crawlers.spiders"]}))
    spiders = {name: loader.load(name) for name in loader.list()}
    assert {
        name for name, cls in spiders.items() if issubclass(cls, SiteSpider)
    } == crawlers.sources.SITE_SPIDERS


def test_user_agent_names_project_version_and_contact():
    agent = user_agent("ops@example.org")
    assert agent.startswith("regwatch/0.1.0 (+")
    assert agent.endswith("; ops@example.org)")


def test_window_starts_at_watermark_minus_overlap_and_ends_today():
    today = date(2023, 11, 5)
    window = partial(crawl_window, "federal_register", overlap_days=3, today=today)
    assert window(None, None, None) == ("2023-10-06", "2023-11-05")  # first crawl: 30 days
    assert window(None, None, "2023-10-31") == ("2023-10-28", "2023-11-05")
    assert window("2023-01-01", "2023-01-31", "2023-10-31") == ("2023-01-01", "2023-01-31")
    with pytest.raises(ValueError, match="since 2023-11-06 is after until 2023-11-05"):
        window("2023-11-06", "2023-11-05", None)
    with pytest.raises(ValueError, match=r"until 2023-11-06 is after today \(2023-11-05\)"):
        window(None, "2023-11-06", None)
    with pytest.raises(ValueError, match=r"since must be a date YYYY-MM-DD, got '2023-13-01'"):
        window("2023-13-01", None, None)


def test_crawl_reports_an_unusable_archive_home_before_starting(tmp_path):
    home = tmp_path / "a-file"
    home.write_text("not a directory")
    with pytest.raises(ArchiveError, match="cannot create archive directory"):
        crawl(home, since="2023-10-01", until="2023-10-02", contact=CONTACT)


def test_crawl_rejects_an_unknown_source_before_starting(tmp_path):
    with pytest.raises(
        ValueError,
        match=r"^unknown source 'nonesuch'; valid sources: bis, csl, ecfr, federal_register, ",
    ):
        crawl(tmp_path, source="nonesuch", since="2023-10-01", until="2023-10-02", contact=CONTACT)
    assert not (tmp_path / "regwatch.db").exists()


# --- crawl tests: Scrapy in a child process against the replay server, rows in a real archive ---


def test_full_crawl_stores_every_document_and_advances_the_watermark(tmp_path, replay):
    server = replay()
    result = run(tmp_path, server, "2023-10-01", "2023-10-31")
    expected = store_numbers("2023-10-01", "2023-10-31")
    assert (result.ok, result.error) == (True, None)
    assert (result.inserted, result.updated, result.unchanged) == (len(expected), 0, 0)
    assert set(rows(tmp_path, "2023-10-01", "2023-10-31")) == expected
    assert result.watermark == watermark(tmp_path) == "2023-10-31"
    assert result.requests == len(server.requests) == 7  # month split into 7 slices < 1,000
    assert set(server.user_agents) == {user_agent(CONTACT)}
    labelled = rows(tmp_path, "2023-10-25", "2023-10-25")["2023-23055"]
    assert labelled["type"] == "Rule"
    assert [a["slug"] for a in labelled["agencies"]] == [
        "commerce-department",
        "industry-and-security-bureau",
    ]


def test_second_crawl_of_the_same_range_writes_nothing_new(tmp_path, replay):
    server = replay()
    first = run(tmp_path, server, "2023-10-23", "2023-10-27")
    again = run(tmp_path, server, "2023-10-23", "2023-10-27")
    assert first.ok and again.ok
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, first.inserted)
    assert len(rows(tmp_path, "2023-10-23", "2023-10-27")) == first.inserted


def test_crawling_a_damaged_document_again_repairs_it_without_a_new_version(tmp_path, replay):
    """A stored list cell damaged or hand-edited on disk survived a crawl of the very same
    document (content hash unchanged: "unchanged", nothing written); now the crawl rewrites it
    and counts it repaired (in its result and crawl log), and the row keeps its version."""
    server = replay()
    first = run(tmp_path, server, "2023-10-25", "2023-10-25")
    with sqlite3.connect(tmp_path / "regwatch.db") as conn:
        conn.execute("UPDATE publications SET agencies = '{broken' WHERE source_id = '2023-23055'")
    conn.close()
    again = run(tmp_path, server, "2023-10-25", "2023-10-25")
    assert again.ok and (again.inserted, again.updated) == (0, 0)
    assert (again.unchanged, again.repaired) == (first.inserted - 1, 1)
    repaired = rows(tmp_path, "2023-10-25", "2023-10-25")["2023-23055"]
    assert [a["slug"] for a in repaired["agencies"]] == [
        "commerce-department",
        "industry-and-security-bureau",
    ]
    assert repaired["version"] == 1
    with Archive.open(tmp_path) as archive:
        assert archive.status().last_crawl["federal_register"].stats["repaired"] == 1


def test_a_busy_day_is_paged_over_more_than_two_pages_by_next_page_url(tmp_path, replay):
    server = replay()
    result = run(
        tmp_path, server, "2023-09-29", "2023-09-29", REGWATCH_PER_PAGE=100, REGWATCH_SLICE_MAX=100
    )
    expected = store_numbers("2023-09-29", "2023-09-29")
    assert len(expected) > 200
    assert result.ok and result.inserted == len(expected)
    assert set(rows(tmp_path, "2023-09-29", "2023-09-29")) == expected
    followed = [r for r in server.requests if r.startswith("/api/v1/documents?")]
    assert len(followed) == 2 and all("search_after_cursor=" in r for r in followed)


def test_a_half_year_reading_10000_is_sliced_until_every_document_is_stored(tmp_path, replay):
    server = replay()
    result = run(tmp_path, server, "2023-07-01", "2023-12-31")
    expected = store_numbers("2023-07-01", "2023-12-31")
    assert len(expected) > 10000
    assert result.ok and result.inserted == len(expected)
    assert set(rows(tmp_path, "2023-07-01", "2023-12-31")) == expected
    assert not any(r.startswith("/api/v1/documents?") for r in server.requests)  # no paging


@pytest.mark.parametrize("scenario", ["first-500", "first-429-retry-after"])
def test_a_retryable_error_is_retried_then_the_crawl_succeeds(tmp_path, replay, scenario):
    server = replay(scenario)
    result = run(tmp_path, server, "2023-10-25", "2023-10-25")
    assert result.ok and result.inserted == len(store_numbers("2023-10-25", "2023-10-25"))
    assert result.requests == len(server.requests) == 2


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ("first-malformed-json", "malformed JSON"),
        ("truncated-body", "ResponseDataLossError"),
        ("access-wall", "'Request Access' page"),
    ],
)
def test_a_broken_response_fails_the_crawl_without_partial_writes(
    tmp_path, replay, scenario, message
):
    run(tmp_path, replay(), "2023-10-20", "2023-10-24")
    server = replay(scenario)
    failed = run(tmp_path, server, "2023-10-25", "2023-10-25")
    assert not failed.ok and message in failed.error
    assert (failed.inserted, failed.watermark, watermark(tmp_path)) == (
        0,
        "2023-10-24",
        "2023-10-24",
    )
    assert rows(tmp_path, "2023-10-25", "2023-10-25") == {}
    rerun = run(tmp_path, server, "2023-10-25", "2023-10-25")
    assert rerun.ok and rerun.inserted == len(store_numbers("2023-10-25", "2023-10-25"))
    assert watermark(tmp_path) == "2023-10-25"


def test_a_corrected_document_is_updated_in_place(tmp_path, replay):
    first = run(tmp_path, replay(), "2023-10-25", "2023-10-25")
    before = rows(tmp_path, "2023-10-25", "2023-10-25")
    second = run(tmp_path, replay("corrected-document"), "2023-10-25", "2023-10-25")
    after = rows(tmp_path, "2023-10-25", "2023-10-25")
    assert (second.inserted, second.updated, second.unchanged) == (0, 1, first.inserted - 1)
    assert set(after) == set(before)
    changed = after["2023-23055"]
    assert changed["abstract"].endswith(
        "[SYNTHETIC CORRECTION: replay test of a changed document.]"
    )
    assert changed["id"] == before["2023-23055"]["id"]
    assert changed["version"] == before["2023-23055"]["version"] + 1


def test_a_poisoned_record_fails_the_crawl_by_name_and_the_rest_is_stored(tmp_path, replay):
    poison = tmp_path / "synthetic-poisoned-document.jsonl"
    poison.write_text(json.dumps({"document_number": "2023-23055", "agencies": "BIS"}) + "\n")
    result = run(tmp_path / "home", replay({"overrides": str(poison)}), "2023-10-25", "2023-10-25")
    assert not result.ok
    assert "record rejected: federal_register 2023-23055: agencies must be a list" in result.error
    stored = rows(tmp_path / "home", "2023-10-25", "2023-10-25")
    assert set(stored) == store_numbers("2023-10-25", "2023-10-25") - {"2023-23055"}
    assert watermark(tmp_path / "home") is None  # fetched again by the next crawl


def test_an_item_a_pipeline_raised_on_fails_the_crawl_by_name(tmp_path, replay):
    """Scrapy only logs a pipeline's exception (`item_error`): the item is lost, so the crawl must
    fail naming it and keep its watermark (the next crawl fetches it again)."""
    pipelines = {
        "tests.synthetic_failing_pipeline.SyntheticFailingPipeline": 200,
        "crawlers.pipelines.ArchivePipeline": 300,
    }
    result = run(
        tmp_path,
        replay(),
        "2023-10-25",
        "2023-10-25",
        ITEM_PIPELINES=pipelines,
        SYNTHETIC_FAILING_ID="2023-23055",
    )
    assert (result.ok, result.error) == (
        False,
        "federal_register 2023-23055: processing it failed:"
        " RuntimeError: synthetic failure of a pipeline",
    )
    stored = rows(tmp_path, "2023-10-25", "2023-10-25")
    assert set(stored) == store_numbers("2023-10-25", "2023-10-25") - {"2023-23055"}
    assert watermark(tmp_path) is None


def test_a_crawl_the_parent_logs_keeps_its_repaired_and_withdrawn_counts(tmp_path):
    """When the crawl's child could not write the crawl log, the parent wrote only the new,
    changed and unchanged counts: documents repaired or filings withdrawn left no trace."""
    Archive.open(tmp_path).close()
    done = CrawlResult(
        "federal_register_pi", False, "2023-10-25", "2023-10-25", unchanged=3, repaired=2,
        withdrawn=1, error="logging the crawl failed",
    )  # fmt: skip
    assert record_failed(tmp_path, done, "2023-10-25T12:00:00+00:00").logged
    with Archive.open(tmp_path) as archive:
        stats = archive.status().last_crawl["federal_register_pi"].stats
    assert (stats["unchanged"], stats["repaired"], stats["withdrawn"]) == (3, 2, 1)
    assert "bodies" not in stats  # the crawl read no full text


def test_a_crawl_result_reads_the_same_in_the_cli_and_the_scheduler():
    """The scheduler's job log left out documents repaired and filings withdrawn, and worded a
    full-text fetch as documents (`0 new, 0 changed, 0 unchanged`)."""
    crawled = CrawlResult("federal_register_pi", True, "2023-10-25", "2023-10-25", inserted=1,
                          unchanged=3, repaired=2, withdrawn=1)  # fmt: skip
    words = "1 new, 0 changed, 3 unchanged, 2 repaired, 1 withdrawn"
    assert scheduler._crawl_text(crawled) == f"federal_register_pi {words}"
    bodies = CrawlResult("federal_register_fulltext", True, "2023-10-25", "2023-10-25", bodies=4)
    assert scheduler._crawl_text(bodies) == "federal_register_fulltext 4 full texts read, 0 failed"
