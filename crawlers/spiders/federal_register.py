"""Spider for the Federal Register API's `documents.json` search.

Enters: a publication-date range (`since`, `until`, ISO dates) and settings: `REGWATCH_BASE_URL`
(default from `crawlers/sources.json`), `REGWATCH_PER_PAGE`, `REGWATCH_SLICE_MAX`.
Leaves: one `Publication` per document (a `Rejected` for a record that cannot be normalised) and
follow-up requests. The range is queried as one slice; a slice whose `count` reaches `slice_max`
(1,000; the API clamps counts at 10,000) is split in halves down to single days, and a single day
that still reaches it is paged. Paging follows `next_page_url` verbatim; the only change is that a
link on the canonical host (`www.federalregister.gov`) is moved to the configured base URL's scheme
and host when a non-default base URL is configured (a replay server replaying live recordings).
Failed requests, unparseable bodies and incomplete slices are recorded as failures
(`crawlers.outcome`); the "Request Access" HTML wall closes the spider with reason `access_wall`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawlers.items import Publication, Rejected
from crawlers.normalize import publication_from_fr
from crawlers.outcome import record_failure
from crawlers.sources import source_spec

WALL_REASON = "access_wall"


class FederalRegisterSpider(scrapy.Spider):
    name = "federal_register"

    def __init__(self, since: str, until: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.since = date.fromisoformat(since)
        self.until = date.fromisoformat(until)
        self.spec = source_spec(self.name)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> FederalRegisterSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings, spec = crawler.settings, spider.spec
        spider.base_url = settings.get("REGWATCH_BASE_URL") or spec["base_url"]
        spider.per_page = settings.getint("REGWATCH_PER_PAGE", spec["per_page"])
        spider.slice_max = settings.getint("REGWATCH_SLICE_MAX", spec["slice_max"])
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        yield self.slice_request(self.since, self.until)

    def slice_request(self, first: date, last: date) -> scrapy.Request:
        """The first-page request for publication dates `first`..`last`."""
        return self.request(self.search_url(first, last), {"slice": (first, last), "received": 0})

    def request(self, url: str, meta: dict[str, Any]) -> scrapy.Request:
        return scrapy.Request(url, callback=self.parse, errback=self.failed, meta=meta)

    def search_url(self, first: date, last: date) -> str:
        """The real query: date conditions, every stored field, page size and order."""
        params = [
            ("conditions[publication_date][gte]", first.isoformat()),
            ("conditions[publication_date][lte]", last.isoformat()),
            *(("fields[]", name) for name in self.spec["fields"]),
            ("order", self.spec["order"]),
            ("per_page", str(self.per_page)),
        ]
        return f"{self.base_url.rstrip('/')}/{self.spec['search_path']}?{urlencode(params)}"

    def parse(self, response: Response) -> Iterator[Publication | Rejected | scrapy.Request]:
        self.check_wall(response)
        body = self.decode(response)
        if body is None:
            return
        first, last = response.meta["slice"]
        count = response.meta.get("count", body["count"])  # the first page's count rules
        if "count" not in response.meta and count >= self.slice_max and first < last:
            yield from (self.slice_request(a, b) for a, b in halves(first, last))
            return
        results = body.get("results") or []
        yield from (self.item(record) for record in results)
        received = response.meta["received"] + len(results)
        if body.get("next_page_url"):
            meta = {"slice": (first, last), "received": received, "count": count}
            yield self.request(self.rebase(body["next_page_url"]), meta)
        else:
            self.check_complete(first, last, count, received)

    def decode(self, response: Response) -> dict[str, Any] | None:
        """The JSON body, or None after recording why it cannot be used."""
        try:
            body = json.loads(response.body)
        except ValueError as exc:
            record_failure(self.crawler.stats, f"{where(response.request)}: malformed JSON ({exc})")
            return None
        if not isinstance(body, dict) or not isinstance(body.get("count"), int):
            message = f"{where(response.request)}: not a search body (no count)"
            record_failure(self.crawler.stats, message)
            return None
        return body

    def item(self, record: dict[str, Any]) -> Publication | Rejected:
        try:
            return publication_from_fr(record, source=self.name)
        except ValueError as exc:
            number = record.get("document_number") if isinstance(record, dict) else None
            return Rejected(self.name, str(number or "?"), str(exc))

    def check_complete(self, first: date, last: date, count: int, received: int) -> None:
        """A slice is complete when every counted document arrived and the count is not capped."""
        span = dates(first, last)
        if count >= self.spec["count_cap"]:
            message = f"publication dates {span}: count {count} reaches the API cap, not all listed"
            record_failure(self.crawler.stats, message)
        elif received != count:
            message = f"publication dates {span}: received {received} of {count} documents"
            record_failure(self.crawler.stats, message)

    def check_wall(self, response: Response) -> None:
        """Close the crawl if the response is the "Request Access" page instead of JSON."""
        if not is_access_wall(response, self.spec["wall_markers"]):
            return
        message = (
            f"{where(response.request)}: the source served its 'Request Access' page"
            f" (HTTP {response.status}) instead of JSON; the crawler was flagged as automated"
        )
        record_failure(self.crawler.stats, message)
        raise CloseSpider(WALL_REASON)

    def failed(self, failure: Failure) -> None:
        """Errback: a request that failed for good (after retries)."""
        request = failure.request  # type: ignore[attr-defined]
        if failure.check(HttpError):
            response = failure.value.response
            self.check_wall(response)
            reason = f"HTTP {response.status}: {response.body[:200].decode('utf-8', 'replace')}"
        else:
            reason = f"{type(failure.value).__name__} {failure.value}".strip()
        record_failure(self.crawler.stats, f"{where(request)}: {reason} (after retries)")

    def rebase(self, url: str) -> str:
        """`url` itself, or on the configured host if it points at the canonical host instead."""
        canonical = urlsplit(self.spec["base_url"])
        configured = urlsplit(self.base_url)
        link = urlsplit(url)
        if link.netloc != canonical.netloc or configured.netloc == canonical.netloc:
            return url
        return urlunsplit((configured.scheme, configured.netloc, *link[2:]))


def where(request: scrapy.Request | None) -> str:
    """A short name for a request in messages: its slice, and whether it was a follow-up page."""
    meta = request.meta if request is not None else {}
    if "slice" not in meta:
        return request.url if request is not None else "?"
    page = " (a next_page_url page)" if "count" in meta else ""
    return f"publication dates {dates(*meta['slice'])}{page}"


def dates(first: date, last: date) -> str:
    return f"{first.isoformat()}..{last.isoformat()}"


def halves(first: date, last: date) -> tuple[tuple[date, date], tuple[date, date]]:
    """Split a date range of at least two days into two contiguous halves."""
    middle = first + timedelta(days=(last - first).days // 2)
    return (first, middle), (middle + timedelta(days=1), last)


def is_access_wall(response: Response, markers: list[str]) -> bool:
    """True for an HTML page (the wall is served with HTTP 200) where JSON was expected."""
    kind = response.headers.get("Content-Type", b"").decode("latin-1").lower()
    head = response.body.lstrip()[:1]
    text = response.body[:20000].decode("utf-8", "replace")
    return "text/html" in kind or head == b"<" or any(m in text for m in markers)
