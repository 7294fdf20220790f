"""Items the spiders yield.

Enters: nothing (definitions only).
Leaves: `Publication` (re-exported from `archive.records`), the item stored in the archive, and
`Rejected`, a record a spider could not turn into a `Publication`; the pipeline drops it with
`DropItem("<source> <id>: <reason>")` so Scrapy counts it.
"""

from __future__ import annotations

from dataclasses import dataclass

from archive.records import Publication

__all__ = ["Publication", "Rejected"]


@dataclass(frozen=True, slots=True)
class Rejected:
    """A source record that failed normalisation."""

    source: str
    source_id: str
    reason: str
