"""The registry of crawlable sources, read from `sources.json` beside this module.

Enters: a source name (`--source NAME`, or `all`).
Leaves: that source's facts (spider name, default base URL, API fields, page size, slicing limits),
or `ValueError` with one line listing the valid names; `DEFAULT_SOURCE`, crawled when none is named;
`crawled_sources`, the names `all` stands for: every registered source in file order except those
run as a later step of `regwatch run` (`"step"`, e.g. the full-text fetch after tagging).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

REGISTRY = Path(__file__).with_name("sources.json")
DEFAULT_SOURCE = "federal_register"  # crawled when no source is named
ALL = "all"


@cache
def registry() -> dict[str, dict[str, Any]]:
    """Every source by name."""
    return json.loads(REGISTRY.read_text(encoding="utf-8"))


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
