"""The archive: SQLite (source of truth) plus a tantivy search index beside it.

Enters: publications, tag results and search text from the other packages. Leaves: the objects
exported here; every SQL statement and every index call stays inside this package.
"""

from archive.api import Archive
from archive.errors import ArchiveError, QueryError
from archive.filters import Filters
from archive.outbox import Alert, RouteCounts, RouteFilter
from archive.records import Publication
from archive.search import SearchHit, SearchPage, SearchRequest
from archive.status import ArchiveStatus, CrawlRun
from archive.store import StoreResult
from archive.tagging import TagInput

__all__ = [
    "Alert",
    "Archive",
    "ArchiveError",
    "ArchiveStatus",
    "CrawlRun",
    "Filters",
    "Publication",
    "QueryError",
    "RouteCounts",
    "RouteFilter",
    "SearchHit",
    "SearchPage",
    "SearchRequest",
    "StoreResult",
    "TagInput",
]
