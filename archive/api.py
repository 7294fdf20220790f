"""The archive's public face: one object over the SQLite file and the search index.

Enters: a home directory (`<home>/regwatch.db`, `<home>/index/`), publications from crawlers or
importers, tag results from the tag step, search text from users. Leaves: `StoreResult`,
`SearchHit`s, `TagInput` batches, publication dicts for digests and `ArchiveStatus`. SQLite is the
source of truth; after every committed write the index is brought level (and on open, if a crash
left it behind).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from archive import db, feeds, listing, outbox, search, store, tagging
from archive.errors import ArchiveError
from archive.index import SearchIndex
from archive.outbox import Alert, RouteCounts, RouteFilter
from archive.records import Publication
from archive.search import SearchHit
from archive.status import ArchiveStatus, status
from archive.store import StoreResult
from archive.tagging import TagInput

DB_NAME = "regwatch.db"
INDEX_DIR = "index"


class Archive:
    """Publications, tags, watermarks and crawl runs in `<home>`; use `Archive.open(home)`."""

    def __init__(self, home: Path, conn: sqlite3.Connection, index: SearchIndex) -> None:
        self.home = home
        self._conn = conn
        self._index = index
        self._bulk = False

    @classmethod
    def open(cls, home: str | Path) -> Archive:
        """Open (creating if needed) the archive in `home` and catch the index up."""
        home = Path(home)
        try:
            home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ArchiveError(f"cannot create archive directory {home}: {exc}") from None
        conn = db.connect(home / DB_NAME)
        conn.row_factory = sqlite3.Row
        try:
            index = SearchIndex(home / INDEX_DIR)
            index.sync(conn)
        except BaseException:
            conn.close()
            raise
        return cls(home, conn, index)

    @property
    def db_path(self) -> Path:
        """The SQLite file."""
        return self.home / DB_NAME

    def close(self) -> None:
        """Finish index merges, release the index lock and close the database."""
        self._index.close()
        self._conn.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def store(self, publications: Sequence[Publication]) -> StoreResult:
        """Store a batch in one transaction, then index what was inserted or updated."""
        result = store.store_publications(self._conn, publications)
        if result.inserted or result.updated:
            self._index.sync(self._conn, commit=not self._bulk)
        return result

    @contextmanager
    def bulk(self) -> Iterator[Archive]:
        """Within the block, index commits wait until its end (imports, tagging runs: faster).

        `store` and `store_tags` still commit to SQLite batch by batch; what they wrote becomes
        searchable when the block ends (or, after a crash, when the archive is next opened).
        """
        self._bulk = True
        try:
            yield self
        finally:
            self._bulk = False
            self._index.sync(self._conn)

    def watermark(self, source: str) -> str | None:
        """The crawl watermark of `source` (an ISO date), or None."""
        return store.watermark(self._conn, source)

    def set_watermark(self, source: str, value: str) -> None:
        """Advance (or set) the crawl watermark of `source`."""
        store.set_watermark(self._conn, source, value)

    def log_crawl(
        self, source: str, *, started_at: str, finished_at: str, ok: bool, stats: dict[str, Any]
    ) -> None:
        """Record one crawl run."""
        store.log_crawl(
            self._conn, source, started_at=started_at, finished_at=finished_at, ok=ok, stats=stats
        )

    def search(
        self,
        query: str,
        *,
        limit: int = 20,
        tags: Sequence[str] = (),
        since: str | None = None,
        until: str | None = None,
    ) -> list[SearchHit]:
        """Best matches for the user's `query`; raises `QueryError` on malformed input."""
        return search.search(
            self._conn, self._index, query, limit=limit, tags=tags, since=since, until=until
        )

    def reindex(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Rebuild the search index from SQLite; `progress(done, total)` after each batch."""
        return self._index.rebuild(self._conn, progress)

    def status(self) -> ArchiveStatus:
        """Counts, last crawls, watermarks and sizes."""
        return status(self._conn, self._index, self.db_path)

    def count_to_tag(self, model_version: str, *, retag: bool = False) -> int:
        """How many publications need tagging by `model_version` (all of them with `retag`)."""
        return tagging.count_to_tag(self._conn, model_version, retag=retag)

    def documents_to_tag(
        self, model_version: str, *, retag: bool = False, batch_size: int = 500
    ) -> Iterator[list[TagInput]]:
        """Batches of documents never tagged, changed since tagging, or tagged by another model."""
        return tagging.documents_to_tag(
            self._conn, model_version, retag=retag, batch_size=batch_size
        )

    def store_tags(
        self,
        tagged: Sequence[tuple[TagInput, dict[str, Any]]],
        model_version: str,
        routes: Sequence[RouteFilter] = (),
    ) -> int:
        """Store tag results and the alerts they cause for `routes` in one transaction, then
        re-index those publications."""
        count = tagging.store_tags(self._conn, tagged, model_version, routes)
        if count:
            self._index.sync(self._conn, commit=not self._bulk)
        return count

    def publications(
        self,
        *,
        since: str | None = None,
        until: str | None = None,
        tags: Sequence[str] = (),
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Stored publications with their tag results, newest first (for digests)."""
        return listing.publications(self._conn, since=since, until=until, tags=tags, limit=limit)

    def register_routes(self, names: Sequence[str]) -> dict[str, str]:
        """Note alert routes not seen before as added now; return each route's `added_at`."""
        return outbox.register_routes(self._conn, names)

    def backfill_alerts(self, routes: Sequence[RouteFilter], stored_since: str) -> int:
        """Queue alerts for tagged documents first stored on or after `stored_since`."""
        return outbox.backfill(self._conn, routes, stored_since)

    def due_alerts(self, states: Sequence[str], now: str) -> list[Alert]:
        """Outbox rows in `states` whose next attempt time is at or before `now`."""
        return outbox.due(self._conn, states, now)

    def pending_alerts(self) -> list[Alert]:
        """Every pending outbox row, due or not."""
        return outbox.pending(self._conn)

    def claim_alert(self, alert: Alert, states: Sequence[str], retry_at: str) -> bool:
        """Count one delivery attempt (committed before sending); False if another run took it."""
        return outbox.claim(self._conn, alert, states, retry_at)

    def finish_alert(self, alert_id: int, state: str, error: str | None = None) -> None:
        """Record the outcome of a delivery attempt."""
        outbox.finish(self._conn, alert_id, state, error)

    def alert_counts(self) -> dict[str, RouteCounts]:
        """Alerts per route by state, and the last send time."""
        return outbox.counts(self._conn)

    def feed_entries(self, route: str, limit: int = 50) -> list[dict[str, Any]]:
        """The newest alert per document queued for `route`, newest first."""
        return feeds.route_entries(self._conn, route, limit)

    def upcoming_dates(self, since: str) -> list[dict[str, Any]]:
        """Comment deadlines, effective and compliance dates on or after `since`."""
        return feeds.upcoming_dates(self._conn, since)
