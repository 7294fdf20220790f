"""Downloader middlewares: requests kept on the API's origin; retries with backoff.

Enters: every request about to be downloaded (first pages, next pages, redirects); responses and
download errors that Scrapy's `RetryMiddleware` would retry (5xx, 408, 429, timeouts, connection
losses).
Leaves: `OriginGuardMiddleware` refuses (`IgnoreRequest`, so the request's errback records it) any
request whose scheme, host or port is not the spider's `api_origin`, whatever asked for it: a
redirect off the API host never reaches the network. `BackoffRetryMiddleware` hands back the retry
request after a pause: the server's `Retry-After` (seconds or an HTTP date) on 429/503, capped at
`RETRY_AFTER_MAX`, otherwise `RETRY_BACKOFF_BASE * 2**n` capped at `RETRY_BACKOFF_MAX`, n being the
retries so far. `WholeBodyMiddleware` refuses (`IgnoreRequest`) a gzip, deflate, br or zstd body
whose compressed stream stops before its end: Scrapy's `HttpCompressionMiddleware` would inflate it
as far as it goes, and the part would pass for the whole page or text.
"""

from __future__ import annotations

import asyncio
import zlib
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.settings import BaseSettings

from crawlers.urls import origin, shown

RETRY_AFTER_STATUSES = (429, 503)
CHUNK = 65536


class OriginGuardMiddleware:
    """Only the spider's API origin (scheme, host, port) is ever requested."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> OriginGuardMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        allowed = self.crawler.spider.api_origin
        if origin(request.url) != allowed:
            redirected = " (a redirect)" if request.meta.get("redirect_urls") else ""
            raise IgnoreRequest(
                f"refused to request {shown(request.url)!r}{redirected}:"
                f" not on the API host {allowed[0]}://{allowed[1]}:{allowed[2]}"
            )


class BackoffRetryMiddleware(RetryMiddleware):
    """`RetryMiddleware` that waits before handing back the retry request."""

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE")
        self.backoff_max = settings.getfloat("RETRY_BACKOFF_MAX")
        self.retry_after_max = settings.getfloat("RETRY_AFTER_MAX")

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        result = super().process_response(request, response)
        if isinstance(result, Request):
            await asyncio.sleep(self.delay(request, response))
        return result

    async def process_exception(
        self, request: Request, exception: Exception
    ) -> Request | Response | None:
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            await asyncio.sleep(self.delay(request, None))
        return result

    def delay(self, request: Request, response: Response | None) -> float:
        """Seconds to wait before retrying `request`."""
        if response is not None and response.status in RETRY_AFTER_STATUSES:
            wait = retry_after(response.headers.get("Retry-After"))
            if wait is not None:
                return min(wait, self.retry_after_max)
        return min(self.backoff_base * 2 ** request.meta.get("retry_times", 0), self.backoff_max)


def retry_after(value: bytes | None, now: datetime | None = None) -> float | None:
    """Seconds a `Retry-After` header asks for, or None if absent or unreadable."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isascii() and text.isdigit():  # "²" is a digit, but no number
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # zone "-0000": the time is UTC
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class WholeBodyMiddleware:
    """A compressed body must end where its stream ends (checked before it is inflated)."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WholeBodyMiddleware:
        return cls(crawler.settings.getint("DOWNLOAD_MAXSIZE"))

    def process_response(self, request: Request, response: Response) -> Response:
        encoding = response.headers.get("Content-Encoding", b"").strip().lower().decode("latin-1")
        check = WHOLE_STREAM.get(encoding)
        if check is None or not response.body:
            return response
        if not check(response.body, request.meta.get("download_maxsize", self.max_size)):
            raise IgnoreRequest(
                f"{shown(response.url)}: the {encoding} body was cut short (its compressed"
                " stream does not end): not read"
            )
        return response


def whole_zlib(body: bytes, limit: int, *window_bits: int) -> bool:
    """Does `body` hold a whole zlib stream of one of `window_bits`? Past `limit` inflated bytes
    it is let through (the size cap then refuses it), as in each check below."""
    for wbits in window_bits:
        stream, rest, size = zlib.decompressobj(wbits), body, 0
        try:
            while rest and not stream.eof and not (limit and size > limit):
                size += len(stream.decompress(rest, CHUNK))
                rest = stream.unconsumed_tail
        except zlib.error:
            continue
        if stream.eof or (limit and size > limit):
            return True
    return False


def whole_brotli(body: bytes, limit: int) -> bool:
    import brotli

    stream, chunk, size = brotli.Decompressor(), body, 0
    try:
        while not stream.is_finished() and not (limit and size > limit):
            out = stream.process(chunk, output_buffer_limit=CHUNK)
            if not (out or chunk):
                break
            chunk, size = b"", size + len(out)
    except brotli.error:
        return False
    return stream.is_finished() or bool(limit and size > limit)


def whole_zstd(body: bytes, limit: int) -> bool:
    from backports import zstd

    stream, chunk, size = zstd.ZstdDecompressor(), body, 0
    try:
        while not stream.eof and not (limit and size > limit):
            size += len(stream.decompress(chunk, CHUNK))
            if chunk == b"" and stream.needs_input:
                break
            chunk = b""
    except zstd.ZstdError:
        return False
    return stream.eof or bool(limit and size > limit)


# Content-Encoding → does a body hold its whole stream (deflate: zlib-wrapped, else raw)?
WHOLE_STREAM = {
    "gzip": lambda body, limit: whole_zlib(body, limit, 31),
    "x-gzip": lambda body, limit: whole_zlib(body, limit, 31),
    "deflate": lambda body, limit: whole_zlib(body, limit, 15, -15),
    "br": whole_brotli,
    "zstd": whole_zstd,
}
