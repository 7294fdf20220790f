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

from archive import coverage, db, digest_log, listing, search, store, tagging
from archive.coverage import SourceCoverage
from archive.digest_log import SentDigest
from archive.errors import ArchiveError
from archive.index import SearchIndex
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
        self, tagged: Sequence[tuple[TagInput, dict[str, Any]]], model_version: str
    ) -> int:
        """Store tag results in one transaction, then re-index those publications."""
        count = tagging.store_tags(self._conn, tagged, model_version)
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

    # Digests: what a recipient list's digest holds, source health, and the log of sent digests.

    def digest_items(
        self, list_name: str, start: str, end: str, tags: Sequence[str], late_since: str | None
    ) -> list[dict[str, Any]]:
        """Tagged publications of the period not yet sent to the list, then late ones."""
        return listing.digest_items(
            self._conn, list_name=list_name, start=start, end=end, tags=tags, late_since=late_since
        )

    def digest_changes(self, list_name: str, start: str, end: str) -> list[dict[str, Any]]:
        """Publications sent to the list in another period's digest that changed since."""
        return listing.digest_changes(self._conn, list_name=list_name, start=start, end=end)

    def upcoming(
        self, published_since: str, after: str, until: str, tags: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Tagged publications with a deadline, effective or compliance date in (after, until]."""
        return listing.upcoming(
            self._conn, published_since=published_since, after=after, until=until, tags=tags
        )

    def period_counts(
        self, start: str, end: str, primary: Sequence[str], tags: Sequence[str]
    ) -> dict[str, int]:
        """Publications of the period: total, tagged, with a primary tag, matching `tags`."""
        return listing.period_counts(self._conn, start=start, end=end, primary=primary, tags=tags)

    def tag_agency_rows(
        self, start: str, end: str, primary: Sequence[str]
    ) -> list[tuple[str, list[str], list[str]]]:
        """(date, primary tags, agency names) per publication of the period."""
        return listing.tag_agency_rows(self._conn, start=start, end=end, primary=primary)

    def coverage(self, start: str, end: str) -> list[SourceCoverage]:
        """Crawl health and per-day held counts of every source over the period."""
        return coverage.coverage(self._conn, start, end)

    def sent_digest(self, list_name: str, start: str, end: str) -> SentDigest | None:
        """The newest digest of this period sent to the list, or None."""
        return digest_log.sent_for_period(self._conn, list_name, start, end)

    def first_digest_at(self, list_name: str) -> str | None:
        """When the list was first sent a digest, or None."""
        return digest_log.first_sent_at(self._conn, list_name)

    def record_digest(
        self,
        list_name: str,
        start: str,
        end: str,
        *,
        subject: str,
        recipients: Sequence[str],
        items: Sequence[tuple[int, int, str]],
    ) -> SentDigest:
        """Record a digest the mail server accepted and the (publication, version, kind) it held."""
        return digest_log.record_sent(
            self._conn, list_name, start, end, subject=subject, recipients=recipients, items=items
        )

    def last_digests(self) -> dict[str, SentDigest]:
        """The newest sent digest of every list."""
        return digest_log.last_sent(self._conn)
