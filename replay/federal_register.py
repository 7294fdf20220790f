"""Federal Register `documents.json` search semantics over a local document store.

Enters: the documents of `replay/recordings/federal_register/store.jsonl.gz` (real API-shaped
records),
the API facts in `api.json` beside it, and one search request (query pairs plus the origin that
`next_page_url` should point at).
Leaves: a `Reply` (status, body bytes) shaped like the live API's: compact JSON with key order
`description, count, total_pages, next_page_url, previous_page_url, results`; every result holds
every requested field (without `fields[]`, the API's default set), `[]`, `{}` or `null` where the
document has no value, full-text URLs built from number and date; `count` clamped at
10,000; `total_pages` <= 50; `per_page` outside 2..2000 silently 20; the zero-result body without
`total_pages`/`results`; `search_after_cursor` tokens (base64url, no padding, of
`[publication_date_epoch_ms, "document_number"]`); the real 400 bodies for an unknown field and a
bad cursor. A page beyond the 10,000-row window and real-but-unemulated parameters get bodies named
`synthetic` (never recorded live).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from archive.records import iso_date
from regwatch.jsonl import read_objects

CONDITION_RE = re.compile(r"conditions\[([^\]]*)\](?:\[([^\]]*)\])?(\[\])?\Z")
PAGING_KEYS = ("format", "page", "search_after_cursor")


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer of the emulated API."""

    status: int
    body: bytes


class ApiError(Exception):
    """A request the API answers with an error body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


@dataclass(frozen=True, slots=True)
class Query:
    """The parts of a search request the emulation reads."""

    gte: str | None
    lte: str | None
    on: str | None
    fields: tuple[str, ...]
    per_page: int
    descending: bool
    page: int
    cursor: tuple[int, str] | None


class DocumentStore:
    """Documents sorted by (publication date, document number), searchable by date range."""

    def __init__(self, records: Iterable[dict[str, Any]]) -> None:
        self.records = sorted(records, key=sort_key)
        self.keys = [sort_key(r) for r in self.records]

    @classmethod
    def load(cls, path: Path, overrides: Path | None = None) -> DocumentStore:
        """Read the gzipped JSON-lines store; `overrides` (JSON lines) update documents by id."""
        records = {r["document_number"]: dict(r) for r in _read_store(path)}
        for _, change in read_objects(overrides) if overrides else []:
            records.setdefault(change["document_number"], {}).update(change)
        return cls(records.values())

    def between(self, first: str, last: str) -> list[dict[str, Any]]:
        """Documents published from `first` to `last` inclusive, oldest first."""
        lo = bisect.bisect_left(self.keys, (epoch_ms(first), ""))
        hi = bisect.bisect_left(self.keys, (epoch_ms(last) + 1, ""))
        return self.records[lo:hi]


@lru_cache(maxsize=4)
def _read_store(path: Path) -> tuple[dict[str, Any], ...]:
    return tuple(record for _, record in read_objects(path))


@lru_cache(maxsize=4)
def load_api(path: Path) -> dict[str, Any]:
    """The API facts file (`api.json`)."""
    return json.loads(path.read_text(encoding="utf-8"))


def epoch_ms(iso_date: str) -> int:
    """UTC midnight of an ISO date in epoch milliseconds (the cursor's first value)."""
    day = date.fromisoformat(iso_date)
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def sort_key(record: dict[str, Any]) -> tuple[int, str]:
    return epoch_ms(record["publication_date"]), record["document_number"]


def encode_cursor(key: tuple[int, str]) -> str:
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(token: str, api: dict[str, Any]) -> tuple[int, str]:
    """The sort values inside a cursor token; the real 400 if it is not one of ours."""
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        ms, number = value
        if isinstance(ms, int) and isinstance(number, str):
            return ms, number
    except (ValueError, TypeError, binascii.Error):
        pass
    raise ApiError(400, api["bodies"]["invalid_cursor"])


def search(
    store: DocumentStore, api: dict[str, Any], pairs: list[tuple[str, str]], origin: str
) -> Reply:
    """Answer one `documents.json` request given as ordered query pairs."""
    try:
        query = parse_query(pairs, api)
        body = envelope(store, api, query, pairs, origin)
    except ApiError as error:
        return Reply(error.status, dump(error.body))
    return Reply(200, dump(body))


def dump(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def parse_query(pairs: list[tuple[str, str]], api: dict[str, Any]) -> Query:
    """Validate the request the way the API does and keep what the emulation needs."""
    single = dict(pairs)
    dates = _date_conditions(pairs, api)
    fields = tuple(dict.fromkeys(v for k, v in pairs if k == "fields[]"))
    unknown = [f for f in fields if f not in api["allowed_fields"]]
    if unknown:
        raise ApiError(400, _fill(api["bodies"]["unknown_field"], field=unknown[0]))
    order = single.get("order", "")
    if order not in api["orders"]:
        raise ApiError(501, _fill(api["bodies"]["synthetic_not_emulated"], what=f"order={order}"))
    token = single.get("search_after_cursor")
    return Query(
        gte=dates.get("gte"),
        lte=dates.get("lte"),
        on=dates.get("is"),
        fields=fields or tuple(api["default_fields"]),
        per_page=_per_page(single.get("per_page"), api["per_page"]),
        descending=api["orders"][order] == "desc",
        page=_int(single.get("page"), 1),
        cursor=decode_cursor(token, api) if token is not None else None,
    )


def _date_conditions(pairs: list[tuple[str, str]], api: dict[str, Any]) -> dict[str, str]:
    dates: dict[str, str] = {}
    for key, value in (pair for pair in pairs if pair[0].startswith("conditions")):
        match = CONDITION_RE.match(key)
        name = match.group(1) if match else key
        if name not in api["known_conditions"]:
            raise ApiError(400, _fill(api["bodies"]["unknown_condition"], condition=name))
        if name not in api["emulated_conditions"] or match.group(2) not in ("is", "gte", "lte"):
            raise ApiError(501, _fill(api["bodies"]["synthetic_not_emulated"], what=key))
        if not _valid_date(value):
            raise ApiError(400, _fill(api["bodies"]["invalid_date"], condition=name))
        dates[match.group(2)] = value
    return dates


def _valid_date(value: str) -> bool:
    return iso_date(value) is not None


def _per_page(value: str | None, limits: dict[str, int]) -> int:
    number = _int(value, limits["fallback"])
    return number if limits["min"] <= number <= limits["max"] else limits["fallback"]


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _fill(template: Any, **values: str) -> Any:
    """Format every string (keys included) of a JSON template."""
    if isinstance(template, dict):
        return {_fill(k, **values): _fill(v, **values) for k, v in template.items()}
    return template.format(**values) if isinstance(template, str) else template


def envelope(
    store: DocumentStore,
    api: dict[str, Any],
    query: Query,
    pairs: list[tuple[str, str]],
    origin: str,
) -> dict[str, Any]:
    """The search body for one page of the query's results."""
    if query.page < 1 or query.page * query.per_page > api["result_window"]:
        raise ApiError(400, api["bodies"]["synthetic_out_of_window"])
    matches = _ordered(store, query)
    body: dict[str, Any] = {"description": describe(query, api), "count": 0}
    count = min(len(matches), api["count_cap"])
    if count == 0:
        return body
    total_pages = min(math.ceil(count / query.per_page), api["max_pages"])
    rows = _page(matches, query)
    body.update(count=count, total_pages=total_pages)
    link = api["next_page_path"]
    if query.page < total_pages and rows:
        cursor = encode_cursor(sort_key(rows[-1]))
        body["next_page_url"] = page_url(origin + link, pairs, query.page + 1, cursor)
    if query.page > 1:
        previous = encode_cursor(query.cursor) if query.cursor else None
        body["previous_page_url"] = page_url(origin + link, pairs, query.page - 1, previous)
    body["results"] = [result_row(row, query.fields, api) for row in rows]
    return body


def result_row(row: dict[str, Any], fields: tuple[str, ...], api: dict[str, Any]) -> dict[str, Any]:
    """Every requested field, as the API sends it: the stored value, a full-text URL built from
    the document's number and date, or the empty value (`[]`, `{}`, `null`) when it has none."""
    kept = [name for name in fields if name not in api["omitted_fields"]]
    return {name: row[name] if name in row else _missing(row, name, api) for name in kept}


def _missing(row: dict[str, Any], name: str, api: dict[str, Any]) -> Any:
    template = api["derived_urls"].get(name)
    if template is not None:
        year, month, day = row["publication_date"].split("-")
        return template.format(year=year, month=month, day=day, number=row["document_number"])
    if name in api["empty_values"]["list"]:
        return []
    return {} if name in api["empty_values"]["object"] else None


def _ordered(store: DocumentStore, query: Query) -> list[dict[str, Any]]:
    first = query.on or query.gte or "1900-01-01"
    last = query.on or query.lte or "9999-12-31"
    matches = store.between(first, last)
    return matches[::-1] if query.descending else matches


def _page(matches: list[dict[str, Any]], query: Query) -> list[dict[str, Any]]:
    if query.cursor is None:
        start = (query.page - 1) * query.per_page
        return matches[start : start + query.per_page]
    keys = [sort_key(r) for r in matches]
    if query.descending:
        start = next((i for i, k in enumerate(keys) if k < query.cursor), len(keys))
    else:
        start = bisect.bisect_right(keys, query.cursor)
    return matches[start : start + query.per_page]


def page_url(base: str, pairs: list[tuple[str, str]], page: int, cursor: str | None) -> str:
    """A paging link as the API writes it: params sorted by name, `format=json`, no `.json`."""
    kept = [(k, v) for k, v in pairs if k not in PAGING_KEYS]
    extra = [("format", "json"), ("page", str(page))]
    extra += [("search_after_cursor", cursor)] if cursor else []
    return f"{base}?{urlencode(sorted(kept + extra, key=lambda kv: kv[0]))}"


def describe(query: Query, api: dict[str, Any]) -> str:
    """The `description` string, dates written MM/DD/YYYY as the API does."""
    texts = api["descriptions"]
    us = {k: _us_date(v) for k, v in (("is", query.on), ("gte", query.gte), ("lte", query.lte))}
    if query.on:
        return texts["is"].format(**us)
    if query.gte and query.lte:
        return texts["range"].format(**us)
    if query.gte or query.lte:
        return texts["gte" if query.gte else "lte"].format(**us)
    return texts["none"]


def _us_date(value: str | None) -> str | None:
    return date.fromisoformat(value).strftime("%m/%d/%Y") if value else None
