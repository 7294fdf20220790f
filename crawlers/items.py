"""Items the spiders yield.

Enters: nothing (definitions only).
Leaves: `Publication` (re-exported from `archive.records`), the item stored in the archive;
`Rejected`, a record a spider could not turn into a `Publication` (the pipeline drops it with
`DropItem("<source> <id>: <reason>")` so Scrapy counts it); `Listing`, every document number of
one complete public-inspection issue (filings of that issue missing from it are withdrawn); and
`Body`, a document's fetched full text or the reason it could not be fetched.
"""

from __future__ import annotations

from dataclasses import dataclass

from archive.records import Publication

__all__ = ["Body", "Listing", "Publication", "Rejected"]


@dataclass(frozen=True, slots=True)
class Rejected:
    """A source record that failed normalisation."""

    source: str
    source_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Listing:
    """The complete list of document numbers on public inspection in the issue of `issue_date`."""

    source: str
    issue_date: str
    document_numbers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Body:
    """The plain full text of a stored publication, or why fetching it failed (`text` None)."""

    source: str
    source_id: str
    text: str | None
    error: str | None = None
