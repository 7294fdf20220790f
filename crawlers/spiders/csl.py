"""Spider for the Consolidated Screening List download (`consolidated.json`, trade.gov).

Enters: the crawl's date range (unused: the list is one whole snapshot) and settings:
`REGWATCH_BASE_URL` (default from `crawlers/sources.json`, with its `path`, list labels → codes and
`max_bytes`).
Leaves: one `ScreeningSnapshot` holding every record, normalised (`ScreeningRecord`: `id`, list
code and label, name, alternate names, ISO-2 countries of its addresses, `federal_register_notice`,
the record as received), or nothing and a recorded failure. The envelope is the one ITA's code
writes (`results`, `search_performed_at`, `sources_used`, `offset`, `total`; csl.md §2). Nothing
is trusted: a body that is not that envelope, a `total` that is not the number of results, a
record without a text `id`, `source` or `name`, wrongly typed addresses or alternate names, and
the same `id` twice with different contents, and a download of no record at all, each refuse the
whole snapshot (a partial or empty one would read as mass removals). An exact duplicate (same
`id`, same record) is kept once.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import scrapy
from scrapy.http import Response

from crawlers.api_spider import ApiSpider, Untrusted
from crawlers.items import ScreeningRecord, ScreeningSnapshot
from crawlers.outcome import errors
from regwatch.jsonl import json_type

MAX_TEXT = 2000  # characters kept of a name; longer is not a name


class CslSpider(ApiSpider):
    name = "csl"

    async def start(self) -> AsyncIterator[scrapy.Request]:
        if not errors(self.crawler.stats):  # e.g. the archive could not be opened
            yield self.request(self.spec["path"], self.parse)

    def parse(self, response: Response) -> list[ScreeningSnapshot]:
        try:
            return [snapshot(json_body(response.body), self.spec["lists"])]
        except Untrusted as exc:
            self.refuse(response, exc)
            return []


def json_body(raw: bytes) -> dict[str, Any]:
    """The download's envelope; `Untrusted` unless an object with a list of `results`."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise Untrusted(f"malformed JSON ({exc})") from None
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise Untrusted("not a screening-list download (no results list)")
    return body


def snapshot(body: dict[str, Any], lists: dict[str, str]) -> ScreeningSnapshot:
    """Every record of the envelope, normalised; `Untrusted` naming the first problem."""
    results, total = body["results"], body.get("total")
    if not isinstance(total, int) or isinstance(total, bool) or total != len(results):
        raise Untrusted(f"total {total!r} is not the {len(results)} results received")
    if not results:
        raise Untrusted(
            "the download lists no record at all: stored, every party would read as removed"
        )
    used = body.get("sources_used") or []
    if not isinstance(used, list) or not all(isinstance(u, dict) for u in used):
        raise Untrusted(f"sources_used is a {json_type(used)}, not a list of objects")
    published = body.get("search_performed_at")
    records: dict[str, ScreeningRecord] = {}
    for index, raw in enumerate(results):
        record = normalised(raw, index, lists)
        if record.record_id in records and records[record.record_id] != record:
            raise Untrusted(f"record id {record.record_id[:60]!r} appears twice, differently")
        records[record.record_id] = record
    return ScreeningSnapshot(
        source="csl",
        published_at=published if isinstance(published, str) else None,
        sources_used=used,
        records=tuple(records.values()),
    )


def normalised(raw: Any, index: int, lists: dict[str, str]) -> ScreeningRecord:
    """One record as stored; `Untrusted` naming the record and the field that is wrong."""
    if not isinstance(raw, dict):
        raise Untrusted(f"results[{index}] is a {json_type(raw)}, not a record")
    where = f"results[{index}]"
    texts = {name: _text(raw.get(name), f"{where}.{name}") for name in ("id", "source", "name")}
    missing = [name for name, value in texts.items() if not value]
    if missing:
        raise Untrusted(f"{where} has no {', '.join(missing)}")
    notice = raw.get("federal_register_notice")
    return ScreeningRecord(
        record_id=texts["id"],
        list=lists.get(texts["source"], texts["source"]),
        list_name=texts["source"],
        name=texts["name"],
        alt_names=tuple(_alt_names(raw.get("alt_names"), where)),
        countries=tuple(_countries(raw.get("addresses"), where)),
        federal_register_notice=_text(notice, f"{where}.federal_register_notice") or None,
        record=raw,
    )


def _text(value: Any, label: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Untrusted(f"{label} is a {json_type(value)}, not text")
    if len(value) > MAX_TEXT:
        raise Untrusted(f"{label} is longer than {MAX_TEXT} characters")
    return " ".join(value.split())


def _alt_names(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Untrusted(f"{where}.alt_names is a {json_type(value)}, not a list")
    names = (_text(name, f"{where}.alt_names") for name in value)
    return [name for name in names if name]


def _countries(addresses: Any, where: str) -> list[str]:
    """The distinct ISO-2 codes of a record's addresses, in order (blank ones skipped)."""
    if addresses is None:
        return []
    if not isinstance(addresses, list) or not all(isinstance(a, dict) for a in addresses):
        raise Untrusted(f"{where}.addresses is not a list of address objects")
    codes = (_text(a.get("country"), f"{where}.addresses.country").upper() for a in addresses)
    return list(dict.fromkeys(code for code in codes if code))
