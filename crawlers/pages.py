"""A web page (a BIS press release, an NTIA post) → title, date, description and main text.

Enters: the HTML of one page and its URL. No site-specific CSS classes are used: no raw HTML of
either site was ever recorded, so only standard metadata and generic main-content extraction.
Leaves: `Page` (fields None when not found). In order of trust:
- title: JSON-LD `headline`/`name` of an article-like object, `og:title`, microdata `headline`,
  else the line after the `FOR IMMEDIATE RELEASE | … |` line of the main text (BIS pages carry
  it; the page's banner heading is the agency's name, never the release's), else trafilatura's
  title;
- date: JSON-LD `datePublished`, `article:published_time`, microdata `datePublished` (their first
  ten characters must be an ISO date), else the date in the `FOR IMMEDIATE RELEASE | <Weekday,
  Month D, YYYY> |` line; never a guess from the URL or the page's other dates;
- description: JSON-LD `description`, `og:description`, else None;
- text: trafilatura's main text (comments and tables of links left out), starting after the
  title line when the title is in it, at most `max_chars` characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from archive.records import iso_date

RELEASE_LINE = re.compile(
    r"^\s*FOR IMMEDIATE RELEASE\s*\|\s*(?:[A-Za-z]+,\s*)?([A-Za-z]+ \d{1,2}, \d{4})"
)
ARTICLE_TYPES = {"Article", "NewsArticle", "BlogPosting", "Report", "WebPage", "PressRelease"}
SYNTAXES = ["json-ld", "opengraph", "microdata"]


@dataclass(frozen=True, slots=True)
class Page:
    title: str | None
    date: str | None
    description: str | None
    text: str | None


def extract_page(html: str, url: str, max_chars: int) -> Page:
    """What the page says about itself and its main text."""
    import extruct
    import trafilatura

    try:
        meta = extruct.extract(html, base_url=url, syntaxes=SYNTAXES, uniform=True, errors="ignore")
    except Exception:  # any unreadable markup means "no metadata"
        meta = {}
    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False)
    lines = _lines(getattr(doc, "text", None) if doc is not None else None)
    release = next((i for i, line in enumerate(lines) if RELEASE_LINE.match(line)), None)
    after_release = lines[release + 1] if release is not None and release + 1 < len(lines) else None
    title = _first(_meta_values(meta, "title")) or after_release or getattr(doc, "title", None)
    date = _first(d for d in (_iso(v) for v in _meta_values(meta, "date")) if d)
    if date is None and release is not None:
        date = _release_date(lines[release])
    text = "\n".join(lines[lines.index(title) + 1 :] if title in lines else lines)
    return Page(
        title=_clean(title),
        date=date,
        description=_clean(_first(_meta_values(meta, "description"))),
        text=text[:max_chars] or None,
    )


def _meta_values(meta: dict[str, Any], what: str) -> list[Any]:
    """Candidate values for `title`, `date` or `description`, most trusted first."""
    keys = {
        "title": (
            ("json-ld", "headline"),
            ("json-ld", "name"),
            ("opengraph", "og:title"),
            ("microdata", "headline"),
        ),
        "date": (
            ("json-ld", "datePublished"),
            ("opengraph", "article:published_time"),
            ("microdata", "datePublished"),
        ),
        "description": (("json-ld", "description"), ("opengraph", "og:description")),
    }[what]
    return [obj.get(key) for syntax, key in keys for obj in _objects(meta, syntax)]


def _objects(meta: dict[str, Any], syntax: str) -> list[dict[str, Any]]:
    found = [obj for obj in meta.get(syntax) or [] if isinstance(obj, dict)]
    if syntax == "opengraph":
        return found
    return [obj for obj in found if set(_types(obj.get("@type"))) & ARTICLE_TYPES]


def _types(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [v for v in value or [] if isinstance(v, str)]


def _first(values: Any) -> str | None:
    return next((v.strip() for v in values if isinstance(v, str) and v.strip()), None)


def _iso(value: Any) -> str | None:
    """The ISO date a metadata value starts with (`2024-02-26T10:00:00-05:00` → `2024-02-26`)."""
    text = value.strip()[:10] if isinstance(value, str) else None
    return text if iso_date(text) else None


def _release_date(line: str) -> str | None:
    """`FOR IMMEDIATE RELEASE | Monday, February 26, 2024 | …` → `2024-02-26`."""
    match = RELEASE_LINE.match(line)
    try:
        return datetime.strptime(match.group(1), "%B %d, %Y").date().isoformat()
    except ValueError:
        return None


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _clean(text: str | None) -> str | None:
    return " ".join(text.split()) or None if text else None
