"""The registry of crawlable sources, read from `sources.json` beside this module.

Enters: a source name (`--source NAME`, or `all`).
Leaves: that source's facts (spider name, default base URL, API fields, page size, slicing limits),
checked when the registry is read (a wrong type or a limit below 1 is one `ValueError` naming the
source and key), or `ValueError` with one line listing the valid names; `DEFAULT_SOURCE`,
crawled when none is named; `crawled_sources`, the names `all` stands for: every registered source
in file order except those run as a later step of `regwatch run` (`"step"`, e.g. the full-text
fetch after tagging).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

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
DEFAULT_SOURCE = "federal_register"  # crawled when no source is named
ALL = "all"


@cache
def registry() -> dict[str, dict[str, Any]]:
    """Every source by name, checked (`check_registry`)."""
    return check_registry(data_file(REGISTRY))


def check_registry(sources: Any) -> dict[str, dict[str, Any]]:
    """`sources` if every source has its `REQUIRED` text keys and sound `COUNTS`, else
    `ValueError` naming the first source and key that does not."""
    if not isinstance(sources, dict) or not all(isinstance(s, dict) for s in sources.values()):
        raise ValueError(f"{REGISTRY.name}: expected an object of source objects")
    for name, spec in sources.items():
        for key in REQUIRED:
            if not isinstance(spec.get(key), str) or not spec[key]:
                raise ValueError(f"{REGISTRY.name}: {name}.{key} must be non-empty text")
        for key, value in spec.items():
            least = 0 if key in MAY_BE_ZERO else 1
            if key in COUNTS and (type(value) is not int or value < least):
                raise ValueError(
                    f"{REGISTRY.name}: {name}.{key} must be a whole number of at least {least}, "
                    f"got {value!r}"
                )
            if key == "download_delay" and (
                type(value) not in (int, float) or not 0 <= value < float("inf")
            ):
                raise ValueError(f"{REGISTRY.name}: {name}.{key} must be seconds, got {value!r}")
    return sources


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
