"""Plain records that cross package boundaries.

Enters: values a crawler or an importer normalised from a source.
Leaves: `Publication`, the unit the archive stores; its field names follow the Federal Register API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Publication:
    """One publication as the archive stores it, identified by `(source, source_id)`.

    `agencies` and `cfr_references` keep the Federal Register API's object shapes
    (`{"raw_name", "name", "slug"}`, `{"title": int, "part": str}`); dates are ISO strings.
    `raw` is the source record as received (JSON-serialisable), kept for audit and re-parsing.
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
