"""Spider for the Federal Register API's `documents.json` search.

Enters: a publication-date range (`since`, `until`, ISO dates) and settings: `REGWATCH_BASE_URL`
(default from `crawlers/sources.json`), `REGWATCH_PER_PAGE`, `REGWATCH_SLICE_MAX`.
A base URL's `user:password@` is sent as HTTP Basic auth to the API host only, never in a URL.
Leaves: one `Publication` per document (a `Rejected` for a record that cannot be normalised) and
follow-up requests. The range is queried as one slice; a slice whose `count` reaches `slice_max`
(1,000; the API clamps counts at 10,000) is split in halves down to single days, and a single day
that still reaches it is paged. A slice's items are held back until it is complete: its distinct
documents match its first page's `count`; they are then followed by a `Listed` item, the documents
the source listed per day of the slice (for one day, its `count`; for several, the distinct
documents received per `publication_date`, 0 for a day with none; none at all if a document's
date cannot be read, since the split is then unknown). The halves of a split slice
must count at least the documents the slice counted, or the crawl fails (the documents read are
kept). Nothing a response says is trusted: a body that is not a search body, a `results` that is
not a list of objects, a `next_page_url` that is not a string, leaves the API's origin (scheme,
host, port), repeats a page of the slice or asks for more pages than `count` needs
(ceil(count / per_page)), a page repeating an earlier page's documents, and a document dated
outside the slice (the answer is not for the dates asked), each fail the slice.
The only change made to a link is that one on the canonical host (`www.federalregister.gov`) is
moved to the configured base URL's scheme and host when a non-default base URL is configured (a
replay server replaying live recordings).
Failures are recorded (`crawlers.outcome`); the "Request Access" HTML wall closes the spider with
reason `access_wall`.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response

from archive.records import iso_date
from crawlers.api_spider import ApiSpider, where
from crawlers.items import Listed, Publication, Rejected
from crawlers.normalize import publication_from_fr
from crawlers.outcome import errors, record_failure
from crawlers.urls import origin, shown
from regwatch.jsonl import record_json

logger = logging.getLogger(__name__)

Output = Publication | Rejected | Listed | scrapy.Request


class Untrusted(ValueError):
    """A response the crawl cannot trust; its slice fails with this message."""


@dataclass(eq=False, slots=True)
class Slice:
    """One publication-date range being read: its pages so far and the items held back."""

    first: date
    last: date
    count: int | None = None
    urls: set[str] = field(default_factory=set)
    pages: list[frozenset[str]] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    items: list[Publication | Rejected] = field(default_factory=list)
    days: dict[str, date | None] = field(default_factory=dict)  # document → its publication day
    parent: Slice | None = None  # the range this slice is a half of
    halves: list[Slice] = field(default_factory=list)  # the halves this slice was split into

    def add_page(self, records: list[dict[str, Any]]) -> None:
        """Count one page's documents; `Untrusted` if it repeats an earlier page's documents or
        holds one dated outside the slice (an answer to other dates: a stale cache, a query the
        server ignored)."""
        keys = {record_key(record): record for record in records}
        page = frozenset(keys)
        if page and page in self.pages:
            earlier = self.pages.index(page) + 1
            raise Untrusted(f"page {len(self.pages) + 1} repeats the documents of page {earlier}")
        days = {key: iso_date(record.get("publication_date")) for key, record in keys.items()}
        for key, day in days.items():
            if day is not None and not self.first <= day <= self.last:
                raise Untrusted(
                    f"document {key[:40]} is dated {day.isoformat()}, outside"
                    f" {dates(self.first, self.last)}: not the answer to the dates asked"
                )
        self.pages.append(page)
        self.keys |= page
        self.days.update(days)

    def listed(self) -> dict[str, int] | None:
        """Per day of a complete slice, the documents the source listed; None if unknown."""
        span = [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]
        if len(span) == 1:
            return {self.first.isoformat(): self.count}
        if any(day not in span for day in self.days.values()):
            return None  # a document without a readable date: the per-day split is unknown
        per_day = Counter(self.days.values())
        return {day.isoformat(): per_day[day] for day in span}


class FederalRegisterSpider(ApiSpider):
    name = "federal_register"

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> FederalRegisterSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings, spec = crawler.settings, spider.spec
        spider.per_page = settings.getint("REGWATCH_PER_PAGE", spec["per_page"])
        spider.slice_max = settings.getint("REGWATCH_SLICE_MAX", spec["slice_max"])
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        if not errors(self.crawler.stats):  # e.g. the archive could not be opened
            yield self.slice_request(self.since, self.until)

    def slice_request(self, first: date, last: date, parent: Slice | None = None) -> scrapy.Request:
        """The first-page request for publication dates `first`..`last` (a half of `parent`)."""
        part = Slice(first, last, parent=parent)
        if parent is not None:
            parent.halves.append(part)
        request = self.request(self.search_url(first, last), part)
        part.urls.add(request.url)
        return request

    def request(self, url: str, part: Slice) -> scrapy.Request:
        """A page of `part`; Scrapy's duplicate filter never drops it (repeats are refused here)."""
        return scrapy.Request(
            url,
            callback=self.parse,
            errback=self.failed,
            meta={"slice": part, "page": len(part.pages) + 1},
            headers=self.headers,
            dont_filter=True,
        )

    def search_url(self, first: date, last: date) -> str:
        """The real query: date conditions, every stored field, page size and order."""
        params = [
            ("conditions[publication_date][gte]", first.isoformat()),
            ("conditions[publication_date][lte]", last.isoformat()),
            *(("fields[]", name) for name in self.spec["fields"]),
            ("order", self.spec["order"]),
            ("per_page", str(self.per_page)),
        ]
        return self.api_url(f"{self.spec['search_path']}?{urlencode(params)}")

    def parse(self, response: Response) -> list[Output]:
        """Items of a completed slice, the next page, the halves of a large slice, or nothing."""
        self.check_wall(response)
        part = response.meta["slice"]
        part.urls.add(response.url)  # after a redirect on the API host, where the page came from
        try:
            return self.read_page(part, response)
        except Untrusted as exc:
            record_failure(self.crawler.stats, f"{where(response.request)}: {exc}")
            return []

    def read_page(self, part: Slice, response: Response) -> list[Output]:
        body = search_body(response.body)
        if part.count is None:
            part.count = body["count"]  # the first page's count rules
            self.check_halves(part.parent)
            if part.count >= self.slice_max and part.first < part.last:
                return [self.slice_request(a, b, part) for a, b in halves(part.first, part.last)]
        records = search_results(body)
        part.add_page(records)
        part.items.extend(self.item(record) for record in records)
        link = body.get("next_page_url")
        if link is None:
            self.check_complete(part)
            return [*part.items, *self.listing(part)]
        return [self.follow(part, link)]

    def listing(self, part: Slice) -> list[Listed]:
        """The complete slice's per-day listed counts, or nothing if they are unknown."""
        days = part.listed()
        if days is None:
            logger.warning("%s: a document's date cannot be read", where_slice(part))
            return []
        return [Listed(self.name, days)]

    def follow(self, part: Slice, link: Any) -> scrapy.Request:
        """The request for `link`, after checking that it may be followed."""
        if not isinstance(link, str):
            raise Untrusted(f"next_page_url is a {json_type(link)}, not a link")
        url = self.rebase(link)
        if origin(url) != self.api_origin:
            raise Untrusted(f"next_page_url leaves the API host: {shown(link)!r}")
        request = self.request(url, part)
        if request.url in part.urls:
            raise Untrusted(f"next_page_url repeats a page already read: {shown(link)!r}")
        needed = max(1, math.ceil(part.count / self.per_page))
        if len(part.pages) >= needed:
            raise Untrusted(
                f"next_page_url after page {len(part.pages)}, but {part.count} documents"
                f" fit in {needed} pages of {self.per_page}"
            )
        part.urls.add(request.url)
        return request

    def item(self, record: dict[str, Any]) -> Publication | Rejected:
        try:
            return publication_from_fr(record, source=self.name)
        except ValueError as exc:
            return Rejected(self.name, str(record.get("document_number") or "?"), str(exc))

    def check_halves(self, whole: Slice | None) -> None:
        """Once both halves of `whole` have counted, a failure if they count fewer documents than
        `whole` did (documents of the range in neither half; at the cap, `count` is a minimum)."""
        if whole is None or any(half.count is None for half in whole.halves):
            return
        together = sum(half.count for half in whole.halves)
        if together < whole.count:
            record_failure(
                self.crawler.stats,
                f"{where_slice(whole)}: count {whole.count}, but its halves count {together}"
                " together",
            )

    def check_complete(self, part: Slice) -> None:
        """A slice is complete when its distinct documents match `count` below the API's cap."""
        if part.count >= self.spec["count_cap"]:
            raise Untrusted(f"count {part.count} reaches the API cap, not all listed")
        if len(part.keys) != part.count:
            raise Untrusted(f"received {len(part.keys)} distinct documents of {part.count}")


def search_body(raw: bytes) -> dict[str, Any]:
    """The JSON search body; `Untrusted` unless it is an object with a whole `count` ≥ 0."""
    try:
        body = record_json(raw)
    except (ValueError, RecursionError) as exc:
        raise Untrusted(f"malformed JSON ({exc})") from None
    count = body.get("count") if isinstance(body, dict) else None
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise Untrusted("not a search body (no count)")
    return body


def search_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The page's records (absent on an empty result); `Untrusted` unless a list of objects."""
    results = body.get("results", [])
    if not isinstance(results, list):
        raise Untrusted(f"results is a {json_type(results)}, not a list of documents")
    odd = next((r for r in results if not isinstance(r, dict)), None)
    if odd is not None:
        raise Untrusted(f"results holds a {json_type(odd)}, not a document object")
    return results


def record_key(record: dict[str, Any]) -> str:
    """What makes a record distinct: its document number, or all of it if it has none."""
    number = record.get("document_number")
    if isinstance(number, str) and number.strip():
        return number.strip()
    return json.dumps(record, sort_keys=True)


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type."""
    names = {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def where_slice(part: Slice) -> str:
    return f"publication dates {dates(part.first, part.last)}"


def dates(first: date, last: date) -> str:
    return f"{first.isoformat()}..{last.isoformat()}"


def halves(first: date, last: date) -> tuple[tuple[date, date], tuple[date, date]]:
    """Split a date range of at least two days into two contiguous halves."""
    middle = first + timedelta(days=(last - first).days // 2)
    return (first, middle), (middle + timedelta(days=1), last)
