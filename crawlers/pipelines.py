"""Item pipeline: publications into the archive, in batches, then the watermark and crawl log.

Enters: `Publication`, `Rejected`, `Listed`, `Fetched`, `Listing` and `Body` items from a spider;
settings `REGWATCH_HOME`, `REGWATCH_SOURCE`, `REGWATCH_BATCH_SIZE`; the spider's `since`/`until`
at close.
Leaves: rows in the archive (`Archive.store`, one transaction per batch), a `Rejected` item dropped
as `DropItem("<source> <id>: <reason>")` (a publication the archive refuses is dropped and counted
the same way when its batch is retried item by item; an archive failure in that retry is one
failure counting the items it left unstored) and recorded as a failure naming it, so the
rest is stored but the crawl fails and its watermark stays (the record is fetched again); stats
`regwatch/inserted|updated|unchanged` (and `regwatch/repaired` when one was); the crawl ledger
(`Archive.record_listed`: a `Listed` item, which follows the items of a completed slice, is
recorded after the pending batch is stored; stat
`regwatch/ledger_days`); a `Listing` applied after the batch before it (`Archive.mark_withdrawn`:
stat `regwatch/withdrawn`); a `ScreeningSnapshot` or `SectionChange` stored by its own archive
function (`STORES`) at once, counted the same way; a `Body` stored or its failure recorded at once
(`Archive.store_body` / `record_body_failure`: stats `regwatch/bodies`, `regwatch/bodies_failed`),
but a failure of the host's (`Body.host_failed`) at the end: a run in which the host served no
full text is a failed crawl (`crawlers.outcome.body_outage`) whose failures use up no text's
attempts for the spider's `outage_grace_days`;
and at the end one `log_crawl` entry (stat `regwatch/logged` once it is written). The watermark is
set to `until` only after every batch is committed and only if the crawl finished (`finish_reason ==
"finished"`) with no recorded failure; it never moves back (backfills) and never jumps a gap
(`next_watermark`). The validators of the URLs the crawl read (`Fetched` items) are stored under the
same condition (a failed crawl asks for everything again next time). Then releases are linked to the
documents they name (`crawlers.crosslinks`). An archive that cannot be opened, written or logged to
(locked, disk full, read-only) is a recorded failure, never an exception out of the pipeline. So is
an exception a spider callback raised (Scrapy's `spider_error`: the items of that response are
lost, so the crawl must not count as a success), and one any pipeline raised on an item (Scrapy's
`item_error`: a failure naming the item).
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import astuple
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.http import Response
from scrapy.statscollectors import StatsCollector
from twisted.python.failure import Failure

from archive import Archive, ArchiveError, StoreResult
from crawlers.crosslinks import link_releases
from crawlers.items import (
    Body,
    Fetched,
    Listed,
    Listing,
    Publication,
    Rejected,
    ScreeningSnapshot,
    SectionChange,
)
from crawlers.outcome import (
    ERRORS,
    EXTRA,
    LOGGED,
    OK,
    STORED,
    WATERMARK,
    body_outage,
    errors,
    record_body_failure,
    record_failure,
)
from crawlers.urls import shown

logger = logging.getLogger(__name__)
# What a locked, full, read-only or damaged archive raises.
ARCHIVE_FAILURES = (ArchiveError, OSError, sqlite3.Error)
# Items that are not publications, and the archive function storing each.
STORES = {
    ScreeningSnapshot: lambda archive, item: archive.store_screening_snapshot(item),
    SectionChange: lambda archive, item: archive.store_section_changes([item]),
}


class ArchivePipeline:
    def __init__(self, home: Path, source: str, batch_size: int, stats: StatsCollector) -> None:
        self.home = home
        self.source = source
        self.batch_size = batch_size
        self.stats = stats
        self.batch: list[Publication] = []
        self.fetched: list[Fetched] = []
        self.host_failed: list[Body] = []  # recorded at the end: was the host down?
        self.archive: Archive | None = None
        self.started_at = ""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        settings = crawler.settings
        pipeline = cls(
            Path(settings["REGWATCH_HOME"]),
            settings["REGWATCH_SOURCE"],
            settings.getint("REGWATCH_BATCH_SIZE"),
            crawler.stats,
        )
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(pipeline.spider_error, signal=signals.spider_error)
        crawler.signals.connect(pipeline.item_error, signal=signals.item_error)
        return pipeline

    def spider_error(self, failure: Failure, response: Response) -> None:
        """A spider callback raised: what its response held is lost, so the crawl fails."""
        problem = f"{type(failure.value).__name__}: {failure.value}"
        record_failure(self.stats, f"{shown(response.url)}: reading it failed: {problem}"[:500])

    def item_error(self, item: Any, response: Response | None, failure: Failure) -> None:
        """A pipeline raised on an item: Scrapy only logs it, the item is lost, the crawl fails."""
        problem = f"{type(failure.value).__name__}: {failure.value}"
        record_failure(self.stats, f"{_label(item)}: processing it failed: {problem}"[:500])

    def open_spider(self) -> None:
        """Open the archive; if it cannot be, a failure is recorded and nothing is requested."""
        self.started_at = _now()
        try:
            self.archive = Archive.open(self.home)
        except ARCHIVE_FAILURES as exc:
            record_failure(self.stats, f"opening the archive failed: {exc}")

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Rejected):
            message = f"{item.source} {item.source_id}: {item.reason}"
            record_failure(self.stats, f"record rejected: {message}")
            raise DropItem(message)
        if isinstance(item, Listed):
            self.record_listed(item)
            return item
        if isinstance(item, Fetched):
            self.fetched.append(item)
            return item
        if isinstance(item, Listing | Body):
            self.flush()
            self.apply(item)
            return item
        if type(item) in STORES:
            self.store_other(item)
            return item
        self.batch.append(item)
        if len(self.batch) >= self.batch_size:
            self.flush()
        return item

    def apply(self, item: Listing | Body) -> None:
        """Mark an issue's missing filings withdrawn, or store (or record the failure of) a body."""
        if self.archive is None:
            return
        try:
            if isinstance(item, Listing):
                withdrawn = self.archive.mark_withdrawn(
                    item.source, item.issue_date, item.document_numbers
                )
                self.stats.inc_value("regwatch/withdrawn", withdrawn)
            elif item.text is not None:
                self.archive.store_body(item.source, item.source_id, item.text)
                self.stats.inc_value("regwatch/bodies")
            else:
                record_body_failure(self.stats, item.error or "?", host_failed=item.host_failed)
                if item.host_failed:
                    self.host_failed.append(item)
                else:
                    self.archive.record_body_failure(item.source, item.source_id, item.error or "?")
        except (*ARCHIVE_FAILURES, ValueError) as exc:
            record_failure(self.stats, f"{item.source}: writing to the archive failed: {exc}")

    def close_spider(self) -> None:
        self.flush()

    def flush(self) -> None:
        """Store the pending batch in one transaction; a failed batch is a crawl failure."""
        batch, self.batch = self.batch, []
        if not batch or self.archive is None:
            return
        try:
            self.count(self.archive.store(batch))
        except ValueError:
            self.store_each(batch)
        except ARCHIVE_FAILURES as exc:
            record_failure(self.stats, f"storing {len(batch)} publications failed: {exc}")

    def record_listed(self, item: Listed) -> None:
        """Store what is pending, then record the slice's listed counts in the crawl ledger."""
        self.flush()
        if self.archive is None:
            return
        try:
            written = self.archive.record_listed(item.source, item.days, _now())
        except (ValueError, *ARCHIVE_FAILURES) as exc:
            record_failure(self.stats, f"recording the crawl ledger failed: {exc}")
            return
        self.stats.inc_value("regwatch/ledger_days", written)

    def store_other(self, item: ScreeningSnapshot | SectionChange) -> None:
        """Store a screening snapshot or a section change; a refusal is a crawl failure."""
        if self.archive is None:
            return
        try:
            self.count(STORES[type(item)](self.archive, item))
        except (ValueError, *ARCHIVE_FAILURES) as exc:
            record_failure(self.stats, f"storing {type(item).__name__} failed: {exc}")

    def store_each(self, batch: list[Publication]) -> None:
        """A batch the archive refused: store its items one by one, dropping the bad ones. An
        archive failure (locked, full, damaged) ends it as a crawl failure: the rest would only
        meet it again, one busy timeout each, and the next crawl fetches them."""
        for done, pub in enumerate(batch):
            try:
                self.count(self.archive.store([pub]))
            except ValueError as exc:  # the archive names "<source> <id>: <reason>"
                record_failure(self.stats, f"record rejected by the archive: {exc}")
                self.stats.inc_value("item_dropped_count")
            except ARCHIVE_FAILURES as exc:
                record_failure(
                    self.stats, f"storing {len(batch) - done} publications failed: {exc}"
                )
                return

    def count(self, result: StoreResult) -> None:
        """Add a store's counts to the stats; each of its warnings is a crawl failure."""
        for name in STORED:
            self.stats.inc_value(f"regwatch/{name}", getattr(result, name))
        if result.repaired:
            self.stats.inc_value("regwatch/repaired", result.repaired)
        for warning in result.warnings:
            record_failure(self.stats, warning)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        """Advance the watermark if everything succeeded, log the crawl, close the archive.

        Runs once: a crawl stopped while a request hangs calls it early (`crawlers.child`).
        """
        if self.archive is None:  # never opened, or already closed
            return
        grace_days = spider.spec.get("outage_grace_days", 0)
        outage = body_outage(self.stats, grace_days)
        if outage:
            record_failure(self.stats, outage)
        self.record_host_failures(grace_days if outage else None)
        ok = self.advance(spider) if reason == "finished" and not errors(self.stats) else False
        if not ok:
            self.read_watermark()
        ok = self.link() and ok
        self.stats.set_value(OK, ok)
        summary = _summary(self.stats.get_stats(), reason, spider)
        try:
            self.archive.log_crawl(
                self.source, started_at=self.started_at, finished_at=_now(), ok=ok, stats=summary
            )
            self.stats.set_value(LOGGED, True)
        except ARCHIVE_FAILURES as exc:
            record_failure(self.stats, f"recording the crawl in the crawl log failed: {exc}")
            self.stats.set_value(OK, False)
        self.close()

    def record_host_failures(self, outage_grace_days: float | None) -> None:
        """Record the full texts the host did not serve (`outage_grace_days`: it served none)."""
        for item in self.host_failed:
            try:
                self.archive.record_body_failure(
                    item.source, item.source_id, item.error or "?", outage_grace_days
                )
            except (*ARCHIVE_FAILURES, ValueError) as exc:
                record_failure(self.stats, f"{item.source}: writing to the archive failed: {exc}")
        self.host_failed = []

    def advance(self, spider: Spider) -> bool:
        """Move the watermark over the crawled range; False (failure recorded) if it cannot."""
        try:
            self.archive.store_validators(self.source, [astuple(f) for f in self.fetched])
            current = self.archive.watermark(self.source)
            mark = next_watermark(current, spider.since, spider.until)
            if mark != current:
                self.archive.set_watermark(self.source, mark)
        except ARCHIVE_FAILURES as exc:
            record_failure(self.stats, f"moving the watermark failed: {exc}")
            return False
        self.stats.set_value(WATERMARK, mark)
        return True

    def link(self) -> bool:
        """Link releases to the documents they name; False (failure recorded) if that fails."""
        try:
            self.stats.set_value("regwatch/linked", link_releases(self.archive))
        except ARCHIVE_FAILURES as exc:
            record_failure(self.stats, f"linking releases to documents failed: {exc}")
            return False
        return True

    def read_watermark(self) -> None:
        """Keep the unmoved watermark in the stats (left unset if even reading it fails)."""
        try:
            self.stats.set_value(WATERMARK, self.archive.watermark(self.source))
        except ARCHIVE_FAILURES as exc:
            logger.warning("reading the watermark failed: %s", exc)

    def close(self) -> None:
        """Close the archive; what it committed stays (an index left behind catches up on open)."""
        try:
            self.archive.close()
        except ARCHIVE_FAILURES as exc:
            logger.warning("closing the archive failed: %s", exc)
        self.archive = None


def next_watermark(current: str | None, since: date, until: date) -> str | None:
    """The watermark after a successful crawl of `since`..`until`.

    It moves to `until` if the crawl connects to what is already covered (or nothing is yet); a
    backfill never moves it back, and a range leaving a gap after it leaves it where it is.
    """
    if current is None:
        return until.isoformat()
    covered = date.fromisoformat(current[:10])
    if since > covered + timedelta(days=1):
        logger.warning(
            "watermark stays at %s: the crawl started at %s, leaving a gap", current, since
        )
        return current
    return max(covered, until).isoformat()


def _summary(stats: dict[str, Any], reason: str, spider: Spider) -> dict[str, Any]:
    """The crawl-log entry: range, requests, counts, errors."""
    return {
        "since": spider.since.isoformat(),
        "until": spider.until.isoformat(),
        "finish_reason": reason,
        "requests": stats.get("downloader/request_count", 0),
        "dropped": stats.get("item_dropped_count", 0),
        "errors": stats.get(ERRORS, []),
        **{name: stats[f"regwatch/{name}"] for name in EXTRA if f"regwatch/{name}" in stats},
        **{name: stats.get(f"regwatch/{name}", 0) for name in STORED},
    }


def _label(item: Any) -> str:
    """`<source> <source_id>` of an item (its type for one without an id)."""
    return f"{getattr(item, 'source', '?')} {getattr(item, 'source_id', type(item).__name__)}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
