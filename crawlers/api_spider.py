"""What every API spider shares (Federal Register, CSL, eCFR): host, size cap, wall, failures.

Enters: the crawl's `since`/`until` (ISO dates); settings `REGWATCH_BASE_URL` (default: the
source's `base_url` in `sources.json`; a `user:password@` in it is sent as HTTP Basic auth to the
API host only, never in a URL); the source's `max_bytes` and `wall_markers` when it has them; the
responses and failures of the spider's requests.
Leaves: `ApiSpider`, a base class giving a spider `since`, `until`, `base_url`, `headers`,
`api_origin` (the only origin `OriginGuardMiddleware` lets it request), `DOWNLOAD_MAXSIZE` set to
the source's `max_bytes` (a larger body fails its request), `api_url` and `request` (a GET under
the base URL with this spider's errback; `allowed_statuses` reach the callback too), `check_wall`
(closes the crawl with reason `access_wall` on the "Request Access" page), `failed` (an errback
recording a request that failed for good), `refuse` (records a body a parser raised `Untrusted`
for) and `rebase` (a link on the canonical host moved to a configured non-default base URL, so a
replay server replaying live recordings is followed); `where`, how a message names a request.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, IgnoreRequest
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure
from w3lib.http import basic_auth_header

from crawlers.outcome import record_failure
from crawlers.sources import source_spec
from crawlers.urls import check_base_url, origin, shown, split_credentials

WALL_REASON = "access_wall"


class Untrusted(ValueError):
    """A response the crawl cannot trust; the crawl fails with this message."""


class ApiSpider(scrapy.Spider):
    """A spider on one API host; subclasses set `name` (their source) and implement `start`."""

    allowed_statuses: tuple[int, ...] = ()

    def __init__(self, since: str, until: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.since = date.fromisoformat(since)
        self.until = date.fromisoformat(until)
        self.spec = source_spec(self.name)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> ApiSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        base_url = check_base_url(
            crawler.settings.get("REGWATCH_BASE_URL") or spider.spec["base_url"]
        )
        spider.base_url, credentials = split_credentials(base_url)
        spider.headers = {"Authorization": basic_auth_header(*credentials)} if credentials else {}
        spider.api_origin = origin(spider.base_url)
        return spider

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        """The source's `max_bytes` as `DOWNLOAD_MAXSIZE` (a crawl's own settings still win)."""
        super().update_settings(settings)
        max_bytes = source_spec(cls.name).get("max_bytes")
        if max_bytes:
            settings.set("DOWNLOAD_MAXSIZE", int(max_bytes), priority="spider")

    def api_url(self, path: str) -> str:
        """`path` (relative to the API base, e.g. `documents.json?…`) under the base URL."""
        return f"{self.base_url.rstrip('/')}/{path.lstrip('/')}"

    def request(self, path: str, callback: Callable[..., Any], **meta: Any) -> scrapy.Request:
        """A GET of `path` under the base URL; `allowed_statuses` reach the callback too."""
        meta = {"handle_httpstatus_list": list(self.allowed_statuses), **meta}
        return scrapy.Request(
            self.api_url(path),
            callback=callback,
            errback=self.failed,
            meta=meta,
            headers=self.headers,
            dont_filter=True,
        )

    def refuse(self, response: Response, problem: Untrusted) -> None:
        """Record an untrusted body as the crawl's failure."""
        record_failure(self.crawler.stats, f"{shown(response.url)}: {problem}")

    def check_wall(self, response: Response, *, html_expected: bool = False) -> None:
        """Close the crawl if the response is the "Request Access" page instead of the answer.

        Where JSON is expected any HTML page is the wall; where text or HTML is expected
        (`html_expected`), only a page carrying the wall's markers is.
        """
        markers = self.spec.get("wall_markers", [])
        if not markers:  # a source without a wall (CSL, eCFR)
            return
        wall = (
            has_markers(response, markers) if html_expected else is_access_wall(response, markers)
        )
        if not wall:
            return
        message = (
            f"{where(response.request)}: the source served its 'Request Access' page"
            f" (HTTP {response.status}) instead of {'the text' if html_expected else 'JSON'};"
            " the crawler was flagged as automated"
        )
        record_failure(self.crawler.stats, message)
        raise CloseSpider(WALL_REASON)

    def failed(self, failure: Failure) -> None:
        """Errback: a request that failed for good (after retries) or was refused."""
        record_failure(self.crawler.stats, f"{where(failure.request)}: {self.reason(failure)}")  # type: ignore[attr-defined]

    def reason(self, failure: Failure, *, html_expected: bool = False) -> str:
        """Why a request failed, in one line (closing the crawl if it met the access wall)."""
        if failure.check(HttpError):
            response = failure.value.response
            self.check_wall(response, html_expected=html_expected)
            body = response.body[:200].decode("utf-8", "replace")
            return f"HTTP {response.status}: {body} (after retries)"
        if failure.check(IgnoreRequest):
            return str(failure.value)
        return f"{type(failure.value).__name__} {failure.value}".strip() + " (after retries)"

    def rebase(self, url: str) -> str:
        """`url` itself, or on the configured host if it points at the canonical host instead."""
        canonical = origin(self.spec["base_url"])
        if origin(url) != canonical or self.api_origin == canonical:
            return url
        configured = urlsplit(self.base_url)
        return urlunsplit((configured.scheme, configured.netloc, *urlsplit(url)[2:]))


def where(request: scrapy.Request | None) -> str:
    """A short name for a request in messages: its slice and, after the first, its page."""
    meta = request.meta if request is not None else {}
    if "slice" not in meta:
        return shown(request.url) if request is not None else "?"
    part, page = meta["slice"], meta.get("page", 1)
    dates = f"{part.first.isoformat()}..{part.last.isoformat()}"
    return f"publication dates {dates}" + (f", page {page}" if page > 1 else "")


def is_access_wall(response: Response, markers: list[str]) -> bool:
    """True for an HTML page (the wall is served with HTTP 200) where JSON was expected."""
    kind = response.headers.get("Content-Type", b"").decode("latin-1").lower()
    head = response.body.lstrip()[:1]
    return "text/html" in kind or head == b"<" or has_markers(response, markers)


def has_markers(response: Response, markers: list[str]) -> bool:
    """True if the start of the body carries one of the wall's markers."""
    text = response.body[:20000].decode("utf-8", "replace")
    return any(marker in text for marker in markers)
