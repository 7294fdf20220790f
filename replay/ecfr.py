"""The eCFR versioner API (title 15), replayed from `recordings/ecfr/`.

Enters: a request path, its query pairs and the scenario's `sources.ecfr` options (`per_page`,
default `PER_PAGE`, the live page size).
Leaves: `(status, body, content type)` or None for a path outside `BASE_PATH`:
`titles.json` → `synthetic-titles.json`; `versions/title-15.json` → the versions of
`synthetic-versions-title-15.json` filtered by `part`, `section` and `issue_date[gte]`
(`chapter`/`subchapter` are accepted and not applied: the entries carry no chapter, so the
client's own part filter is what counts), `page`d, with the live `meta` (numbers as strings);
`full/{date}/title-15.xml?part=&section=` → `sections/synthetic-{section}@{version date}.xml`, the
newest version on or before `date`; a date after title 15's `up_to_date_as_of`, an unknown title
or section → 404 with an empty body (the live error bodies were never recorded, ecfr.md §6).
"""

from __future__ import annotations

import json
import math
import re
from datetime import date
from pathlib import Path
from typing import Any

BASE_PATH = "/api/versioner/v1/"
SOURCE_DIR = "ecfr"
PER_PAGE = 1000
TITLE = "15"
JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "application/xml"
FULL = re.compile(r"full/(\d{4}-\d{2}-\d{2})/title-(\d+)\.xml")
NOT_FOUND = (404, b"", JSON_TYPE)


def answer(
    recordings: Path, path: str, pairs: list[tuple[str, str]], options: dict[str, Any]
) -> tuple[int, bytes, str] | None:
    """The reply to one request, or None if the path is not the versioner API's."""
    if not path.startswith(BASE_PATH):
        return None
    folder, rest, query = recordings / SOURCE_DIR, path[len(BASE_PATH) :], dict(pairs)
    if rest == "titles.json":
        return 200, (folder / "synthetic-titles.json").read_bytes(), JSON_TYPE
    if rest == f"versions/title-{TITLE}.json":
        return 200, versions(folder, query, int(options.get("per_page", PER_PAGE))), JSON_TYPE
    match = FULL.fullmatch(rest)
    if match and match.group(2) == TITLE:
        return full(folder, match.group(1), query)
    return NOT_FOUND


def versions(folder: Path, query: dict[str, str], per_page: int) -> bytes:
    """One page of the filtered versions, with the live `meta` shape."""
    recorded = json.loads((folder / "synthetic-versions-title-15.json").read_text("utf-8"))
    since = query.get("issue_date[gte]", "")
    found = [
        v
        for v in recorded["content_versions"]
        if v["issue_date"] >= since
        and query.get("part", v["part"]) == v["part"]
        and query.get("section", v["identifier"]) == v["identifier"]
    ]
    page = max(1, int(query.get("page", "1")) if query.get("page", "1").isdigit() else 1)
    shown = found[(page - 1) * per_page : page * per_page]
    meta = {
        "title": TITLE,
        "result_count": str(len(found)),
        "issue_date": {"gte": since},
        "latest_amendment_date": max((v["amendment_date"] for v in found), default=None),
        "latest_issue_date": max((v["issue_date"] for v in found), default=None),
        "page": str(page),
        "per_page": str(per_page),
        "total_pages": str(max(1, math.ceil(len(found) / per_page))),
    }
    return json.dumps({"content_versions": shown, "meta": meta}, indent=2).encode()


def full(folder: Path, day: str, query: dict[str, str]) -> tuple[int, bytes, str]:
    """The section's XML as of `day`, or 404."""
    titles = json.loads((folder / "synthetic-titles.json").read_text("utf-8"))["titles"]
    current = next(t["up_to_date_as_of"] for t in titles if str(t["number"]) == TITLE)
    section = query.get("section", "")
    if day > current or not re.fullmatch(r"[0-9]+\.[0-9]+[a-z]?", section):
        return NOT_FOUND
    dated = []
    for path in (folder / "sections").glob(f"synthetic-{section}@*.xml"):
        version = path.stem.rpartition("@")[2]
        if date.fromisoformat(version) <= date.fromisoformat(day):
            dated.append((version, path))
    if not dated:
        return NOT_FOUND
    return 200, max(dated)[1].read_bytes(), XML_TYPE
