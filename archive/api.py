"""The archive's public face: one object over the SQLite file and the search index.

Enters: a home directory (`<home>/regwatch.db`, `<home>/index/`), publications from crawlers or
importers, tag results from the tag step, search text from users. Leaves: `StoreResult`,
`SearchHit`s, `TagInput` batches, publication dicts for digests, `ArchiveStatus` and
`IndexHealth`; the scheduler's job runs, heartbeat and source incidents. SQLite is the source of
truth; after every committed write, and when a writer closes, the index is brought level (so a
crash that left it behind is caught up by the next writer). An archive opened `readonly` writes
nothing: not the database, not the index, not its lock. Every SQLite failure leaves as one
`ArchiveError` line naming the file.
"""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import date, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from archive import (
    bodies,
    coverage,
    db,
    digest_log,
    document,
    feeds,
    ledger,
    links,
    listing,
    outbox,
    rows,
    rule_context,
    scheduling,
    screening,
    search,
    sections,
    store,
    tagging,
    timeline,
    validators,
    watch,
)
from archive.coverage import SourceCoverage
from archive.dbcheck import failure
from archive.digest_log import SentDigest
from archive.errors import ArchiveError
from archive.filters import Filters
from archive.health import REMEDY, IndexHealth, index_health
from archive.index import SearchIndex
from archive.outbox import Alert, RouteFilter
from archive.records import Publication
from archive.scheduling import CrawlRecord, Heartbeat, Incident, JobRun, Notice
from archive.screening import ScreeningParty, ScreeningSnapshot, ScreeningSummary
from archive.search import SearchHit, SearchPage, SearchRequest
from archive.sections import SectionChange
from archive.status import ArchiveStatus, status
from archive.store import StoreResult
from archive.tagging import TagInput

DB_NAME = "regwatch.db"
INDEX_DIR = "index"
P = ParamSpec("P")
R = TypeVar("R")


def _named(method: Callable[P, R]) -> Callable[P, R]:
    """Turn an SQLite failure inside an `Archive` method into one line naming the file."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except sqlite3.DatabaseError as exc:
            raise failure(args[0].db_path, exc) from None

    return wrapper


class Archive:
    """Publications, tags, watermarks and crawl runs in `<home>`; use `Archive.open(home)`."""

    def __init__(self, home: Path, conn: sqlite3.Connection, index: SearchIndex) -> None:
        self.home = home
        self._conn = conn
        self._index = index
        self._bulk = False

    @classmethod
    def open(cls, home: str | Path, *, readonly: bool = False, create: bool = True) -> Archive:
        """Open the archive in `home`: for writing (created if needed) or `readonly`.

        A reader never waits for a writer and never changes the index; in a read-only folder it
        also creates nothing. With `create` False nothing is created anywhere: a home without a
        database is then an `ArchiveError` naming it (only what brings documents makes an
        archive; a mistyped home must not answer with an empty one made on the spot). A writer
        refuses a read-only home with one line, and a broken `field_limits.json`
        (`rows.limits`) with one `ValueError` line.
        """
        home = Path(home)
        check_reachable(home)
        path = home / DB_NAME
        if not create and not path.exists():
            raise db.no_archive(path)
        if not readonly:
            rows.limits()
        if create:
            try:
                home.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                if not readonly or not home.is_dir():
                    raise ArchiveError(f"cannot create archive directory {home}: {exc}") from None
        if not readonly and not _writable(home):
            raise ArchiveError(
                f"archive {home} is read-only: this command writes to it "
                "(`regwatch search` and `regwatch status` only read)"
            )
        conn = db.connect_readonly(path, create=create) if readonly else db.connect(path)
        conn.row_factory = sqlite3.Row
        try:
            index = SearchIndex(home / INDEX_DIR, writable=not readonly)
        except BaseException:
            conn.close()
            raise
        return cls(home, conn, index)

    @property
    def db_path(self) -> Path:
        """The SQLite file."""
        return self.home / DB_NAME

    def close(self) -> None:
        """Bring the index level (a writer), release its lock and close the database."""
        try:
            if self._index.writable:
                self._catch_up()
        finally:
            try:
                self._index.close()
            finally:
                self._conn.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        if exc_type is None:
            self.close()
            return
        with suppress(Exception):  # the error in flight says what went wrong, not this one (a
            self.close()  # full disk fails both); the next writer catches the index up

    @_named
    def store(self, publications: Sequence[Publication]) -> StoreResult:
        """Store a batch in one transaction, then index what was inserted or updated."""
        return self.store_encoded([rows.encoded(pub) for pub in publications])

    @_named
    def store_encoded(
        self,
        items: Sequence[rows.Encoded],
        documents: Sequence[str] | None = None,
    ) -> StoreResult:
        """`store` for publications already checked and encoded by `rows.encoded` (as bulk
        imports do in worker processes), with their `indexdoc.encoded_document`s if built."""
        result = store.store_encoded(self._conn, items)
        if result.inserted or result.updated or result.repaired:
            prepared = None
            if documents is not None:
                pairs = zip(items, documents, strict=True)
                prepared = {(i.source, i.source_id): (i.digest, doc) for i, doc in pairs}
            self._index.sync(self._conn, commit=not self._bulk, prepared=prepared)
        return result

    @contextmanager
    def bulk(self) -> Iterator[Archive]:
        """Within the block, index commits wait until its end (imports, tagging runs: faster).

        `store` and `store_tags` still commit to SQLite batch by batch; what they wrote becomes
        searchable when the block ends (or, after a crash or an error in the block, when a writer
        next closes).
        """
        self._bulk = True
        try:
            yield self
        finally:
            self._bulk = False
        self._catch_up()

    @_named
    def _catch_up(self) -> None:
        self._index.sync(self._conn, last=True)

    # Full texts and public-inspection withdrawals.

    @_named
    def queue_bodies(self, sources: Sequence[str], tags: Sequence[str], min_score: float) -> int:
        """Queue the full text of documents of `sources` scoring `min_score` on one of `tags`."""
        return bodies.queue_bodies(self._conn, sources, tags, min_score)

    @_named
    def wanted_bodies(
        self, sources: Sequence[str], max_attempts: int, limit: int
    ) -> list[dict[str, Any]]:
        """Queued full texts to fetch: `{"source", "source_id", "url"}`, failed ones retried."""
        return bodies.wanted_bodies(self._conn, sources, max_attempts, limit)

    @_named
    def store_body(self, source: str, source_id: str, text: str) -> bool:
        """Store a fetched full text (the document changes, so it is re-tagged), then index it."""
        changed = bodies.store_body(self._conn, source, source_id, text)
        if changed:
            self._index.sync(self._conn, commit=not self._bulk)
        return changed

    @_named
    def record_body_failure(
        self, source: str, source_id: str, error: str, outage_grace_days: float | None = None
    ) -> None:
        """Record a failed full-text fetch (retried by a later crawl); during a host outage
        (`outage_grace_days` given) it counts against the text's attempts only once the text has
        been failing for that long."""
        bodies.record_body_failure(self._conn, source, source_id, error, outage_grace_days)

    @_named
    def mark_withdrawn(self, source: str, issue_date: str, listed: Sequence[str]) -> int:
        """Mark the filings of an issue missing from its complete listing as withdrawn."""
        return bodies.mark_withdrawn(self._conn, source, issue_date, listed)

    @_named
    def watermark(self, source: str) -> str | None:
        """The crawl watermark of `source` (an ISO date), or None."""
        return store.watermark(self._conn, source)

    @_named
    def set_watermark(self, source: str, value: str) -> None:
        """Advance (or set) the crawl watermark of `source`."""
        store.set_watermark(self._conn, source, value)

    @_named
    def log_crawl(
        self, source: str, *, started_at: str, finished_at: str, ok: bool, stats: dict[str, Any]
    ) -> None:
        """Record one crawl run."""
        store.log_crawl(
            self._conn, source, started_at=started_at, finished_at=finished_at, ok=ok, stats=stats
        )

    @_named
    def record_listed(self, source: str, listed: Mapping[str, int], checked_at: str) -> int:
        """Record how many documents `source` listed per day (a slice the crawl read whole)."""
        return ledger.record_listed(self._conn, source, listed, checked_at)

    @_named
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
        filters = Filters(tags=tuple(tags), since=since, until=until)
        return self.find(SearchRequest(query, filters, limit=limit)).hits

    @_named
    def find(self, request: SearchRequest) -> SearchPage:
        """A page of hits for a `SearchRequest` (text, filters, sort, page, facets).

        Raises `QueryError` on malformed input, `ArchiveError` if the index is missing or damaged
        while documents are stored: an engine failure is the index's state with its remedy when
        the index is gone or unusable now (moved away, rebuilt under a running server), else the
        engine's line and the remedy should it stay. An index unusable when opened is looked for
        again first (a long-lived reader sees it restored or rebuilt at once).
        """
        if self._index.problem is not None:
            self._index.reopen()
        if self._index.problem is not None:
            problem = self.index_health().problem
            if problem:
                raise ArchiveError(problem)
            return SearchPage([], 0)
        try:
            return search.search(self._conn, self._index, request)
        except ArchiveError as exc:
            self._index.reopen()
            problem = self.index_health().problem
            raise ArchiveError(problem or f"{exc}; if it stays, {REMEDY}") from None

    @_named
    def matching(self, request: SearchRequest, publication_ids: Sequence[int]) -> set[int]:
        """Which of `publication_ids` the request finds (saved searches as alert filters)."""
        if self._index.problem is not None:
            problem = self.index_health().problem
            raise ArchiveError(problem or f"search index {self._index.path} is unusable")
        return search.matching_ids(self._index, request, publication_ids)

    @_named
    def document(
        self, source_id: str, source: str | None = None, today: str | None = None
    ) -> dict[str, Any] | None:
        """One publication with its tags, evidence, versions, related documents and the timeline
        of its rulemaking (events after `today`, default the current date, are upcoming)."""
        found = document.find(self._conn, self._index, source_id, source)
        if found is not None:
            day = today or date.today().isoformat()
            found["timeline"] = timeline.timeline(
                self._conn, self._index, found["source"], found["source_id"], day
            )
        return found

    @_named
    def rulemakings_moved(
        self, start: str, end: str, tags: Sequence[str], today: str
    ) -> dict[str, Any]:
        """Rulemakings with an event in [start, end] and a document tagged one of `tags`, each
        with its timeline (events after `today` upcoming), and how many more were left out."""
        return timeline.rulemakings_moved(self._conn, self._index, start, end, tags, today)

    @_named
    def reindex(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Rebuild the search index from SQLite beside the live one, then swap it in.

        `progress(done, total)` after each batch. Interrupted, the live index stays whole.
        """
        return self._index.rebuild(self._conn, progress)

    @_named
    def status(self) -> ArchiveStatus:
        """Counts, last crawls, watermarks, sizes and the index compared with SQLite."""
        return status(self._conn, self._index, self.db_path)

    @_named
    def index_health(self) -> IndexHealth:
        """Whether search sees every stored document, and the remedy if not."""
        return index_health(self._conn, self._index)

    @_named
    def count_to_tag(self, model_version: str, *, retag: bool = False) -> int:
        """How many publications need tagging by `model_version` (all of them with `retag`)."""
        return tagging.count_to_tag(self._conn, model_version, retag=retag)

    def documents_to_tag(
        self, model_version: str, *, retag: bool = False, batch_size: int = 500
    ) -> Iterator[list[TagInput]]:
        """Batches of documents never tagged, changed since tagging, or tagged by another model."""
        batches = tagging.documents_to_tag(
            self._conn, model_version, retag=retag, batch_size=batch_size
        )
        try:
            yield from batches
        except sqlite3.DatabaseError as exc:
            raise failure(self.db_path, exc) from None

    @_named
    def store_tags(
        self,
        tagged: Sequence[tuple[TagInput, dict[str, Any]]],
        model_version: str,
        routes: Sequence[RouteFilter] = (),
        watch_hits: Mapping[int, Sequence[dict[str, Any]]] | None = None,
    ) -> int:
        """Store tag results, their watch-list hits (publication id → hits, when given) and the
        alerts they cause for `routes` in one transaction, then re-index those publications."""
        count = tagging.store_tags(self._conn, tagged, model_version, routes, watch_hits)
        if count:
            self._index.sync(self._conn, commit=not self._bulk)
        return count

    @_named
    def record_tag_failures(
        self, failures: Sequence[tuple[TagInput, str]], model_version: str
    ) -> int:
        """Record documents the tagger failed on (with the reason); the next run retries them."""
        return tagging.record_tag_failures(self._conn, failures, model_version)

    @_named
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

    @_named
    def digest_items(
        self, list_name: str, start: str, end: str, tags: Sequence[str], late_since: str | None
    ) -> list[dict[str, Any]]:
        """Tagged publications of the period not yet sent to the list, then late ones."""
        return listing.digest_items(
            self._conn, list_name=list_name, start=start, end=end, tags=tags, late_since=late_since
        )

    @_named
    def digest_changes(self, list_name: str, start: str, end: str) -> list[dict[str, Any]]:
        """Publications sent to the list in another period's digest that changed since."""
        return listing.digest_changes(self._conn, list_name=list_name, start=start, end=end)

    @_named
    def upcoming(
        self, published_since: str, after: str, until: str, tags: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Tagged publications with a deadline, effective or compliance date in (after, until]."""
        return listing.upcoming(
            self._conn, published_since=published_since, after=after, until=until, tags=tags
        )

    @_named
    def period_counts(
        self, start: str, end: str, primary: Sequence[str], tags: Sequence[str]
    ) -> dict[str, int]:
        """Publications of the period: total, tagged, with a primary tag, matching `tags`."""
        return listing.period_counts(self._conn, start=start, end=end, primary=primary, tags=tags)

    @_named
    def tag_agency_rows(
        self, start: str, end: str, primary: Sequence[str]
    ) -> list[tuple[str, list[str], list[str]]]:
        """(date, primary tags, agency names) per publication of the period."""
        return listing.tag_agency_rows(self._conn, start=start, end=end, primary=primary)

    @_named
    def coverage(self, start: str, end: str) -> list[SourceCoverage]:
        """Crawl health and per-day held counts of every source over the period."""
        return coverage.coverage(self._conn, start, end)

    @_named
    def sent_digest(self, list_name: str, start: str, end: str) -> SentDigest | None:
        """The newest digest of this period sent to the list, or None."""
        return digest_log.sent_for_period(self._conn, list_name, start, end)

    @_named
    def digest_recipients(self, list_name: str, start: str, end: str) -> set[str]:
        """The recipients a digest of this period sent to the list reached."""
        return digest_log.recipients_sent(self._conn, list_name, start, end)

    @_named
    def first_digest_at(self, list_name: str) -> str | None:
        """When the list was first sent a digest, or None."""
        return digest_log.first_sent_at(self._conn, list_name)

    @_named
    def record_digest(
        self,
        list_name: str,
        start: str,
        end: str,
        *,
        subject: str,
        recipients: Sequence[str],
        items: Sequence[tuple[int, int, str]],
        maybe: bool = False,
    ) -> SentDigest:
        """Record a digest the mail server accepted (`maybe`: never answered) and the
        (publication, version, kind) it held."""
        return digest_log.record_sent(
            self._conn,
            list_name,
            start,
            end,
            subject=subject,
            recipients=recipients,
            items=items,
            maybe=maybe,
        )

    # Alerts: routes, the outbox and the feeds built from it.

    @_named
    def register_routes(self, names: Sequence[str]) -> dict[str, str]:
        """Note alert routes not seen before as added now; return each route's `added_at`."""
        return outbox.register_routes(self._conn, names)

    @_named
    def backfill_alerts(self, routes: Sequence[RouteFilter], stored_since: str) -> int:
        """Queue alerts for tagged documents first stored on or after `stored_since`."""
        return outbox.backfill(self._conn, routes, stored_since)

    @_named
    def retry_failed_alerts(self, routes: Sequence[str], now: str) -> int:
        """Make the failed alerts of `routes` pending again with all their attempts, due `now`."""
        return outbox.retry_failed(self._conn, routes, now)

    @_named
    def due_alerts(self, states: Sequence[str], now: str) -> list[Alert]:
        """Outbox rows in `states` whose next attempt time is at or before `now`."""
        return outbox.due(self._conn, states, now)

    @_named
    def pending_alerts(self) -> list[Alert]:
        """Every pending outbox row, due or not."""
        return outbox.pending(self._conn)

    @_named
    def claim_alert(self, alert: Alert, states: Sequence[str], retry_at: str) -> bool:
        """Count one delivery attempt (committed before sending); False if another run took it."""
        return outbox.claim(self._conn, alert, states, retry_at)

    @_named
    def finish_alert(self, alert_id: int, state: str, error: str | None = None) -> None:
        """Record the outcome of a delivery attempt."""
        outbox.finish(self._conn, alert_id, state, error)

    @_named
    def feed_entries(self, route: str, limit: int = 50) -> list[dict[str, Any]]:
        """The newest alert per document queued for `route`, newest first."""
        return feeds.route_entries(self._conn, route, limit)

    @_named
    def upcoming_dates(self, since: str) -> list[dict[str, Any]]:
        """Comment deadlines, effective and compliance dates on or after `since`."""
        return feeds.upcoming_dates(self._conn, since)

    # Crawls of web sources: conditional-request validators, release ↔ document links.

    @_named
    def validators(self, source: str, max_days: int) -> dict[str, tuple[str | None, str | None]]:
        """The stored (ETag, Last-Modified) of every URL `source` read whole in `max_days` days."""
        return validators.validators(self._conn, source, max_days)

    @_named
    def stored_ids(self, source: str) -> set[str]:
        """The `source_id` of every stored publication of `source`."""
        return validators.stored_ids(self._conn, source)

    @_named
    def store_validators(
        self, source: str, entries: Sequence[tuple[str, str | None, str | None]]
    ) -> int:
        """Record (url, ETag, Last-Modified) of what a successful crawl fetched."""
        return validators.store_validators(self._conn, source, entries)

    @_named
    def releases_to_link(self, sources: Sequence[str]) -> list[dict[str, Any]]:
        """Releases of `sources` never linked, or changed since they were linked."""
        return links.releases_to_link(self._conn, sources)

    @_named
    def named_documents(
        self,
        targets: Sequence[str],
        *,
        document_numbers: Sequence[str],
        citations: Sequence[str],
        rins: Sequence[str],
        near: str,
    ) -> list[tuple[int, str, str]]:
        """(id, kind, evidence) of the documents of `targets` these references name."""
        return links.named(
            self._conn,
            targets,
            document_numbers=document_numbers,
            citations=citations,
            rins=rins,
            near=near,
        )

    @_named
    def titles_near(
        self, targets: Sequence[str], agency: str, day: str, days: int
    ) -> list[tuple[int, str]]:
        """(id, title) of `agency`'s documents published within `days` of `day`."""
        return links.titles_near(self._conn, targets, agency, day, days)

    @_named
    def store_links(self, release_id: int, found: Sequence[tuple[int, str, str]]) -> None:
        """Replace a release's links to the documents it names."""
        links.store_links(self._conn, release_id, found)

    # The scheduler: job runs, heartbeat, source incidents and the ops notices sent for them.

    @_named
    def job_started(self, job_id: str, at: datetime) -> int:
        """Record that a scheduled job started; returns the run's id."""
        return scheduling.job_started(self._conn, job_id, at)

    @_named
    def job_finished(self, run_id: int, at: datetime, ok: bool, summary: str) -> None:
        """Record how a job run ended, with its one-line summary."""
        scheduling.job_finished(self._conn, run_id, at, ok, summary)

    @_named
    def last_job_runs(self) -> dict[str, JobRun]:
        """The newest run of every scheduled job, by job id."""
        return scheduling.last_runs(self._conn)

    @_named
    def heartbeat(self) -> Heartbeat | None:
        """The scheduler's newest heartbeat, or None if it never ran."""
        return scheduling.heartbeat(self._conn)

    @_named
    def beat(self, pid: int, started_at: datetime, at: datetime) -> None:
        """Record the scheduler's heartbeat."""
        scheduling.beat(self._conn, pid, started_at, at)

    @_named
    def crawl_records(self, recent: int) -> list[CrawlRecord]:
        """Every crawled source's history (first crawl, newest success, `recent` newest crawls)."""
        return scheduling.crawl_records(self._conn, recent)

    @_named
    def open_incidents(self) -> list[Incident]:
        """Source incidents not cleared yet."""
        return scheduling.open_incidents(self._conn)

    @_named
    def sync_incidents(
        self, problems: dict[tuple[str, str], str], at: datetime
    ) -> tuple[list[Incident], list[Incident]]:
        """Open incidents for new problems, clear those gone; returns (opened, cleared)."""
        return scheduling.sync_incidents(self._conn, problems, at)

    @_named
    def unsent_notices(self, routes: Sequence[str], since: datetime) -> list[Notice]:
        """Incident events from `since` on that an ops route was not told of yet."""
        return scheduling.unsent_notices(self._conn, routes, since)

    @_named
    def notice_sent(self, notices: Sequence[Notice], at: datetime) -> None:
        """Record delivered incident notices."""
        scheduling.notice_sent(self._conn, notices, at)

    # Watch-list: hits per document, the list in use, re-matching stored documents.

    @_named
    def watch_hits(self, publication_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        """Current watch-list hits of these publications."""
        return watch.hits_for(self._conn, publication_ids)

    @_named
    def recent_watch_hits(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest watch-list hits with their documents."""
        return watch.recent(self._conn, limit)

    @_named
    def watch_list(self) -> str | None:
        """The fingerprint of the watch-list last put in use, or None."""
        return watch.current_list(self._conn)

    @_named
    def use_watch_list(self, fingerprint: str, items: int, *, rematched: bool) -> None:
        """Record the watch-list in use (and that the archive was just re-matched with it)."""
        watch.use_list(self._conn, fingerprint, items, rematched)

    def tagged_since(
        self, first_seen: str, tagged_before: str | None = None
    ) -> Iterator[list[tuple[int, str, dict[str, Any], dict[str, Any]]]]:
        """Batches of (id, label, document, tag result) of tagged publications first stored on
        or after `first_seen` (and tagged before `tagged_before`, a `now()` taken earlier)."""
        try:
            yield from watch.tagged_since(self._conn, first_seen, tagged_before)
        except sqlite3.DatabaseError as exc:
            raise failure(self.db_path, exc) from None

    @_named
    def rematch_watch(
        self,
        hits: Mapping[int, tuple[dict[str, Any], Sequence[dict[str, Any]]]],
        routes: Sequence[RouteFilter] = (),
    ) -> tuple[dict[int, list[dict[str, Any]]], int]:
        """Replace these documents' watch-list hits (id → (tag result, hits)) in one
        transaction; queue watch-list alerts for the newly matched to `routes`. Returns the new
        hits per document and how many alerts were queued."""
        now = db.utc_now()
        with db.transaction(self._conn):
            fresh = watch.replace_hits(self._conn, {p: h for p, (_, h) in hits.items()}, now)
            found = {pid: (hits[pid][0], new) for pid, new in fresh.items()}
            queued = outbox.enqueue_watch(self._conn, found, routes, now) if routes else 0
        return fresh, queued

    # Screening lists (CSL snapshots, deltas, FR joins) and eCFR section changes (issue 12).

    @_named
    def store_screening_snapshot(self, snapshot: ScreeningSnapshot) -> StoreResult:
        """Store a screening-list download and its delta; added → inserted, changed → updated;
        a list the download lacks (its parties kept as listed) is a warning naming it."""
        result = screening.store_snapshot(self._conn, snapshot)
        warnings = tuple(
            f"{snapshot.source}: the download holds no record of {kept}: the parties are kept as"
            " listed, not read as delisted (the list's export upstream is probably broken)"
            for kept in result.kept
        )
        return StoreResult(result.added, result.changed, result.unchanged, warnings)

    @_named
    def latest_screening_snapshot(self, source: str = "csl") -> int | None:
        """The id of the newest stored snapshot of `source`, or None."""
        return screening.latest_snapshot_id(self._conn, source)

    @_named
    def screening_delta(self, snapshot_id: int) -> list[dict[str, Any]]:
        """Every added, removed and changed record of one snapshot, with changed fields."""
        return screening.snapshot_delta(self._conn, snapshot_id)

    @_named
    def screening_delta_parties(
        self, snapshot_id: int | None = None, kinds: Sequence[str] = ("added",)
    ) -> list[ScreeningParty]:
        """Names, alternate names and countries of a snapshot's delta (newest snapshot if None);
        the hook a watch-list matcher reads."""
        snapshot_id = snapshot_id or screening.latest_snapshot_id(self._conn)
        return screening.delta_parties(self._conn, snapshot_id, kinds) if snapshot_id else []

    @_named
    def unmatched_screening_deltas(self) -> list[tuple[dict[str, Any], list[ScreeningParty]]]:
        """Each snapshot never matched against the watch-list, with its delta's parties."""
        return [
            (snap, screening.delta_parties(self._conn, snap["id"], list(outbox.VERBS)))
            for snap in screening.unmatched_snapshots(self._conn)
        ]

    @_named
    def screening_watch_matched(
        self,
        snapshot: dict[str, Any],
        found: Sequence[tuple[ScreeningParty, Sequence[dict[str, Any]]]],
        routes: Sequence[str],
    ) -> int:
        """In one transaction: queue a watch-list alert per party that touches the watch-list
        (for `routes`), and mark the snapshot matched, keeping those parties for digests. Returns
        the alerts queued."""
        now = db.utc_now()
        with db.transaction(self._conn):
            parties = [
                (party, outbox.party_payload(self._conn, snapshot, party, hits))
                for party, hits in found
            ]
            queued = outbox.enqueue_screening(self._conn, snapshot, parties, routes, now)
            hits = [(party.record_id, payload) for party, payload in parties]
            screening.mark_watch_matched(self._conn, snapshot["id"], now, hits)
        return queued

    @_named
    def screening_watch_hits(self, since: str, until: str) -> list[dict[str, Any]]:
        """Screening-list parties matched against the watch-list on days `since` to `until`:
        their alert payloads (title, rule link, day, `screening`, `watch` hits)."""
        return screening.watch_hits_matched(self._conn, since, until)

    @_named
    def screening_summary(self, publication_id: int) -> ScreeningSummary | None:
        """What a rule did to the Entity, Unverified and Military End-User lists, or None."""
        return screening.screening_summary(self._conn, publication_id)

    @_named
    def publications_citing(self, citation: str) -> list[int]:
        """Ids of stored publications with the Federal Register citation `citation`."""
        return screening.publications_citing(self._conn, citation)

    @_named
    def store_section_changes(self, changes: Sequence[SectionChange]) -> StoreResult:
        """Store eCFR section changes (one already stored is unchanged)."""
        return sections.store_changes(self._conn, changes)

    @_named
    def section_changes(self, publication_id: int) -> list[dict[str, Any]]:
        """The stored eCFR section changes a Federal Register rule made."""
        return sections.section_changes(self._conn, publication_id)

    @_named
    def amending_publications(self, change_id: int) -> list[int]:
        """Ids of the Federal Register publications that made an eCFR change, best first."""
        return sections.amending_publications(self._conn, change_id)

    @_named
    def rule_context(self, publication_id: int) -> dict[str, Any]:
        """`{"screening": sentence or None, "section_changes": [lines]}` for one publication."""
        return rule_context.rule_context(self._conn, publication_id)


def holds_archive(home: Path, path: Path) -> bool:
    """Whether writing `path` (links followed) would replace part of the archive in `home`: its
    database and SQLite's files beside it, its search index (or one being built), or a lock,
    named so or the same file under another name (a hard link, as `cp -l` backups make)."""
    target, home = Path(os.path.realpath(path)), Path(os.path.realpath(home))
    if _archive_part(home, target):
        return True
    try:
        written = target.stat()
    except OSError:  # nothing there yet: no other name can reach it
        return False
    return any(_same_file(written, part) for part in _archive_files(home))


def _archive_part(home: Path, path: Path) -> bool:
    """Whether resolved `path` is named as part of the archive in resolved `home`."""
    if path.parent == home:
        return path.name.startswith((DB_NAME, INDEX_DIR)) or path.name.endswith(".lock")
    return any(
        parent.parent == home and parent.name.startswith(INDEX_DIR) for parent in path.parents
    )


def _archive_files(home: Path) -> Iterator[Path]:
    """Every file and folder of the archive in resolved `home` (the index's, one by one)."""
    with suppress(OSError):  # no home yet: no archive
        for entry in home.iterdir():
            if _archive_part(home, entry):
                yield entry
                if entry.is_dir():
                    yield from entry.rglob("*")


def _same_file(info: os.stat_result, path: Path) -> bool:
    """Whether `path` is the file `info` describes (a file gone meanwhile is not)."""
    try:
        return os.path.samestat(info, path.stat())
    except OSError:
        return False


def check_reachable(home: Path) -> None:
    """`ArchiveError` if `home`, its database or its index is a link to nothing (a volume not
    mounted): one line naming the link, where making the archive failed with "File exists"."""
    for path in (home, home / DB_NAME, home / INDEX_DIR):
        if path.is_symlink() and not path.exists():
            raise ArchiveError(
                f"{path} is a link to {os.readlink(path)}, which does not exist "
                "(a volume not mounted?): mount it or mend the link"
            )


def _writable(home: Path) -> bool:
    files = [home, *(p for p in (home / DB_NAME, home / INDEX_DIR) if p.exists())]
    return all(db.writable(p) for p in files)
