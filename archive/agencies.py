"""Agency names as people type them, compared the way the archive stores them.

Enters: an agency named in a search filter or an alert route: its Federal Register name
(`Industry and Security Bureau`), its slug (`industry-and-security-bureau`), or an acronym or
common name (`BIS`, `Bureau of Industry and Security`).
Leaves: `keyword(text)`, the form names and slugs are compared in (lowercase words joined by
`-`), and `agency_keys(name)`: the keywords a stored agency's name or slug may have for `name` to
match it — its own, and the Federal Register slug `agency_aliases.json` gives an acronym or common
name (every slug there is one real Federal Register records carry). The file is checked when first
read: a bad entry is a `ValueError` naming it.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from regwatch.jsonl import data_file

ALIASES = Path(__file__).with_name("agency_aliases.json")
CACHED = 8192  # distinct texts remembered (agency names, types, countries)
_NOT_KEY = re.compile(r"[^a-z0-9]+")
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@functools.lru_cache(maxsize=CACHED)
def keyword(text: str) -> str:
    """The compared form of an agency, type or country: lowercase words joined by `-`."""
    return _NOT_KEY.sub("-", text.lower()).strip("-")


def agency_keys(name: str) -> tuple[str, ...]:
    """The keywords of the stored agency names and slugs that `name` matches."""
    key = keyword(name)
    alias = aliases().get(key)
    return (key, alias) if alias and alias != key else (key,)


@functools.lru_cache(maxsize=1)
def aliases() -> dict[str, str]:
    """`keyword(alias)` → Federal Register agency slug, from `ALIASES`."""
    data = data_file(ALIASES)
    if not isinstance(data, dict):
        raise ValueError(f"{ALIASES.name}: expected an object of name → agency slug")
    found: dict[str, str] = {}
    for alias, slug in data.items():
        key = keyword(alias)
        if not key or not isinstance(slug, str) or not _SLUG.fullmatch(slug):
            raise ValueError(f"{ALIASES.name}: {alias!r}: expected an agency slug, got {slug!r}")
        if found.get(key, slug) != slug:
            raise ValueError(f"{ALIASES.name}: {alias!r} names two agencies")
        found[key] = slug
    return found
