"""The base of the spiders that read one JSON/XML API per crawl (`csl`, `ecfr`).

Enters: settings `REGWATCH_BASE_URL` (default: the source's `base_url` in `crawlers/sources.json`)
and the source's `max_bytes`; the crawl's `since`/`until` (ISO dates).
Leaves: a spider with `base_url` (credentials split off and sent as HTTP Basic auth to the API
host only), `api_origin` (the only origin `OriginGuardMiddleware` lets through),
`DOWNLOAD_MAXSIZE` set to the source's `max_bytes` (a larger body fails its request), `request`
(a GET on the API with this spider's errback), and `failed`, the errback recording a request that
failed for good as one line (`crawlers.outcome`). `Untrusted` is what a parser raises for a body
it cannot trust; `refuse` records it against the response.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure
from w3lib.http import basic_auth_header

from crawlers.outcome import record_failure
from crawlers.sources import source_spec
from crawlers.urls import check_base_url, origin, shown, split_credentials


class Untrusted(ValueError):
    """A response the crawl cannot trust; the crawl fails with this message."""


class ApiSpider(scrapy.Spider):
    """A spider over one API; subclasses set `name` and implement `start`."""

    allowed_statuses: tuple[int, ...] = ()

    def __init__(self, since: str, until: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.since = date.fromisoformat(since)
        self.until = date.fromisoformat(until)
        self.spec = source_spec(self.name)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> ApiSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        configured = crawler.settings.get("REGWATCH_BASE_URL")
        base_url = check_base_url(configured or spider.spec["base_url"])
        spider.base_url, credentials = split_credentials(base_url)
        spider.headers = {"Authorization": basic_auth_header(*credentials)} if credentials else {}
        spider.api_origin = origin(spider.base_url)
        return spider

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        """The source's `max_bytes` as `DOWNLOAD_MAXSIZE` (a crawl's own settings still win)."""
        super().update_settings(settings)
        settings.set("DOWNLOAD_MAXSIZE", int(source_spec(cls.name)["max_bytes"]), priority="spider")

    def url(self, path: str) -> str:
        """`path` (with its query) under the configured base URL."""
        return f"{self.base_url.rstrip('/')}/{path.lstrip('/')}"

    def request(self, path: str, callback: Callable[..., Any], **meta: Any) -> scrapy.Request:
        """A GET of `path` under the base URL; `allowed_statuses` reach the callback too."""
        meta = {"handle_httpstatus_list": list(self.allowed_statuses), **meta}
        return scrapy.Request(
            self.url(path),
            callback=callback,
            errback=self.failed,
            meta=meta,
            headers=self.headers,
            dont_filter=True,
        )

    def refuse(self, response: Response, problem: Untrusted) -> None:
        """Record an untrusted body as the crawl's failure."""
        record_failure(self.crawler.stats, f"{shown(response.url)}: {problem}")

    def failed(self, failure: Failure) -> None:
        """Errback: a request that failed for good (after retries) or was refused."""
        request = failure.request  # type: ignore[attr-defined]
        if failure.check(HttpError):
            response = failure.value.response
            body = response.body[:200].decode("utf-8", "replace")
            reason = f"HTTP {response.status}: {body} (after retries)"
        elif failure.check(IgnoreRequest):
            reason = str(failure.value)
        else:
            reason = f"{type(failure.value).__name__} {failure.value}".strip() + " (after retries)"
        record_failure(self.crawler.stats, f"{shown(request.url)}: {reason}")
