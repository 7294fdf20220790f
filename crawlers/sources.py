"""The registry of crawlable sources, read from `sources.json` beside this module.

Enters: a source name (`--source NAME`, or `all`).
Leaves: that source's facts (spider name, default base URL, API fields, page size, slicing limits),
checked when the registry is read (a missing key, a wrong type or a limit below 1 is one
`ValueError` naming the file, source and key; a site source, `SITE_SPIDERS`, needs every key its
spider reads, `SITE_KEYS`), or `ValueError` with one line listing the valid names; `DEFAULT_SOURCE`,
crawled when none is named; `crawled_sources`, the names `all` stands for: every registered source
in file order except those run as a later step of `regwatch run` (`"step"`, e.g. the full-text
fetch after tagging).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from crawlers.urls import origin
from regwatch.jsonl import data_file

REGISTRY = Path(__file__).with_name("sources.json")
REQUIRED = ("spider", "base_url")
# Keys holding a count, a size or a number of days: whole numbers, at least 1 (at least 0 where
# `MAY_BE_ZERO`); `download_delay` is seconds (a number, at least 0).
COUNTS = frozenset(
    {
        "batch",
        "count_cap",
        "first_crawl_days",
        "link_title_days",
        "max_attempts",
        "max_bytes",
        "max_days",
        "max_items",
        "max_pages",
        "max_text_chars",
        "outage_grace_days",
        "per_page",
        "revalidate_days",
        "slice_max",
    }
)
MAY_BE_ZERO = frozenset({"first_crawl_days"})
# Spiders built on `crawlers.site.SiteSpider` (a test compares): their sources need every key of
# `SITE_KEYS` (`wall_markers` is optional).
SITE_SPIDERS = frozenset({"bis", "ntia"})
SITE_KEYS = (
    *("aliases", "entry_path", "item_path", "types", "type_default", "agencies"),
    *("download_delay", "first_crawl_days", "link_title_days", "revalidate_days"),
    *("max_items", "max_bytes", "max_text_chars", "not_found_titles"),
)
DEFAULT_SOURCE = "federal_register"  # crawled when no source is named
ALL = "all"


@cache
def registry() -> dict[str, dict[str, Any]]:
    """Every source by name, checked (`check_registry`)."""
    return check_registry(data_file(REGISTRY))


def check_registry(sources: Any) -> dict[str, dict[str, Any]]:
    """`sources` if every source has its `REQUIRED` keys (and a site source its `SITE_KEYS`) and
    each key it has is sound (`fault`), else `ValueError` naming the first source and key that is
    not."""
    if not isinstance(sources, dict) or not all(isinstance(s, dict) for s in sources.values()):
        raise ValueError(f"{REGISTRY.name}: expected an object of source objects")
    for name, spec in sources.items():
        site = SITE_KEYS if spec.get("spider") in SITE_SPIDERS else ()
        for key in (*REQUIRED, *site):
            if key not in spec:
                raise ValueError(f"{REGISTRY.name}: {name}.{key} is missing")
        for key, value in spec.items():
            wrong = fault(key, value)
            if wrong:
                raise ValueError(f"{REGISTRY.name}: {name}.{key} must be {wrong}, got {value!r}")
    return sources


def fault(key: str, value: Any) -> str | None:
    """What `value` must be as the registry's `key`, if it is not; None if sound or unchecked."""
    if key in COUNTS:
        least = 0 if key in MAY_BE_ZERO else 1
        return (
            None if type(value) is int and value >= least else f"a whole number of at least {least}"
        )
    check, wanted = CHECKS.get(key, (lambda _: True, ""))
    return None if check(value) else wanted


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(_text(item) for item in value)


def _urls(value: Any) -> bool:
    return _texts(value) and all(origin(url) for url in value)


def _seconds(value: Any) -> bool:
    return type(value) in (int, float) and 0 <= value < float("inf")


def _kinds(value: Any) -> bool:
    return isinstance(value, dict) and all(_text(k) and _text(v) for k, v in value.items())


def _agencies(value: Any) -> bool:
    names = ("raw_name", "name", "slug")
    return isinstance(value, list) and all(
        isinstance(agency, dict) and all(_text(agency.get(n)) for n in names) for agency in value
    )


TEXT = (_text, "non-empty text")
# Keys checked by type wherever they appear (`COUNTS` apart): key -> (test, what it must be).
CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    **dict.fromkeys((*REQUIRED, "entry_path", "item_path", "type_default"), TEXT),
    "aliases": (_urls, "a list of http(s) URLs with a host"),
    "not_found_titles": (_texts, "a list of non-empty text"),
    "wall_markers": (_texts, "a list of non-empty text"),
    "download_delay": (_seconds, "seconds"),
    "types": (_kinds, "an object of path text to type text"),
    "agencies": (_agencies, "a list of objects with raw_name, name and slug text"),
}


def source_spec(name: str) -> dict[str, Any]:
    """The facts of one source; `ValueError` naming the valid sources if `name` is unknown."""
    try:
        return registry()[name]
    except KeyError:
        valid = ", ".join(sorted(registry()))
        raise ValueError(f"unknown source {name!r}; valid sources: {valid}") from None


def crawled_sources(name: str) -> list[str]:
    """The sources `--source name` crawls: `all` of the registry's crawled sources, or `name`."""
    if name != ALL:
        source_spec(name)
        return [name]
    return [source for source, spec in registry().items() if "step" not in spec]


def shares_api(name: str, other: str = DEFAULT_SOURCE) -> bool:
    """Whether source `name` is served by the same API as `other` (same default base URL), so one
    `--base-url` (a replay server of that API) stands for both."""
    return source_spec(name)["base_url"] == source_spec(other)["base_url"]


def step_sources(step: str) -> list[str]:
    """The registered sources run as `step` (e.g. `fulltext`)."""
    return [source for source, spec in registry().items() if spec.get("step") == step]
