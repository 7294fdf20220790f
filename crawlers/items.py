"""Items the spiders yield.

Enters: nothing (definitions only).
Leaves: `Publication` (re-exported from `archive.records`), the item stored in the archive;
`Rejected`, a record a spider could not turn into a `Publication`; the pipeline drops it with
`DropItem("<source> <id>: <reason>")` so Scrapy counts it; and `Listed`, yielded after the items of
a date slice read completely: how many documents the source listed for each day of the slice (the
pipeline records it in the crawl ledger). `ScreeningSnapshot` (a whole screening-list download,
`csl`) and `SectionChange` (an eCFR section diff, `ecfr`) are re-exported from `archive` and stored
by their own archive functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from archive.records import Publication
from archive.screening import ScreeningRecord, ScreeningSnapshot
from archive.sections import SectionChange

__all__ = [
    "Listed",
    "Publication",
    "Rejected",
    "ScreeningRecord",
    "ScreeningSnapshot",
    "SectionChange",
]


@dataclass(frozen=True, slots=True)
class Rejected:
    """A source record that failed normalisation."""

    source: str
    source_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Listed:
    """A date slice read completely: every day of it → documents the source listed that day."""

    source: str
    days: dict[str, int]
