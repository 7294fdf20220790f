"""A web request's query string → the arguments of a search, and back to links.

Enters: Starlette `QueryParams` (`q`, repeatable `tag`, `sub_tag`, `agency`, `type`, `source`,
`eccn`, `cfr`, `country`; `since`, `until`, `open`, `sort`, `page`). Leaves: keyword arguments for
`steps.search_request`, the page number, and `link(params, **changes)`, the query string of the
same search with one value added, removed or replaced (for facets and pagination), and
`facet_link`, the same narrowed to the documents a facet value counted (a year: within that year),
or None where no link can find them. Malformed values and unknown parameters
(a misspelt filter would otherwise be dropped and its results shown unfiltered), and one of
`since`, `until`, `q`, `open`, `sort`, `page` given twice (only one would count), raise
`QueryError` with one line.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from archive import QueryError

PAGE_SIZE = 20
MAX_PAGE = 500
MULTI = {
    "tag": "tags",
    "sub_tag": "sub_tags",
    "agency": "agencies",
    "type": "types",
    "source": "sources",
    "eccn": "eccns",
    "cfr": "cfrs",
    "country": "countries",
}
SINGLE = ("q", "since", "until", "open", "sort", "page")
KNOWN = (*SINGLE[:1], *MULTI, *SINGLE[1:])
MAX_VALUES = 20  # values of one filter
# The filter parameter each facet narrows by (a year narrows by `since` and `until`).
FACET_PARAMS = {
    "tag": "tag",
    "sub_tag": "sub_tag",
    "agency": "agency",
    "type": "type",
    "source": "source",
    "year": None,
}
PAGE = re.compile(r"[0-9]{1,4}")  # ASCII digits only: `isdigit` passes "²", which `int` refuses


def search_arguments(params: Any, *, facets: bool = True) -> dict[str, Any]:
    """`steps.search_request` keyword arguments (without config and today) for `params`."""
    if (unknown := _unknown(params)) is not None:  # "" too: `?=BIS` was dropped unseen
        raise QueryError(f"unknown parameter {unknown!r}; the parameters are {', '.join(KNOWN)}")
    for name in SINGLE:
        if (times := len(params.getlist(name))) > 1:
            raise QueryError(f"{name} is given {times} times: give it once")
    page = page_number(params)
    values = {}
    for name, argument in MULTI.items():
        given = [v.strip() for v in params.getlist(name) if v.strip()]
        if len(given) > MAX_VALUES:
            raise QueryError(f"at most {MAX_VALUES} values of {name}")
        if given:
            values[argument] = tuple(given)
    sort = params.get("sort") or None
    if sort not in (None, "relevance", "newest"):
        raise QueryError(f"sort must be relevance or newest, got {sort!r}")
    if params.get("open", "0") not in ("0", "1", ""):
        raise QueryError(f"open must be 1 (open for comment) or 0, got {params['open']!r}")
    return {
        "text": params.get("q", ""),
        "since": params.get("since") or None,
        "until": params.get("until") or None,
        "open_for_comment": params.get("open") == "1",
        "sort": sort,
        "limit": PAGE_SIZE,
        "offset": (page - 1) * PAGE_SIZE,
        "facets": facets,
        **values,
    }


def page_number(params: Any) -> int:
    """The 1-based page asked for; `QueryError` if it is not a whole number in range."""
    text = params.get("page") or "1"
    if not PAGE.fullmatch(text) or not 1 <= int(text) <= MAX_PAGE:
        raise QueryError(f"page must be a whole number from 1 to {MAX_PAGE}, got {text!r}")
    return int(text)


def _unknown(params: Any) -> str | None:
    """The first parameter no search has, if any."""
    return next((name for name in params if name not in KNOWN), None)


def is_blank(params: Any) -> bool:
    """Nothing asked yet (the bare search page; an unknown parameter is asking)."""
    return (
        _unknown(params) is None
        and not params.get("q", "").strip()
        and not any(params.getlist(n) for n in MULTI)
        and not any(params.get(n) for n in ("since", "until", "open"))
    )


def link(
    params: Any,
    *,
    add: tuple[str, str] | None = None,
    drop: tuple[str, str] | None = None,
    page: int | None = None,
) -> str:
    """`?…` for the same search with a filter value added or dropped, or another page."""
    pairs = _search_pairs(params)
    if drop:
        pairs = [pair for pair in pairs if pair != drop]
    if add and add not in pairs:
        pairs.append(add)
    if page and page > 1:
        pairs.append(("page", str(page)))
    return "?" + urlencode(pairs)


def facet_link(params: Any, facet: str, value: str) -> str | None:
    """`?…` for the same search narrowed to the documents carrying `value` of `facet`, which
    its count counted; None when that facet's filter is already given: values of one filter
    widen a search (any of them), so a second one would find more, not fewer."""
    name = FACET_PARAMS[facet]
    if name is None:
        return _year_link(params, value)
    if any(v.strip() for v in params.getlist(name)):
        return None
    return link(params, add=(name, value))


def _year_link(params: Any, year: str) -> str:
    """`?…` for the same search narrowed to publication year `year`, within the `since` and
    `until` already given (ISO dates compare as text), so it finds what the year facet counted."""
    since = max(filter(None, (params.get("since"), f"{year}-01-01")))
    until = min(filter(None, (params.get("until"), f"{year}-12-31")))
    pairs = [(k, v) for k, v in _search_pairs(params) if k not in ("since", "until")]
    return "?" + urlencode([*pairs, ("since", since), ("until", until)])


def _search_pairs(params: Any) -> list[tuple[str, str]]:
    """The query string's pairs that make the search (known names, no page)."""
    return [(k, v) for k, v in params.multi_items() if k in MULTI or k in SINGLE and k != "page"]


def active_filters(params: Any) -> list[tuple[str, str]]:
    """(name, value) of every filter value in the query string, for "remove" links."""
    found = [(k, v) for k, v in params.multi_items() if k in MULTI and v.strip()]
    found += [(k, params[k]) for k in ("since", "until") if params.get(k)]
    if params.get("open") == "1":
        found.append(("open", "1"))
    return found
