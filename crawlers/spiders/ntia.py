"""Spider for NTIA's RSS feed (`https://www.ntia.gov/rss.xml`) and the pages it links.

Enters: settings as for every site spider (`crawlers.site`); the `ntia` facts of
`crawlers/sources.json`. No real NTIA feed body was ever recorded: only standard RSS/Atom
elements are read, through feedparser.
Leaves: one `Publication` per feed item (source `ntia`; `source_id` the canonical link, else the
item's guid, else `sha256:` of its title, date and summary; an item keyed by a guid holding control
or bidi characters is `Rejected`): title and date from the feed (the day
as written, in the feed's own offset; the page's metadata when the feed has none), the summary as
abstract, the linked page's main text as body. An item linking off ntia.gov is `Rejected` (its link
is never requested); a page that cannot be fetched still stores the feed's part (the failure is
recorded, so the next crawl asks again), and so does a page answering with the site's "Page not
found" page (HTTP 200), or redirected to one that is not an item page (the feed, the home page) or
is outside the item's section (a login page); an item whose page
redirects to another is stored under the feed's link, never dropped as a duplicate. A malformed feed
(feedparser's `bozo`) fails the crawl loudly but keeps the items that parsed; stored items are never
deleted. A body that is not a feed at all fails the crawl, and so do a feed listing no item and one
listing no item stored before (a rolling window of about ten items that moved past them: items may
have dropped off it unread). A 304 for the feed or a page yields nothing.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import operator
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from scrapy.http import Response
from twisted.python.failure import Failure
from w3lib.html import remove_tags

from crawlers.items import Fetched, Publication, Rejected
from crawlers.outcome import record_failure
from crawlers.pages import Page
from crawlers.site import SiteSpider, asked, page_fields
from crawlers.urls import shown
from regwatch.inert import one_line

Output = Publication | Rejected | Fetched


class NtiaSpider(SiteSpider):
    name = "ntia"

    def parse_entry(self, response: Response) -> Iterator[object]:
        """The feed: an item (with a page request when it links one) per entry."""
        import feedparser

        if self.unchanged(response):
            return
        feed = feedparser.parse(response.body)
        if not feed.get("version") and not feed.entries:
            record_failure(self.crawler.stats, f"{shown(response.url)}: not an RSS or Atom feed")
            return
        if not feed.entries and not feed.bozo:  # a malformed one is named as such below
            message = "the feed lists no item (has the site changed?)"
            record_failure(self.crawler.stats, f"{shown(response.url)}: {message}")
            return
        if feed.bozo:
            problem = " ".join(str(feed.get("bozo_exception", "unreadable")).split())[:200]
            record_failure(
                self.crawler.stats,
                f"{shown(response.url)}: malformed feed ({problem}); kept the"
                f" {len(feed.entries)} entries that parsed, deleted nothing",
            )
        keyed = [(entry, self.item_key(entry, response.url)) for entry in feed.entries]
        self.overlaps(response.url, list(dict.fromkeys(key for _, key in keyed if key)))
        requested: set[str] = set()  # an item's link: the first entry linking it is the item
        for entry, key in self.capped(response.url, keyed, operator.itemgetter(1)):
            yield from self.entry(entry, key, requested)
        yield self.fetched(response)

    def item_key(self, entry: Any, feed_url: str) -> str | None:
        """The `source_id` of an entry: its canonical link, else its guid or hash; None if it
        links off ntia.gov."""
        if not entry.get("link"):
            return entry_id(entry, feed_fields(entry))
        links = self.item_links(feed_url, [entry["link"]])
        return links[0] if links else None

    def entry(self, entry: Any, key: str | None, requested: set[str]) -> Iterator[object]:
        """What one feed entry keyed `key` (`item_key`) yields: its rejection, its publication
        (no link), or the request for its page."""
        fields = feed_fields(entry)
        if key is None:
            reason = "link is not a page on ntia.gov; not fetched"
            yield Rejected(self.name, shown(entry["link"]), reason)
        elif not entry.get("link") and one_line(key) != key:
            reason = "the guid keying this item (it has no link) holds control or bidi characters"
            yield Rejected(self.name, ascii(key[:80]), reason)
        elif not entry.get("link"):
            yield self.publication(key, fields)
        elif key not in requested:  # distinct: a redirect to a page already read is not dropped
            requested.add(key)
            yield self.fetch(self.local(key), self.parse_page, dont_filter=True, feed_fields=fields)

    def parse_page(self, response: Response) -> Iterator[Output]:
        """The linked page: the item (under the feed's link, even if redirected) with its body,
        and the page's validators; only the feed's part if redirected to a page that is none."""
        link, fields = self.canonical(asked(response.request)), response.meta["feed_fields"]
        if self.redirected_away(response):
            yield self.publication(link, fields)
            return
        if self.unchanged(response):
            return
        page = self.page(response)
        yield self.publication(link, merged(fields, page))
        if page is not None:
            yield self.fetched(response)

    def failed(self, failure: Failure) -> list[Publication | Rejected]:
        """A page that failed: keep the feed's part of its item."""
        super().failed(failure)
        request = failure.request  # type: ignore[attr-defined]
        fields = request.meta.get("feed_fields")
        return [] if fields is None else [self.publication(self.canonical(asked(request)), fields)]


def feed_fields(entry: Any) -> dict[str, Any]:
    """Title, date (`feed_day`), summary as text, from one feed entry."""
    day = feed_day(entry)
    summary = " ".join(html.unescape(remove_tags(entry.get("summary") or "")).split()) or None
    title = " ".join((entry.get("title") or "").split()) or None
    raw = {"title": title, "date": day, "summary": summary, "guid": entry.get("id")}
    return {"title": title, "date": day, "abstract": summary, "body": None, "raw": raw}


def feed_day(entry: Any) -> str | None:
    """The day an entry's date names with the offset the feed wrote it in (the publisher's day: an
    evening in Washington is not the next day), else the UTC day feedparser read."""
    name = next((n for n in ("published", "updated") if entry.get(f"{n}_parsed")), None)
    if name is None:
        return None
    utc = datetime.fromtimestamp(calendar.timegm(entry[f"{name}_parsed"]), UTC).date()
    local = written_day(entry.get(name))
    return (local if local and abs(local - utc) <= timedelta(days=1) else utc).isoformat()


def written_day(text: Any) -> date | None:
    """The calendar day of an RFC 822 or ISO 8601 date as written, offset ignored; None if
    neither."""
    if not isinstance(text, str):
        return None
    try:
        return parsedate_to_datetime(text).date()
    except (TypeError, ValueError, IndexError, OverflowError):  # an offset of 20 digits
        pass
    try:
        return datetime.fromisoformat(text.strip()).date()
    except ValueError:
        return None


def merged(fields: dict[str, Any], page: Page | None) -> dict[str, Any]:
    """The feed's fields completed by the page: its text as body, its metadata where missing."""
    if page is None:
        return fields
    own = page_fields(page)
    return {
        "title": fields["title"] or own["title"],
        "date": fields["date"] or own["date"],
        "abstract": fields["abstract"] or own["abstract"],
        "body": own["body"],
        "raw": {**fields["raw"], "page": own["raw"]},
    }


def entry_id(entry: Any, fields: dict[str, Any]) -> str:
    """An entry without a link: its guid, else a hash of its title, date and summary."""
    guid = " ".join(str(entry.get("id") or "").split())
    if guid:
        return guid
    content = "\n".join(str(fields[name] or "") for name in ("title", "date", "abstract"))
    return "sha256:" + hashlib.sha256(content.encode()).hexdigest()
