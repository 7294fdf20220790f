"""Spider for the eCFR versioner API: which EAR sections changed, and how (15 CFR 730-774).

Enters: the crawl's range (`since`: the issue date to look from; `until`: the newest eCFR date
wanted) and settings: `REGWATCH_BASE_URL` (default from `crawlers/sources.json`, with the title,
hierarchy filter, part range, page cap, size cap and the eCFR web link templates).
Leaves: one `SectionChange` per new version of a section or appendix (ecfr.md §3): `titles.json`
first, for the title's `up_to_date_as_of` (no later date is ever asked for: the crawl's `until`
becomes the earlier of the two, and so does the watermark); nothing more if the title's
`latest_issue_date` is before `since`; then `versions/title-15.json?chapter=VII&subchapter=C&
issue_date[gte]=<since>` page by page (`meta.total_pages`, at most `max_pages`), keeping versions
of parts 730-774 issued on or after `since`; for each, `full/{date - 1 day}` and `full/{date}`
of that section (`section=` or `appendix=`), a removed version's new text being empty. A 404 for
the older date means the section is new only if its whole versions list (`versions/title-15.json?
part=&section=`, no issue-date filter) names this version and no earlier one but a removal;
otherwise that section fails the crawl (an eCFR hiccup is never stored as an added section). A
version dated after `up_to_date_as_of` waits for a later crawl and holds the watermark before its
issue date (never another version back). Nothing a response says is trusted: a body that is not
the documented shape, a version with a missing or mistyped field, more pages than `max_pages`,
pages whose versions together are not the first page's `meta.result_count` (a `total_pages` too
small, a `page` ignored; a section's whole list must be one page), or XML that is not the section
asked for (another section's, when a `section=` filter is ignored) fails the crawl with one line.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

import scrapy
from scrapy.http import Response

from archive.records import iso_date
from crawlers.api_spider import ApiSpider, Untrusted
from crawlers.ecfr_text import Unreadable, diff, paragraphs
from crawlers.items import SectionChange
from crawlers.outcome import errors
from regwatch.jsonl import json_type

NOT_FOUND = 404
KINDS = ("section", "appendix")


@dataclass(frozen=True, slots=True)
class Version:
    """One entry of `content_versions`, checked."""

    identifier: str
    part: str
    kind: str
    name: str
    date: date
    amendment_date: str
    issue_date: date
    substantive: bool
    removed: bool


class EcfrSpider(ApiSpider):
    name = "ecfr"
    allowed_statuses = (NOT_FOUND,)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        if not errors(self.crawler.stats):  # e.g. the archive could not be opened
            yield self.request("titles.json", self.parse_titles)

    def parse_titles(self, response: Response) -> list[scrapy.Request]:
        try:
            latest_issue = self.read_titles(json_object(response))
        except Untrusted as exc:
            self.refuse(response, exc)
            return []
        if latest_issue is not None and latest_issue < self.since:
            return []  # nothing issued since the last crawl
        return [self.versions_request(1, [])]

    def read_titles(self, body: dict[str, Any]) -> date | None:
        """Clamp `until` to the title's `up_to_date_as_of`; return its `latest_issue_date`."""
        titles = body.get("titles")
        if not isinstance(titles, list):
            raise Untrusted("not a titles.json body (no titles list)")
        number = self.spec["title"]
        entry = next((t for t in titles if isinstance(t, dict) and t.get("number") == number), None)
        if entry is None:
            raise Untrusted(f"title {number} is not listed")
        current = iso_date(entry.get("up_to_date_as_of"))
        if current is None:
            raise Untrusted(f"title {number} has no up_to_date_as_of date")
        self.until = self.newest = min(self.until, current)  # `until` may be held back below
        return iso_date(entry.get("latest_issue_date"))

    def versions_request(
        self, page: int, found: list[Version], listed: int | None = None, received: int = 0
    ) -> scrapy.Request:
        params = [*self.spec["hierarchy"].items(), ("issue_date[gte]", self.since.isoformat())]
        params += [("page", str(page))] if page > 1 else []
        path = f"versions/title-{self.spec['title']}.json?{urlencode(params)}"
        meta = {"page": page, "found": found, "listed": listed, "received": received}
        return self.request(path, self.parse_versions, **meta)

    def parse_versions(self, response: Response) -> list[scrapy.Request]:
        page, found = response.meta["page"], response.meta["found"]
        try:
            body = json_object(response)
            pages = total_pages(body, self.spec["max_pages"])
            versions = content_versions(body, self.spec["title"])
            listed = response.meta["listed"]  # the first page's result_count rules
            listed = meta_number(body, "result_count") if listed is None else listed
            received = response.meta["received"] + len(versions)
            if page >= pages and received != listed:
                raise Untrusted(
                    f"received {received} versions of the {listed} meta.result_count lists"
                )
            found += [v for v in versions if self.wanted(v)]
        except Untrusted as exc:
            self.refuse(response, exc)
            return []
        if page < pages:
            return [self.versions_request(page + 1, found, listed, received)]
        unique = {(v.identifier, v.date): v for v in found}
        return [self.text_request(v, v.date - timedelta(days=1), None) for v in unique.values()]

    def wanted(self, version: Version) -> bool:
        """A version of a tracked part, issued since `since`, dated no later than the newest eCFR
        date asked for (never the watermark another version held back)."""
        first, last = self.spec["parts"]
        if not version.part.isdigit() or not first <= int(version.part) <= last:
            return False
        if version.issue_date < self.since:
            return False
        if version.date > self.newest:  # not in the eCFR yet: hold the watermark before it
            self.until = min(self.until, version.issue_date - timedelta(days=1))
            return False
        return True

    def text_request(self, version: Version, day: date, old: list | None) -> scrapy.Request:
        """The section's XML as of `day` (`old` None: this is the older text)."""
        params = {"part": version.part, version.kind: version.identifier}
        path = f"full/{day.isoformat()}/title-{self.spec['title']}.xml?{urlencode(params)}"
        return self.request(path, self.parse_text, version=version, old=old)

    def parse_text(self, response: Response) -> Iterator[SectionChange | scrapy.Request]:
        version, old = response.meta["version"], response.meta["old"]
        if old is None and response.status == NOT_FOUND:
            yield self.history_request(version)  # added that day, or an eCFR hiccup?
            return
        try:
            text = read_text(response, version.identifier)
        except (Untrusted, Unreadable) as exc:
            self.refuse(response, Untrusted(str(exc)))
            return
        yield self.next_step(version, old, text)

    def next_step(
        self, version: Version, old: list | None, text: list[tuple[str, str]]
    ) -> SectionChange | scrapy.Request:
        """The newer text's request after the older `text`, else (`old` read) the change."""
        if old is None and not version.removed:
            return self.text_request(version, version.date, text)
        return self.change(version, text if old is None else old, [] if old is None else text)

    def history_request(self, version: Version) -> scrapy.Request:
        """Every version of the section (no issue-date filter), to tell whether it is new."""
        params = {"part": version.part, version.kind: version.identifier}
        path = f"versions/title-{self.spec['title']}.json?{urlencode(params)}"
        return self.request(path, self.parse_history, version=version)

    def parse_history(self, response: Response) -> list[SectionChange | scrapy.Request]:
        """After a 404 for the older text: the section is new only if its history says so."""
        version = response.meta["version"]
        try:
            body = json_object(response)
            history = content_versions(body, self.spec["title"])
            listed = meta_number(body, "result_count")
            if listed != len(history):
                raise Untrusted(f"{len(history)} versions of the {listed} meta.result_count lists")
            check_new(version, history)
        except Untrusted as exc:
            self.refuse(response, exc)
            return []
        return [self.next_step(version, None, [])]

    def change(
        self, version: Version, old: list[tuple[str, str]], new: list[tuple[str, str]]
    ) -> SectionChange:
        before = (version.date - timedelta(days=1)).isoformat()
        after = version.date.isoformat()
        label = f"§ {version.identifier}" if version.kind == "section" else version.identifier
        changes, unified = diff(label, old, new, (before, after))
        return SectionChange(
            title=self.spec["title"],
            part=version.part,
            identifier=version.identifier,
            kind=version.kind,
            name=version.name,
            old_date=before,
            new_date=after,
            amendment_date=version.amendment_date,
            issue_date=version.issue_date.isoformat(),
            substantive=version.substantive,
            removed=version.removed,
            old_text="\n\n".join(text for _, text in old),
            new_text="\n\n".join(text for _, text in new),
            diff=unified,
            changes=changes,
            old_url=self.web_url(version, before),
            new_url=self.web_url(version, after),
        )

    def web_url(self, version: Version, day: str) -> str:
        """The eCFR web page of the section (or of the appendix's part) as of `day`."""
        template = self.spec["section_url" if version.kind == "section" else "part_url"]
        return template.format(
            date=day, title=self.spec["title"], identifier=version.identifier, part=version.part
        )


def read_text(response: Response, identifier: str) -> list[tuple[str, str]]:
    """The section's paragraphs; `Untrusted` for a 404 (the section is named by the versions)."""
    if response.status == NOT_FOUND:
        raise Untrusted("HTTP 404 for a version the versions list names")
    return paragraphs(response.body, identifier)


def check_new(version: Version, history: list[Version]) -> None:
    """`Untrusted` unless the section's `history` proves it did not exist the day before
    `version`: it lists that version, and no earlier one but a removal."""
    own = [v for v in history if (v.identifier, v.kind) == (version.identifier, version.kind)]
    before = (version.date - timedelta(days=1)).isoformat()
    missing = f"HTTP 404 for the text of {version.identifier} as of {before}"
    if not any(v.date == version.date for v in own):
        raise Untrusted(f"{missing}, and its versions list lacks its version of {version.date}")
    earlier = max((v for v in own if v.date < version.date), key=lambda v: v.date, default=None)
    if earlier is not None and not earlier.removed:
        raise Untrusted(
            f"{missing}, yet its version of {earlier.date} is listed: not a new section"
        )


def json_object(response: Response) -> dict[str, Any]:
    """The JSON object of a response; `Untrusted` for anything else (an error status included)."""
    if response.status != 200:
        raise Untrusted(f"HTTP {response.status}")
    try:
        body = json.loads(response.body)
    except (ValueError, RecursionError) as exc:
        raise Untrusted(f"malformed JSON ({exc})") from None
    if not isinstance(body, dict):
        raise Untrusted(f"the body is a {json_type(body)}, not an object")
    return body


def total_pages(body: dict[str, Any], cap: int) -> int:
    """`meta.total_pages`, at most `cap`."""
    pages = meta_number(body, "total_pages")
    if pages > cap:
        raise Untrusted(f"meta.total_pages {pages} is more than the {cap} pages allowed")
    return pages


def meta_number(body: dict[str, Any], name: str) -> int:
    """`meta.<name>` (a string of digits in the live API, or a number); `Untrusted` otherwise."""
    meta = body.get("meta")
    value = meta.get(name) if isinstance(meta, dict) else None
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not text.isdigit():
        raise Untrusted(f"meta.{name} is not a count: {value!r}"[:200])
    return int(text)


def content_versions(body: dict[str, Any], title: int) -> list[Version]:
    """The body's versions, checked; `Untrusted` naming the first bad one."""
    found = body.get("content_versions")
    if not isinstance(found, list):
        raise Untrusted(f"content_versions is a {json_type(found)}, not a list")
    return [version(entry, n, title) for n, entry in enumerate(found)]


def version(entry: Any, index: int, title: int) -> Version:
    where = f"content_versions[{index}]"
    if not isinstance(entry, dict):
        raise Untrusted(f"{where} is a {json_type(entry)}, not an object")
    texts = {key: entry.get(key) for key in ("identifier", "part", "name", "type")}
    bad = [key for key, value in texts.items() if not isinstance(value, str) or not value.strip()]
    days = {key: iso_date(entry.get(key)) for key in ("date", "amendment_date", "issue_date")}
    bad += [key for key, value in days.items() if value is None]
    bad += [key for key in ("substantive", "removed") if not isinstance(entry.get(key), bool)]
    if str(entry.get("title")) != str(title):
        bad.append("title")
    if not bad and texts["type"] not in KINDS:
        bad.append("type")
    if bad:
        raise Untrusted(f"{where} has a missing or malformed {', '.join(bad)}")
    return Version(
        identifier=texts["identifier"].strip(),
        part=texts["part"].strip(),
        kind=texts["type"],
        name=" ".join(texts["name"].split()),
        date=days["date"],
        amendment_date=days["amendment_date"].isoformat(),
        issue_date=days["issue_date"],
        substantive=entry["substantive"],
        removed=entry["removed"],
    )
