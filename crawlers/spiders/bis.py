"""Spider for BIS press releases: the bis.gov listing, then each release page.

Enters: settings as for every site spider (`crawlers.site`); the `bis` facts of
`crawlers/sources.json` (listing `news-updates`, release paths `/press-release/{slug}`).
Leaves: one `Publication` per release page (source `bis`, `source_id` the canonical URL, title,
date, description and main text through `crawlers.pages`: standard metadata, else the `FOR
IMMEDIATE RELEASE | <date> |` line), a `Rejected` for a page without a title or date, and
`Fetched` validators. Releases are found by the links on the listing page matching the release
path pattern; a listing that links none fails the crawl (the site has changed), and so does one
linking no release stored before (it moved past them: releases may have dropped off it unread),
and a release link redirected to a page that is not a release (the listing, a home page). A 304 for
the listing or a page yields nothing. BIS rules themselves come from the Federal Register API.
"""

from __future__ import annotations

from collections.abc import Iterator

from scrapy.http import Response, TextResponse

from crawlers.items import Fetched, Publication, Rejected
from crawlers.outcome import record_failure
from crawlers.site import SiteSpider, page_fields
from crawlers.urls import shown

Output = Publication | Rejected | Fetched


class BisSpider(SiteSpider):
    name = "bis"

    def parse_entry(self, response: Response) -> Iterator[object]:
        """The listing: a request per release it links."""
        if self.unchanged(response):
            return
        if not isinstance(response, TextResponse):
            record_failure(self.crawler.stats, f"{shown(response.url)}: the listing is not HTML")
            return
        links = self.item_links(response.url, response.css("a::attr(href)").getall())
        releases = self.capped(response.url, links, str)
        self.overlaps(response.url, links)
        if not releases:
            record_failure(
                self.crawler.stats,
                f"{shown(response.url)}: the listing links no release matching"
                f" {self.spec['item_path']!r} (has the site changed?)",
            )
            return
        for url in releases:  # distinct: a redirect to a page already read is never dropped
            yield self.fetch(self.local(url), self.parse_release, dont_filter=True)
        yield self.fetched(response)

    def parse_release(self, response: Response) -> Iterator[Output]:
        """A release page: its publication and validators."""
        if self.redirected_away(response) or self.unchanged(response):
            return
        page = self.page(response)
        if page is None:
            return
        yield self.publication(self.canonical(response.url), page_fields(page))
        yield self.fetched(response)
