"""The registry of crawlable sources, read from `sources.json` beside this module.

Enters: a source name (`--source NAME`).
Leaves: that source's facts (spider name, default base URL, API fields, page size, slicing limits),
or `ValueError` with one line listing the valid names; `DEFAULT_SOURCE`, crawled when none is named.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

REGISTRY = Path(__file__).with_name("sources.json")
DEFAULT_SOURCE = "federal_register"  # crawled when no source is named


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
