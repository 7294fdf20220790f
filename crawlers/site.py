"""What the spiders of web sites (BIS, NTIA) share: one host, conditional requests, page items.

Enters: a source's facts from `crawlers/sources.json` (canonical `base_url`, the `aliases` serving
the same site (`https://bis.gov/`, `http://www.ntia.gov/`), `entry_path` of the
listing or feed, `item_path` pattern, `types`, `agencies`, `download_delay`, `max_items`,
`max_bytes`, `max_text_chars`, `wall_markers`, `not_found_titles`, `revalidate_days`), settings
`REGWATCH_BASE_URL` (a replay server: only the host changes) and `REGWATCH_HOME` (the stored
validators and ids are read from the archive at start).
Leaves: `SiteSpider`, a base class whose requests all go to the configured origin (the origin
guard refuses anything else), carry `If-None-Match` / `If-Modified-Since` from the validators
stored for their canonical URL if a whole read (200) renewed them in the last `revalidate_days`,
accept 304 (which yields nothing; a 304 to a request without validators fails the crawl), and are
capped at `max_bytes`;
`page`, a page's parts (a page with no main text, or whose text is the site's `wall_markers`,
fails the crawl, keeping its title and date; one titled as the site's not-found page fails it,
none of its parts kept);
`overlaps` fails the crawl when a listing or feed lists none of the items stored before (it moved
past them: items in between may have dropped off it unread); its `publication` builds a
`Publication` (or `Rejected`) from a page's or feed's fields, titles and abstracts capped at
1,000 characters, bodies at `max_text_chars`; `Fetched` items for every URL read whole;
`redirected_away`, a failure for an item link a redirect took to a page that is not an item, or
to one outside the item's section (`/blog/…` to `/user/login`; such requests skip the duplicate
filter, which would drop them silently); `asked`, the URL a request was
made for before any redirect. Robots.txt is obeyed on these sites. A URL's canonical form is on the
source's own host (`https://www.bis.gov/press-release/slug`), without query, fragment or trailing
slash: it is the publication's `source_id`, whatever host the crawl used and whichever of the
site's aliases a link named.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit, urlunsplit

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.settings import BaseSettings
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure
from w3lib.http import basic_auth_header

from crawlers.items import Fetched, Publication, Rejected
from crawlers.outcome import errors, record_failure
from crawlers.pages import Page, extract_page
from crawlers.references import references
from crawlers.sources import source_spec
from crawlers.urls import check_base_url, origin, shown, split_credentials

NOT_MODIFIED = "regwatch/not_modified"
T = TypeVar("T")
ABSTRACT_CHARS = 1000  # what a source says about itself is capped: titles and abstracts too
TITLE_CHARS = 1000


class SiteSpider(scrapy.Spider):
    """Base of the spiders reading one web site; subclasses parse the entry and item pages."""

    custom_settings = {"ROBOTSTXT_OBEY": True}

    def __init__(self, since: str, until: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.since = date.fromisoformat(since)  # kept for the watermark; a listing has no range
        self.until = date.fromisoformat(until)
        self.spec = source_spec(self.name)
        self.item_path = re.compile(self.spec["item_path"])
        self.site_origins = {origin(url) for url in [self.spec["base_url"], *self.spec["aliases"]]}
        self.validators: dict[str, tuple[str | None, str | None]] = {}
        self.known: set[str] = set()  # the source_ids stored before this crawl

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> SiteSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings, spec = crawler.settings, spider.spec
        base_url = check_base_url(settings.get("REGWATCH_BASE_URL") or spec["base_url"])
        spider.base_url, credentials = split_credentials(base_url)
        spider.headers = {"Authorization": basic_auth_header(*credentials)} if credentials else {}
        spider.api_origin = origin(spider.base_url)
        spider.home = Path(settings["REGWATCH_HOME"]) if settings.get("REGWATCH_HOME") else None
        return spider

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        """The source's politeness (`download_delay`) unless the crawl's own settings set one."""
        super().update_settings(settings)
        settings.set("DOWNLOAD_DELAY", source_spec(cls.name)["download_delay"], "spider")

    async def start(self) -> AsyncIterator[scrapy.Request]:
        if errors(self.crawler.stats):  # e.g. the archive could not be opened
            return
        self.validators, self.known = self.stored()
        yield self.fetch(urljoin(self.base_url, self.spec["entry_path"]), self.parse_entry)

    def stored(self) -> tuple[dict[str, tuple[str | None, str | None]], set[str]]:
        """The validators of earlier successful crawls and the ids stored so far (none without
        an archive)."""
        from archive import Archive, ArchiveError

        if self.home is None:
            return {}, set()
        try:
            with Archive.open(self.home, readonly=True) as archive:
                fresh = archive.validators(self.name, self.spec["revalidate_days"])
                return fresh, archive.stored_ids(self.name)
        except (ArchiveError, OSError) as exc:
            record_failure(self.crawler.stats, f"reading the stored validators failed: {exc}")
            return {}, set()

    def fetch(
        self, url: str, callback: Any, *, dont_filter: bool = False, **meta: Any
    ) -> scrapy.Request:
        """A conditional GET of `url` (on the configured host) handled by `callback`;
        `dont_filter`: never dropped as a duplicate (nor the request a redirect makes of it)."""
        etag, modified = self.validators.get(self.canonical(url), (None, None))
        conditional = {"If-None-Match": etag, "If-Modified-Since": None if etag else modified}
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.failed,
            headers={**self.headers, **{k: v for k, v in conditional.items() if v}},
            meta={"handle_httpstatus_list": [304], "download_maxsize": self.spec["max_bytes"]}
            | meta,
            dont_filter=dont_filter,
        )

    def redirected_away(self, response: Response) -> bool:
        """True (failure recorded) if a redirect took an item's request to a page that is not an
        item of this site (a listing, a home page) or lies outside the item's section (NTIA's
        `/blog/…` to `/user/login`): what the link named was not read."""
        path, first = urlsplit(response.url).path, urlsplit(asked(response.request)).path
        if not self.item_path.match(path):
            problem = f"not a page matching {self.spec['item_path']!r}"
        elif section(path) != section(first):
            problem = f"a page outside {section(first)} where the item was"
        else:
            return False
        record_failure(
            self.crawler.stats,
            f"{shown(asked(response.request))}: redirected to {shown(response.url)}, {problem}",
        )
        return True

    def unchanged(self, response: Response) -> bool:
        """A 304: the stored copy stands and nothing is written; a 304 to a request that sent no
        validator (asking for the whole page) is a recorded failure: nothing was read."""
        if response.status != 304:
            return False
        headers = response.request.headers
        if "If-None-Match" in headers or "If-Modified-Since" in headers:
            self.crawler.stats.inc_value(NOT_MODIFIED)
        else:
            record_failure(
                self.crawler.stats,
                f"{shown(response.url)}: answered 304 Not Modified to a request for the whole"
                " page, which was not read",
            )
        return True

    def fetched(self, response: Response) -> Fetched:
        """The validators `response` carries, for its canonical URL."""
        headers = response.headers
        etag, modified = headers.get("ETag"), headers.get("Last-Modified")
        return Fetched(
            self.canonical(response.request.url),
            etag.decode("latin-1") if etag else None,
            modified.decode("latin-1") if modified else None,
        )

    def item_links(self, base: str, links: list[str]) -> list[str]:
        """Links (relative to `base`) to this site's items: canonical, distinct (a link that is no
        URL, such as `http://[host`, links to none)."""
        found = []
        for link in links:
            url = self.local(joined(base, link))
            if origin(url) == self.api_origin and self.item_path.match(urlsplit(url).path):
                found.append(self.canonical(url))
        return list(dict.fromkeys(found))

    def capped(self, where: str, items: list[T], key: Callable[[T], str | None]) -> list[T]:
        """At most `max_items` of the items a listing or feed at `where` holds (their `key` the
        `source_id`): those never stored first, then stored ones, each in the listing's order.
        Leaving unread an item never stored is a recorded failure naming how many; leaving unread
        only stored ones (old releases past a long listing's first page) is not, and the next
        crawl reads what this one could not."""
        most = self.spec["max_items"]
        new = [item for item in items if key(item) not in self.known]
        stored = [item for item in items if key(item) in self.known]
        if len(new) > most:
            record_failure(
                self.crawler.stats,
                f"{shown(where)}: lists {len(items)} items, {len(new) - most} of them never stored"
                f" and left unread (read {most}: max_items in sources.json)",
            )
        return (new + stored)[:most]

    def overlaps(self, where: str, keys: list[str]) -> None:
        """A listing or feed is a rolling window: once something was stored, one listing none of
        it has moved past what was read before, and what it dropped meanwhile went unread (a
        recorded failure; a first crawl has nothing to overlap)."""
        if not self.known or not keys or self.known.intersection(keys):
            return
        record_failure(
            self.crawler.stats,
            f"{shown(where)}: none of its {len(keys)} items was read by an earlier crawl, so items"
            " published since the last crawl may have left it unread: crawl it more often",
        )

    def local(self, url: str) -> str:
        """`url`, moved from the source's canonical host or an alias of it to the configured one
        (the canonical host, or a replay)."""
        if origin(url) not in self.site_origins:
            return url
        configured = urlsplit(self.base_url)
        return urlunsplit((configured.scheme, configured.netloc, *urlsplit(url)[2:]))

    def canonical(self, url: str) -> str:
        """`url` on the source's canonical host, without query, fragment or trailing slash."""
        parts = urlsplit(url)
        path = parts.path.rstrip("/") or "/"
        if origin(url) == self.api_origin:
            canonical = urlsplit(self.spec["base_url"])
            return urlunsplit((canonical.scheme, canonical.netloc, path, "", ""))
        return urlunsplit((parts.scheme, parts.netloc, path, "", ""))

    def page(self, response: Response) -> Page | None:
        """The page's extracted parts; None (failure recorded) if it is not a text page or its
        title is the site's not-found page's (`not_found_titles`: a soft 404, answered with HTTP
        200). A page without main text, or whose text is the site's wall (`wall_markers`), is kept
        for its title and date without text, but its words went unread: a failure."""
        if not isinstance(response, TextResponse):
            record_failure(self.crawler.stats, f"{shown(response.url)}: not a text page")
            return None
        page = extract_page(response.text, self.canonical(response.url), self.max_text)
        title = (page.title or "").casefold()
        gone = next(
            (t for t in self.spec["not_found_titles"] if title.startswith(t.casefold())), None
        )
        if gone is not None:
            problem = f"the site answered with its {gone!r} page, not the page"
            record_failure(self.crawler.stats, f"{shown(response.url)}: {problem}")
            return None
        wall = next((m for m in self.spec.get("wall_markers", []) if m in (page.text or "")), None)
        if wall is not None:
            problem = f"the site served its wall ({wall!r}) instead of the page"
            page = replace(page, text=None)
        elif page.text is None:
            problem = "no main text found (has the page changed?)"
        else:
            return page
        record_failure(self.crawler.stats, f"{shown(response.url)}: {problem}")
        return page

    @property
    def max_text(self) -> int:
        return self.spec["max_text_chars"]

    def page_type(self, url: str) -> str:
        path = urlsplit(url).path
        kinds = self.spec["types"]
        return next((v for k, v in kinds.items() if k in path), self.spec["type_default"])

    def publication(self, url: str, fields: dict[str, Any]) -> Publication | Rejected:
        """A publication of this source from `fields` (title, date, abstract, body, raw)."""
        for name, reason in (("title", "no title found"), ("date", "no publication date found")):
            if not fields.get(name):
                return Rejected(self.name, url, reason)
        body = fields.get("body")
        found = references(f"{fields['title']}\n{fields.get('abstract') or ''}\n{body or ''}")
        return Publication(
            source=self.name,
            source_id=url,
            title=fields["title"][:TITLE_CHARS],
            publication_date=fields["date"],
            url=url if origin(url) else None,
            type=self.page_type(url),
            agencies=[dict(agency) for agency in self.spec["agencies"]],
            abstract=(fields.get("abstract") or "")[:ABSTRACT_CHARS] or None,
            body_text=body,
            regulation_id_numbers=list(found.rins),
            raw={
                **fields.get("raw", {}),
                "references": {
                    "document_numbers": list(found.document_numbers),
                    "citations": list(found.citations),
                    "rins": list(found.rins),
                },
            },
        )

    def failed(self, failure: Failure) -> list[Publication | Rejected]:
        """Errback: a request that failed for good; a subclass may still keep what it knows."""
        request = failure.request  # type: ignore[attr-defined]
        if failure.check(HttpError):
            reason = f"HTTP {failure.value.response.status}"
        elif failure.check(IgnoreRequest):
            reason = str(failure.value)
        else:
            reason = f"{type(failure.value).__name__} {failure.value}".strip() + " (after retries)"
        record_failure(self.crawler.stats, f"{shown(request.url)}: {reason}")
        return []


def joined(base: str, link: str) -> str:
    """`link` made absolute against `base`; empty if it is no URL (`http://[host`)."""
    try:
        return urljoin(base, link.strip())
    except ValueError:
        return ""


def section(path: str) -> str:
    """The part of the site a path is in, its first segment: `/blog/` for `/blog/2026/slug`."""
    return "/" + path.lstrip("/").split("/", 1)[0] + "/"


def asked(request: scrapy.Request) -> str:
    """The URL a request was first made for, before any redirect."""
    return request.meta.get("redirect_urls", [request.url])[0]


def page_fields(page: Page) -> dict[str, Any]:
    """Title, date, abstract (the description, else the text's first paragraph) and body."""
    first = (page.text or "").split("\n", 1)[0]
    abstract = page.description or (first[:ABSTRACT_CHARS] if first else None)
    raw = {"title": page.title, "date": page.date, "description": page.description}
    return {
        "title": page.title,
        "date": page.date,
        "abstract": abstract,
        "body": page.text,
        "raw": raw,
    }
