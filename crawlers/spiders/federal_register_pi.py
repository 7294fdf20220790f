"""Spider for Federal Register public inspection: documents a day or more before publication.

Enters: an issue-date range (`since`, `until`, ISO dates; only its last `max_days` days are read:
by then older filings are published documents) and the settings of `ApiSpider`.
Leaves: one `Publication` per filing (source `federal_register_pi`, family
`fr:<document number>`, so the published document joins it later; special and regular filings
alike; a `Rejected` for a record that cannot be normalised) and, per complete issue, a `Listing`
of its document numbers (the pipeline marks the stored filings of that issue that are missing
from it as withdrawn).
Requests: `public-inspection-documents/current.json` (the latest issue; only when the range
ends today) and `public-inspection-documents.json?conditions[available_on]=YYYY-MM-DD` for each
day of the range; both answer `{count, results, special_filings_updated_at,
regular_filings_updated_at}`, or `{"count":0,"results":[]}` for a day without an issue (which
lists nothing: it is never read as an issue whose filings were all withdrawn). A response that is
not such a body, whose distinct documents do not match its `count`, or (for a day) holding a
filing last on public inspection before that day (another day's answer: its listing would withdraw
the day's filings), is a recorded failure and lists nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

import scrapy
from scrapy.http import Response

from archive.records import iso_date
from crawlers.api_spider import ApiSpider, where
from crawlers.items import Listing, Publication, Rejected
from crawlers.normalize import publication_from_pi
from crawlers.outcome import errors, record_failure
from crawlers.spiders.federal_register import Untrusted, record_key, search_body, search_results

Output = Publication | Rejected | Listing


class FederalRegisterPiSpider(ApiSpider):
    name = "federal_register_pi"

    def __init__(self, since: str, until: str, **kwargs: Any) -> None:
        super().__init__(since, until, **kwargs)  # `since`: what the watermark covers once complete
        earliest = self.until - timedelta(days=self.spec["max_days"] - 1)
        self.first_day = max(self.since, earliest)  # filings older than this are published

    async def start(self) -> AsyncIterator[scrapy.Request]:
        if errors(self.crawler.stats):  # e.g. the archive could not be opened
            return
        if self.until >= date.today():  # the latest issue belongs to an up-to-date crawl only
            yield self.issue_request(self.spec["current_path"], None)
        day = self.first_day
        while day <= self.until:
            query = urlencode([("conditions[available_on]", day.isoformat())])
            yield self.issue_request(f"{self.spec['search_path']}?{query}", day.isoformat())
            day += timedelta(days=1)

    def issue_request(self, path: str, day: str | None) -> scrapy.Request:
        return scrapy.Request(
            self.api_url(path),
            callback=self.parse,
            errback=self.failed,
            meta={"day": day},
            headers=self.headers,
            dont_filter=True,
        )

    def parse(self, response: Response) -> list[Output]:
        """The issue's filings and, when the list is complete, its `Listing`."""
        self.check_wall(response)
        try:
            body = search_body(response.body)
            records = search_results(body)
            numbers = {record_key(record) for record in records}
            if len(numbers) != body["count"]:
                raise Untrusted(f"received {len(numbers)} distinct documents of {body['count']}")
            check_issue(records, response.meta["day"])
        except Untrusted as exc:
            record_failure(self.crawler.stats, f"{where(response.request)}: {exc}")
            return []
        items: list[Output] = [self.item(record) for record in records]
        issue = response.meta["day"] or issue_of(records)
        if issue is not None and numbers:  # no filings: no issue that day, nothing withdrawn
            items.append(Listing(self.name, issue, tuple(sorted(numbers))))
        return items

    def item(self, record: dict[str, Any]) -> Publication | Rejected:
        try:
            return publication_from_pi(record, source=self.name)
        except ValueError as exc:
            return Rejected(self.name, str(record.get("document_number") or "?"), str(exc))


def check_issue(records: list[dict[str, Any]], day: str | None) -> None:
    """`Untrusted` if a filing was last on public inspection before the issue of `day` asked: the
    answer is another day's (a stale cache), and its listing would withdraw that day's filings."""
    asked = iso_date(day)
    for record in records:
        last = iso_date(record.get("last_public_inspection_issue"))
        if asked is not None and last is not None and last < asked:
            raise Untrusted(
                f"filing {record_key(record)[:40]} was last on public inspection on {last},"
                f" before the issue of {day} asked: not the answer to that day"
            )


def issue_of(records: list[dict[str, Any]]) -> str | None:
    """The issue date of `current.json`: the newest `last_public_inspection_issue` it lists."""
    issues = [r.get("last_public_inspection_issue") for r in records]
    dated = [issue for issue in issues if isinstance(issue, str) and issue]
    return max(dated) if dated else None
