"""Items the spiders yield.

Enters: nothing (definitions only).
Leaves: `Publication` (re-exported from `archive.records`), the item stored in the archive;
`Rejected`, a record a spider could not turn into a `Publication` (the pipeline drops it with
`DropItem("<source> <id>: <reason>")` so Scrapy counts it); `Listed`, yielded after the items of a
date slice read completely: how many documents the source listed for each day of the slice (the
pipeline records it in the crawl ledger); `Fetched`, the validators (ETag, Last-Modified) of a
feed, listing or page the spider handled, kept by the pipeline until the crawl has succeeded;
`Listing`, every document number of one complete public-inspection issue (filings of that issue
missing from it are withdrawn); and `Body`, a document's fetched full text or the reason it could
not be fetched. `ScreeningSnapshot` (a whole screening-list download, `csl`) and `SectionChange`
(an eCFR section diff, `ecfr`) are re-exported from `archive` and stored by their own archive
functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from archive.records import Publication
from archive.screening import ScreeningRecord, ScreeningSnapshot
from archive.sections import SectionChange

__all__ = [
    "Body",
    "Fetched",
    "Listed",
    "Listing",
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


@dataclass(frozen=True, slots=True)
class Fetched:
    """A URL the crawl read whole, with the validators its server sent (None if none)."""

    url: str
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True, slots=True)
class Listing:
    """The complete list of document numbers on public inspection in the issue of `issue_date`."""

    source: str
    issue_date: str
    document_numbers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Body:
    """The plain full text of a stored publication, or why fetching it failed (`text` None);
    `host_failed`: the host did not serve it (a 5xx or 429 after retries, no answer), as opposed
    to an answer about this document (a 404, an empty text)."""

    source: str
    source_id: str
    text: str | None
    error: str | None = None
    host_failed: bool = False
