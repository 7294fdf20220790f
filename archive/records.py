"""Plain records that cross package boundaries.

Enters: values a crawler or an importer normalised from a source.
Leaves: `Publication`, the unit the archive stores; its field names follow the Federal Register API;
and `iso_date`, the project's one check that a value is an ISO date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def iso_date(value: Any) -> date | None:
    """The day a `YYYY-MM-DD` string names; None for anything else (week dates, `20240131`, …)."""
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


@dataclass(slots=True)
class Publication:
    """One publication as the archive stores it, identified by `(source, source_id)`.

    `agencies` and `cfr_references` keep the Federal Register API's object shapes
    (`{"raw_name", "name", "slug"}`, `{"title": int, "part": str}`); dates are ISO strings.
    `raw` is the source record as received (JSON-serialisable), kept for audit and re-parsing.
    `family` links records of one document across sources (a public-inspection filing and the
    published document share `fr:<document number>`); None: the record is a family of its own.
    """

    source: str
    source_id: str
    title: str
    publication_date: str
    url: str | None = None
    type: str | None = None
    agencies: list[dict[str, Any]] = field(default_factory=list)
    abstract: str | None = None
    action: str | None = None
    dates: str | None = None
    effective_on: str | None = None
    comments_close_on: str | None = None
    cfr_references: list[dict[str, Any]] = field(default_factory=list)
    regulation_id_numbers: list[str] = field(default_factory=list)
    docket_ids: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    body_text: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    family: str | None = None
