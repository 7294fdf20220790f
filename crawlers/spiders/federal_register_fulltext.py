"""Spider fetching the full text of the Federal Register documents that the archive wants read.

Enters: the archive's list of wanted bodies (`Archive.wanted_bodies`: documents whose tag score
passed `fulltext.min_score`, each with its `raw_text_url`, else `body_html_url`; never `html_url`),
read at start from `REGWATCH_HOME`, and the settings of `ApiSpider`. `since`/`until` are accepted
(every crawl gets them) and not used.
Leaves: one `Body` per wanted document: its plain text (the `<pre>` or `<body>` of an HTML wrapper,
paragraphs kept, the lines of a paragraph joined), or the reason it failed (an HTTP error, an empty
text, a URL outside the API host's `/documents/full_text/`) for the archive to record and retry
later, marked `host_failed` when the host did not serve it (`host_failure`, or an HTML page
without the `<pre>` of a raw text: an error page served with HTTP 200). A failed body is not a
failed crawl, unless no body was read and every one failed on the host's side
(`crawlers.outcome.body_outage`: the host is down); the access wall is (it closes the crawl). At
most one request per second (`custom_settings`).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import scrapy
from parsel import Selector
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from archive import Archive, ArchiveError
from crawlers.api_spider import ApiSpider
from crawlers.items import Body
from crawlers.outcome import errors, record_failure
from crawlers.urls import origin, shown

BLANK_LINES = re.compile(r"\n[ \t]*\n")


class FederalRegisterFulltextSpider(ApiSpider):
    name = "federal_register_fulltext"
    custom_settings = {
        "DOWNLOAD_DELAY": 1.0,  # full-text downloads: at most one request per second
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "AUTOTHROTTLE_ENABLED": False,
    }

    async def start(self) -> AsyncIterator[scrapy.Request | Body]:
        if errors(self.crawler.stats):  # e.g. the archive could not be opened
            return
        for wanted in self.wanted():
            url = self.rebase(wanted["url"])
            if not self.allowed(url):
                reason = f"not a full-text URL on the API host: {shown(wanted['url'])!r}"
                yield Body(wanted["source"], wanted["source_id"], None, reason)
                continue
            yield scrapy.Request(
                url,
                callback=self.parse,
                errback=self.body_failed,
                meta={"wanted": wanted},
                headers=self.headers,
                dont_filter=True,
            )

    def wanted(self) -> list[dict[str, Any]]:
        """The archive's wanted bodies; a failure to read them is a recorded crawl failure."""
        try:
            with Archive.open(self.settings["REGWATCH_HOME"], readonly=True) as archive:
                return archive.wanted_bodies(
                    self.spec["for_sources"], self.spec["max_attempts"], self.spec["batch"]
                )
        except (ArchiveError, OSError) as exc:
            record_failure(self.crawler.stats, f"reading the wanted full texts failed: {exc}")
            return []

    def allowed(self, url: str) -> bool:
        """Only the API host's full-text files (never `html_url` pages behind the access wall)."""
        return origin(url) == self.api_origin and urlsplit(url).path.startswith(
            self.spec["full_text_path"]
        )

    def raw_text(self, url: str) -> bool:
        """Is `url` a raw text (`raw_text_url`), rather than the body HTML?"""
        return urlsplit(url).path.startswith(self.spec["raw_text_path"])

    def parse(self, response: Response) -> Body:
        self.check_wall(response, html_expected=True)
        wanted = response.meta["wanted"]
        raw = response.body.decode(response.encoding or "utf-8", "replace")
        if self.raw_text(response.url) and not raw_text_body(raw):
            reason = "an HTML page without the text's <pre> (an error page?), not the raw text"
            return Body(wanted["source"], wanted["source_id"], None, reason, host_failed=True)
        text = plain_text(raw)
        if not text:
            return Body(wanted["source"], wanted["source_id"], None, "the full text is empty")
        return Body(wanted["source"], wanted["source_id"], text)

    def body_failed(self, failure: Failure) -> Body:
        """Errback: the body could not be fetched; recorded against the document, retried later."""
        wanted = failure.request.meta["wanted"]  # type: ignore[attr-defined]
        reason = self.reason(failure, html_expected=True)
        return Body(wanted["source"], wanted["source_id"], None, reason, host_failure(failure))


def host_failure(failure: Failure) -> bool:
    """Did the host fail to serve the request (a 5xx or 429 after retries, a timeout, a refused
    connection) rather than answer about the document (a 404, a 410)?"""
    if failure.check(HttpError):
        status = failure.value.response.status
        return status >= HTTPStatus.INTERNAL_SERVER_ERROR or status == HTTPStatus.TOO_MANY_REQUESTS
    return not failure.check(IgnoreRequest)


def raw_text_body(raw: str) -> bool:
    """Plain text, or HTML holding the text in a `<pre>` (GPO's wrapper); any other HTML page is
    not a raw text."""
    return not raw.lstrip().startswith("<") or bool(Selector(text=raw).css("pre"))


def plain_text(raw: str) -> str:
    """The text of a raw-text or HTML body: paragraphs split by blank lines, lines joined."""
    if raw.lstrip().startswith("<"):
        page = Selector(text=raw)
        raw = "".join(page.css("pre ::text").getall() or page.css("body ::text").getall())
    paragraphs = (" ".join(part.split()) for part in BLANK_LINES.split(raw))
    return "\n\n".join(p for p in paragraphs if p)
