"""The pipeline's step functions, shared by `cli.py` and `scheduler.py`.

Enters: a validated `Config` plus each step's own arguments.
Leaves: a result object per step (nothing is printed here). Each step moves data one way:
crawl (sources → archive; `all`: every registered source), import (JSON lines → archive), tag
(archive → nlp → archive, then queue the full texts worth reading), fulltext (wanted full texts →
archive), digest (archive → files, and with `send` → SMTP → digest log, one sender at a time
per archive, so two never both find a week unsent and both mail it), alert (outbox → chat, then
feeds → files), run (crawl all → tag → fulltext → tag → digest → alert); search, reindex and
status read the archive (reindex rebuilds its index); rematch (archive → nlp watch-list → archive)
and watch (the watch-list and its newest hits); serve_replay runs the offline emulator of
the sources. For the scheduler: pipeline_lock (one pipeline at a time, shared with the manual
commands), check_health (crawl log → source incidents → ops routes) and its records (job runs,
heartbeat).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from crawlers.sources import ALL, DEFAULT_SOURCE, crawled_sources, registry, step_sources
from regwatch.config import (
    Config,
    ConfigError,
    check_apprise_url,
    env_value,
    smtp_password,
    tag_names,
)
from regwatch.lock import exclusive
from regwatch.outfiles import replaceable

if TYPE_CHECKING:
    import threading

    from archive import Archive, ArchiveStatus, RouteFilter, SearchHit, SearchRequest
    from archive.scheduling import Heartbeat, Incident, JobRun
    from archive.tagging import TagInput
    from crawlers.run import CrawlResult
    from digests.alerts import AlertRunResult, Policy
    from digests.mail import SmtpSettings
    from digests.period import Period
    from digests.render import Rendered
    from digests.select import Digest
    from nlp import TagFileResult, Tagger, TagResult
    from nlp.evaluate import EvalReport
    from nlp.watch import WatchItem, WatchList
    from regwatch.importer import ImportResult

Progress = Callable[[int, int], None]
T = TypeVar("T")
DIGEST_LOCK = "digest.lock"  # in the home: one digest send (check, send, record) at a time


@dataclass(frozen=True)
class RematchResult:
    """A re-match of recent documents against the watch-list: `newly` holds (`<source>
    <source_id>`, title, watched items it newly touches); `alerts` queued (only when asked)."""

    days: int
    checked: int
    newly: list[tuple[str, str, list[str]]]
    alerts: int = 0


@dataclass(frozen=True)
class TagRunResult:
    """Documents tagged and stored, tag counts, and `failed`: (`<source> <source_id>`, reason);
    `rematch` when the watch-list had changed since the last run; `screening_hits`: (party as
    listed, watched items it is) for screening-list changes touching the watch-list."""

    tagged: int
    model_version: str
    counts: dict[str, int]
    failed: list[tuple[str, str]]
    rematch: RematchResult | None = None
    screening_hits: list[tuple[str, list[str]]] = field(default_factory=list)


@dataclass(frozen=True)
class WatchShow:
    """The loaded watch-list, whether the archive was matched against it, its newest hits."""

    items: list[WatchItem]
    threshold: int
    fingerprint: str
    in_use: bool
    hits: list[dict]


@dataclass(frozen=True)
class ListDigest:
    """One recipient list's digest: where it was written and what became of sending it.

    `status` is `written` (not sent), `sent`, `already sent` (`detail`: when), `already maybe
    sent` (`detail`: when; that send was `maybe sent`), `failed` (`detail`: the SMTP error in one
    line; the next run tries again those who did not get it) or `maybe sent` (the server took the
    message and never answered: recorded as such, not sent again without --force).
    """

    list_name: str
    label: str
    start: str
    end: str
    paths: dict[str, Path]
    total: int
    listed: int
    late: int
    changes: int
    untagged: int
    tagged: bool
    incomplete: bool
    status: str = "written"
    detail: str | None = None
    parties: int = 0  # screening-list parties that touched the watch-list in the period


@dataclass(frozen=True)
class DigestResult:
    lists: list[ListDigest]
    feeds: list[Path]  # each route's Atom feed and the calendar, written with every digest
    # Why files (a list's digest, the feeds) could not be written while the digest was e-mailed
    # anyway (a full disk, a broken output folder): the mail never waits on a file.
    unwritten: str | None = None

    @property
    def failed(self) -> list[ListDigest]:
        return [entry for entry in self.lists if entry.status in ("failed", "maybe sent")]

    @property
    def ok(self) -> bool:
        """Every list's digest sent (or written), and every file written."""
        return not (self.failed or self.unwritten)


@dataclass(frozen=True)
class AlertResult:
    delivery: AlertRunResult
    backfilled: int
    feeds: list[Path]
    retried: int = 0  # failed alerts given their attempts back (`retry_failed`)
    # Why the feeds could not be written after the alerts went out (a full disk, a broken
    # output folder): delivery never waits on a file.
    unwritten: str | None = None


@dataclass(frozen=True)
class RunResult:
    crawls: list[CrawlResult]
    tag: TagRunResult
    fulltext: list[CrawlResult]
    retag: TagRunResult  # the documents whose full text was just read
    digest: DigestResult
    alert: AlertResult

    @property
    def failed_crawls(self) -> list[CrawlResult]:
        return [result for result in [*self.crawls, *self.fulltext] if not result.ok]


@dataclass(frozen=True)
class SearchResult:
    hits: list[SearchHit]
    index_problem: str | None  # the index lags or differs from SQLite: one line with the remedy
    total: int = 0
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # empty result: filter values nothing carries


def open_archive(config: Config, *, readonly: bool = False, create: bool = False) -> Archive:
    """Open the archive under the configured home (`readonly` for commands that only read).

    Only what brings documents or runs the schedule (`create`) makes an archive where there is
    none: any other command there is an `ArchiveError` naming the home, never an empty archive
    made on the spot (a mistyped home's `status` said "agree", its digest was e-mailed empty).
    """
    from archive import Archive

    return Archive.open(config.home, readonly=readonly, create=create)


FILTER_NAMES = ("tags", "sub_tags", "agencies", "types", "sources", "eccns", "cfrs", "countries")


def search_request(
    config: Config,
    text: str,
    *,
    today: date | None = None,
    open_for_comment: bool = False,
    since: str | None = None,
    until: str | None = None,
    sort: str | None = None,
    limit: int = 20,
    offset: int = 0,
    facets: bool = False,
    **values: tuple[str, ...],
) -> SearchRequest:
    """The search a user asked for: `text` (or a saved search, `@NAME`) with these filters.

    Filters given here add to a saved search's (`since`, `until`, `sort` replace them);
    `open_for_comment` keeps documents whose comment period closes on or after `today`. A
    country is named as the tagger extracts it (`Russian Federation`, `PRC` and other aliases
    become `Russia`, `China`); `QueryError` names a country, tag or source it does not know (a
    typo must not look like an empty result).
    """
    from archive import Filters, SearchRequest

    saved = _saved_search(config, text.strip()[1:]) if text.strip().startswith("@") else None
    base = saved or {"query": text}
    merged = {name: (*(base.get(name) or ()), *values.get(name, ())) for name in FILTER_NAMES}
    unknown = sorted(set(values) - set(FILTER_NAMES))
    if unknown:
        raise TypeError(f"unknown search filter {unknown[0]!r}")
    merged["countries"] = tuple(map(_country, merged["countries"]))
    _known("tag", [*merged["tags"], *merged["sub_tags"]], tag_names())
    _known("source", merged["sources"], registry())
    open_now = open_for_comment or bool(base.get("open_for_comment"))
    filters = Filters(
        **merged,
        since=since or base.get("since"),
        until=until or base.get("until"),
        open_on=(today or date.today()).isoformat() if open_now else None,
    )
    order = sort or base.get("sort") or "relevance"
    return SearchRequest(base["query"].strip(), filters, order, limit, offset, facets)


def _known(what: str, values: Sequence[str], known: Mapping[str, object]) -> None:
    from archive import QueryError

    for value in values:
        if value not in known:
            raise QueryError(f"unknown {what} {value!r} (known: {', '.join(sorted(known))})")


def _country(name: str) -> str:
    """The extracted name of country `name` (any case, any alias); `QueryError` if unknown."""
    from archive import QueryError
    from nlp.rules import country_names

    found = country_names().get(" ".join(str(name).split()).lower())
    if found is None:
        raise QueryError(
            f"unknown country {name!r}: name it in English, as China, Russia or Russian Federation"
        )
    return found


def _saved_search(config: Config, name: str) -> dict:
    """The saved search `name`; `ConfigError` naming it if it is unknown or cannot be searched."""
    from archive import QueryError

    saved, name = config["searches"] or {}, name.strip()
    if name not in saved:
        known = ", ".join(f"@{n}" for n in sorted(saved)) or "none in the configuration"
        raise ConfigError(f"no saved search @{name} (known: {known})")
    try:
        _check_saved(saved[name])
    except QueryError as exc:
        raise ConfigError(f"saved search @{name}: {exc}") from None
    return saved[name]


def _check_saved(search: Mapping[str, Any]) -> None:
    """Raise `QueryError` on the first value of a saved search that cannot be searched (the
    configuration checks its dates, tags and sort): its query (`@other` included: it would search
    the word), an ECCN, a CFR or a country."""
    from archive import QueryError
    from archive.filters import cfr, eccn
    from archive.query import parse

    query = search["query"].strip()
    if query.startswith("@"):
        raise QueryError(
            f"its query names the saved search {query.split()[0]}; one saved search cannot run "
            "another: copy its words and filters"
        )
    if query:
        parse(query)
    for check, values in ((eccn, "eccns"), (cfr, "cfrs"), (_country, "countries")):
        for value in search[values]:
            check(value)


def search(
    config: Config,
    request: SearchRequest,
    *,
    check_index: bool = True,
    reader: Archive | None = None,
) -> SearchResult:
    """Search the archive read-only (never waiting for a writer); say if the index lags
    (`check_index`: counting the database costs tens of ms at a million documents). A long-lived
    server passes its open read-only `reader` instead of opening the archive for each search.

    Facet counts split the tags into `tag` (primary) and `sub_tag`.
    """
    with _reading(config, reader) as archive:
        page = archive.find(request)
        problem = archive.index_health().problem if check_index else None
    return SearchResult(page.hits, problem, page.total, _split_tags(page.facets), page.notes)


def _reading(config: Config, reader: Archive | None) -> AbstractContextManager[Archive]:
    """`reader` left open, or the archive opened read-only for one call."""
    return nullcontext(reader) if reader is not None else open_archive(config, readonly=True)


def _split_tags(facets: dict[str, list[tuple[str, int]]]) -> dict[str, list[tuple[str, int]]]:
    if not facets:
        return {}
    primary = tag_names()
    tags = facets.get("tags", [])
    return {
        "tag": [(name, n) for name, n in tags if primary.get(name)],
        "sub_tag": [(name, n) for name, n in tags if not primary.get(name)],
        **{name: counts for name, counts in facets.items() if name != "tags"},
    }


def saved_search_matches(
    config: Config, name: str, publication_ids: Sequence[int], today: date | None = None
) -> set[int]:
    """Which of `publication_ids` the saved search `name` finds (a filter alert routes can use)."""
    request = search_request(config, f"@{name}", today=today)
    with open_archive(config, readonly=True) as archive:
        return archive.matching(request, publication_ids)


def show(
    config: Config,
    document: str,
    source: str | None = None,
    reader: Archive | None = None,
    today: date | None = None,
) -> dict:
    """One stored document with tags, evidence, entities, versions, related documents and its
    rulemaking's timeline (dates after `today` upcoming); its links, and those of the timeline and
    of its EAR section changes, are only the http(s) ones. Raises `QueryError` if the archive
    does not hold it."""
    from archive import QueryError
    from regwatch.inert import http_url

    if not document.strip():
        raise QueryError("no document number given: name one, as 2024-12345")
    with _reading(config, reader) as archive:
        found = archive.document(document, source, today.isoformat() if today else None)
    if found is None:
        where = f" from {source}" if source else ""
        named = document if document.isprintable() else repr(document)  # `x\ny` read as `x`
        raise QueryError(f"no document {named}{where} in the archive")
    found["links"] = [url for url in found["links"] if http_url(url)]
    for event in found["timeline"]["events"]:
        event["document"]["url"] = http_url(event["document"]["url"])
        for section in event["sections"]:
            section["url"] = http_url(section["url"])
    for change in found["section_changes"]:
        for name in ("old_url", "new_url"):
            change[name] = http_url(change[name])
    return found


def serve(config: Config, host: str, port: int) -> None:
    """Serve the read-only web application (search, documents, digests, API, feeds) until
    interrupted."""
    import uvicorn

    from regwatch.web.app import create_app

    uvicorn.run(create_app(config, host=host), host=host, port=port, log_level="warning")


def crawl(
    config: Config,
    *,
    source: str = DEFAULT_SOURCE,
    since: str | None = None,
    until: str | None = None,
    base_url: str | None = None,
) -> CrawlResult:
    """Crawl one source into the archive; returns the crawler's `CrawlResult`."""
    from crawlers.run import crawl as run_crawl

    return run_crawl(
        config.home,
        source=source,
        since=since,
        until=until,
        base_url=base_url or configured_base_url(config, source),
        contact=config["crawl.contact"],
        overlap_days=config["crawl.overlap_days"],
        timeout=config["crawl.timeout_minutes"] * 60,
    )


def configured_base_url(config: Config, source: str) -> str | None:
    """`sources.<source>.base_url`; for the other sources of the Federal Register API (public
    inspection, full texts) that of `sources.federal_register.base_url`."""
    from crawlers.sources import shares_api

    owner = DEFAULT_SOURCE if shares_api(source) else source
    return config.get(f"sources.{owner}.base_url")


def crawl_sources(
    config: Config,
    *,
    source: str = ALL,
    since: str | None = None,
    until: str | None = None,
    base_url: str | None = None,
) -> list[CrawlResult]:
    """Crawl `source`, or with `all` every registered source in turn (one failing does not stop
    the others). `base_url` replaces the named source's base URL; with `all` it is the Federal
    Register API's (e.g. a replay server) and replaces the base URL of every source served by that
    API, while the others keep `sources.<name>.base_url`."""
    from crawlers.sources import shares_api

    return [
        crawl(
            config,
            source=name,
            since=since,
            until=until,
            base_url=base_url if source != ALL or shares_api(name) else None,
        )
        for name in (sources(config) if source == ALL else crawled_sources(source))
    ]


def fulltext(config: Config, *, base_url: str | None = None) -> list[CrawlResult]:
    """Fetch the full texts the tag step queued (at most one request per second)."""
    return [crawl(config, source=name, base_url=base_url) for name in step_sources("fulltext")]


def source_names() -> list[str]:
    """Every registered source, in registry order."""
    return list(registry())


def sources(config: Config) -> list[str]:
    """The sources `run` and the scheduled pipeline crawl: `crawl.sources`, or every registered
    one (the steps such as the full-text fetch run after tagging)."""
    return list(config["crawl.sources"]) or crawled_sources(ALL)


@contextmanager
def pipeline_lock(
    config: Config,
    command: str,
    on_wait: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
    *,
    create: bool = True,
) -> Iterator[str | None]:
    """Hold the archive's pipeline lock (one pipeline at a time), waiting up to
    `pipeline.lock_wait_seconds`; yields a line if it took over a killed process's lock.

    Raises `regwatch.lock.PipelineBusy` (a `TimeoutError`) naming the holder if the wait runs out
    (or `stop` is set); without `create`, `ArchiveError` where there is no archive yet (as
    `open_archive`: the lock must not make the home either).
    """
    from archive.api import DB_NAME, check_reachable
    from archive.db import no_archive
    from regwatch.lock import hold

    check_reachable(config.home)  # before making the home for the lock
    if not create and not (config.home / DB_NAME).exists():
        raise no_archive(config.home / DB_NAME)
    wait = config["pipeline.lock_wait_seconds"]
    with hold(config.home, command, wait, on_wait, stop) as left:
        yield left


def import_file(
    config: Config, name: str, progress: Progress | None = None, workers: int | None = None
) -> ImportResult:
    """Bulk-load Federal-Register-shaped JSON lines from file `name` (`-`: standard input).

    Bad lines are rejected with their number; `progress(bytes_read, file_size)` after each batch
    (not called for standard input, whose size is unknown). `workers` processes prepare the lines
    (default: `importer.workers_for` the input).
    """
    from regwatch.files import open_input, shown
    from regwatch.importer import import_records, read_ahead

    with open_input(name, "import") as (stream, size), open_archive(config, create=True) as archive:
        report = (lambda _: progress(stream.tell(), size)) if progress and size else None
        lines, count = read_ahead(stream, size, shown(name), workers)
        return import_records(archive, lines, progress=report, workers=count)


def reindex(config: Config, progress: Progress | None = None) -> int:
    """Rebuild the search index from SQLite; returns the number of documents indexed."""
    with open_archive(config) as archive:
        return archive.reindex(progress)


def status(config: Config) -> ArchiveStatus:
    """Documents per source, last crawls, watermarks and sizes of the archive."""
    with open_archive(config, readonly=True) as archive:
        return archive.status()


def digest_owed(config: Config, report: ArchiveStatus) -> dict[str, list[str]]:
    """Per configured list, the recipients the period of its newest send has not reached yet (a
    refused address the next `digest --send` of that period, or the scheduler, retries)."""
    lists = {entry["name"]: entry for entry in config["digest.lists"]}
    return {
        name: owed
        for name, reached in report.last_reached.items()
        if name in lists and (owed := _owed(lists[name], reached))
    }


def serve_replay(directory: Path | None, port: int, scenario: str | None = None) -> None:
    """Serve recorded source responses on 127.0.0.1:`port` until interrupted."""
    from replay.server import RECORDINGS, run_forever

    run_forever(directory or RECORDINGS, port, scenario)


def tag(config: Config, *, retag: bool = False, progress: Progress | None = None) -> TagRunResult:
    """Tag every untagged, changed or failed document (all with `retag`) and store the results.

    A document the tagger fails on, or whose result cannot be stored, is recorded as failed in
    the archive (retried by the next run); the others are stored.
    The documents' watch-list hits are stored with their tags; when the watch-list changed since
    the last run, the documents of the last `watch.rematch_days` tagged before this run are
    matched again (no alerts; those this run tagged were matched against the new list).
    """
    from archive.db import utc_now
    from nlp import load_tagger
    from regwatch.watchlist import load_watchlist

    tagger = load_tagger(thresholds=_thresholds(config))
    watchlist = load_watchlist(config)
    routes = route_filters(config)
    counts: dict[str, int] = {}
    failed: list[tuple[str, str]] = []
    done = stored = 0
    started = utc_now()
    with open_archive(config) as archive, archive.bulk():
        archive.register_routes([route.name for route in routes])
        total = archive.count_to_tag(tagger.version, retag=retag)
        for batch in archive.documents_to_tag(tagger.version, retag=retag):
            results, failures = _tag_batch(archive, tagger, batch, routes, watchlist)
            for result in results:
                for name in result.tags:
                    counts[name] = counts.get(name, 0) + 1
            failed += failures
            stored += len(results)
            done += len(batch)
            if progress:
                progress(done, total)
        _queue_bodies(archive, config)
        rematched = _rematch_if_changed(config, archive, watchlist, started)
        screening = _match_screening(archive, watchlist, [r.name for r in routes if r.watch])
    return TagRunResult(stored, tagger.version, counts, failed, rematched, screening)


def _match_screening(
    archive: Archive, watchlist: WatchList, routes: list[str]
) -> list[tuple[str, list[str]]]:
    """Match the parties of every screening-list change not matched yet against the watch-list's
    counterparties; each party touching it is a watch-list alert for `routes` on its own, before
    any rule naming it is read. A snapshot is matched once."""
    found_all = []
    for snapshot, parties in archive.unmatched_screening_deltas():
        found = [(p, watchlist.match_party([p.name, *p.alt_names], p.countries)) for p in parties]
        found = [(party, hits) for party, hits in found if hits]
        archive.screening_watch_matched(snapshot, found, routes)
        found_all += [
            (f"{p.name} ({p.kind}, {p.list})", [h["item"] for h in hits]) for p, hits in found
        ]
    return found_all


def rematch(config: Config, *, alert: bool = False) -> RematchResult:
    """Match the documents of the last `watch.rematch_days` against the watch-list again; with
    `alert`, queue a watch-list alert per newly matched document for routes with `watch`."""
    from regwatch.watchlist import load_watchlist

    watchlist = load_watchlist(config)
    routes = [route for route in route_filters(config) if route.watch] if alert else []
    with open_archive(config) as archive:
        archive.register_routes([route.name for route in routes])
        return _rematch(config, archive, watchlist, routes)


def watch(config: Config, *, limit: int = 20) -> WatchShow:
    """The loaded watch-list and the newest hits in the archive (read only)."""
    from regwatch.watchlist import load_watchlist

    watchlist = load_watchlist(config)
    with open_archive(config, readonly=True) as archive:
        in_use = archive.watch_list() == watchlist.fingerprint
        hits = archive.recent_watch_hits(limit)
    return WatchShow(watchlist.items, watchlist.threshold, watchlist.fingerprint, in_use, hits)


def _rematch_if_changed(
    config: Config, archive: Archive, watchlist: WatchList, tagged_before: str
) -> RematchResult | None:
    """Re-match (without alerts) the documents tagged before `tagged_before` when the
    watch-list differs from the one last used; None when it does not, or none was."""
    previous = archive.watch_list()
    if previous == watchlist.fingerprint:
        return None
    if previous is None and not watchlist:  # nothing was ever watched: nothing to clear
        archive.use_watch_list(watchlist.fingerprint, 0, rematched=False)
        return None
    found = _rematch(config, archive, watchlist, [], tagged_before)
    return found if found.checked else None


def _rematch(
    config: Config,
    archive: Archive,
    watchlist: WatchList,
    routes: list[RouteFilter],
    tagged_before: str | None = None,
) -> RematchResult:
    days = config["watch.rematch_days"]
    since = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S")
    checked, newly, alerts = 0, [], 0
    for batch in archive.tagged_since(since, tagged_before):
        found = {
            pid: (result, watchlist.match(doc, result.get("entities") or {}))
            for pid, _, doc, result in batch
        }
        fresh, queued = archive.rematch_watch(found, routes)
        names = {pid: (label, doc.get("title") or "") for pid, label, doc, _ in batch}
        newly += [
            (*names[pid], list(dict.fromkeys(hit["item"] for hit in hits)))
            for pid, hits in fresh.items()
        ]
        checked, alerts = checked + len(batch), alerts + queued
    archive.use_watch_list(watchlist.fingerprint, len(watchlist.items), rematched=True)
    return RematchResult(days, checked, newly, alerts)


def _queue_bodies(archive: Archive, config: Config) -> int:
    """Queue the full text of documents scoring `fulltext.min_score` on a primary tag."""
    from nlp.rules import primary_tags

    wanted = [s for name in step_sources("fulltext") for s in registry()[name]["for_sources"]]
    return archive.queue_bodies(wanted, primary_tags(), config["fulltext.min_score"])


def _tag_batch(
    archive: Archive,
    tagger: Tagger,
    batch: list[TagInput],
    routes: list[RouteFilter],
    watchlist: WatchList,
) -> tuple[list[TagResult], list[tuple[str, str]]]:
    """Tag one batch, store the good results (with their watch-list hits) and record the
    failures; returns the stored results and (`<source> <source_id>`, reason) per failure."""
    from nlp import TagFailure

    pairs = list(zip(batch, tagger.tag_each([item.document for item in batch]), strict=True))
    good = [(item, r) for item, r in pairs if not isinstance(r, TagFailure)]
    bad = [(item, r.reason) for item, r in pairs if isinstance(r, TagFailure)]
    hits = {item.publication_id: watchlist.match(item.document, r.entities) for item, r in good}
    kept, refused = _store_tags(archive, good, tagger.version, routes, hits)
    if bad or refused:
        archive.record_tag_failures(bad + refused, tagger.version)
    return [result for _, result in kept], [(item.label, why) for item, why in bad + refused]


def _store_tags(
    archive: Archive,
    tagged: list[tuple[TagInput, TagResult]],
    version: str,
    routes: list[RouteFilter],
    hits: dict[int, list[dict]],
) -> tuple[list[tuple[TagInput, TagResult]], list[tuple[TagInput, str]]]:
    """Store (item, result) pairs in one go, or one by one if the batch is refused; returns the
    stored pairs and (item, reason) for each pair the archive refused."""
    try:
        pairs = [(item, result.to_dict()) for item, result in tagged]
        archive.store_tags(pairs, version, routes, hits)
        return tagged, []
    except ValueError:
        kept, refused = [], []
        for item, result in tagged:
            try:
                archive.store_tags([(item, result.to_dict())], version, routes, hits)
                kept.append((item, result))
            except ValueError as error:
                refused.append((item, str(error)))
        return kept, refused


def tag_file(config: Config, input_path: Path, output_path: Path) -> TagFileResult:
    """Tag Federal-Register-shaped JSON lines into `output_path` without the archive; bad lines
    are rejected with their number."""
    from nlp import load_tagger, tag_jsonl

    output_target(config, output_path)
    return tag_jsonl(input_path, output_path, load_tagger(thresholds=_thresholds(config)))


def archive_database(config: Config) -> Path:
    """The archive's SQLite file in the configured home."""
    from archive.api import DB_NAME

    return config.home / DB_NAME


def output_target(config: Config, path: Path) -> Path:
    """The file an `--output PATH` replaces (`outfiles.replaceable`: a link's target, a regular
    file the user may write, or none yet); `ValueError` in one line if it is part of the archive
    (its database, index or a lock, by any name): an export or tagged file would destroy it."""
    from archive.api import holds_archive

    if holds_archive(config.home, path):
        raise ValueError(f"cannot write {path}: it is part of the archive in {config.home}")
    return replaceable(path)


def evaluate(config: Config, path: Path) -> EvalReport:
    """Score the tagger (at the configured thresholds) against a labelled JSON-lines file."""
    from nlp import evaluate_file, load_tagger

    return evaluate_file(path, load_tagger(thresholds=_thresholds(config)))


def digest(
    config: Config,
    *,
    week: str | None = None,
    until: str | None = None,
    days: int | None = None,
    send: bool = False,
    list_name: str | None = None,
    force: bool = False,
    sent_late: bool = False,
) -> DigestResult:
    """Write each recipient list's digest of a period and, with `send`, mail it once per period.

    The period is the ISO `week`, else `days` (default `digest.days`) ending on `until` (default:
    the newest stored publication). Without `[[digest.lists]]` one unsent digest is written.
    `sent_late`: the scheduler sends it after its time (it was down); the digest says so.
    """
    from digests import render, select

    lists = _digest_lists(config, list_name, send)
    settings = _smtp_settings(config) if send else None
    results, unwritten = [], None
    with open_archive(config, readonly=not send) as archive:
        period = _digest_period(config, archive, week, until, days)
        for entry in lists:
            built = select.build_digest(
                archive, period, list_name=entry["name"], tags=entry["tags"]
            )
            built = replace(built, sent_late=sent_late)
            rendered = render.render(built, config["digest.templates_dir"])
            stem = f"digest-{period.label}" + (
                f"-{entry['name']}" if config["digest.lists"] else ""
            )
            write = partial(render.write, rendered, Path(config["digest.output_dir"]), stem)
            paths, failed = _files(write, {})
            unwritten = unwritten or failed
            status, detail = "written", None
            if settings is not None:
                with exclusive(config.home / DIGEST_LOCK):  # check, send, record: one at a time
                    status, detail = _send_once(
                        archive, config, settings, entry, built, rendered, force
                    )
            results.append(_list_digest(built, paths, status, detail))
    since = date.fromisoformat(period.start)
    written, failed = _files(partial(feeds, config, since=since), [])
    return DigestResult(results, written, unwritten or failed)


def _files(write: Callable[[], T], empty: T) -> tuple[T, str | None]:
    """`write()` and None, or on a failure to write (a full disk, a broken folder) `empty` and
    its message: no mail, alert or other list waits on a file (the caller fails after them)."""
    try:
        return write(), None
    except OSError as exc:
        return empty, str(exc)


def scheduled_digest(
    config: Config,
    *,
    now: datetime | None = None,
    lists: list[str] | None = None,
    sent_late: bool = False,
) -> DigestResult:
    """The weekly digest: the last complete week in `schedule.timezone` at `now`, sent when
    `digest_sending(config)`; only to `lists` if given (each at most once: the digest log decides).
    """
    week = digest_week(config, now).label
    send = digest_sending(config)
    if lists is None:
        return digest(config, week=week, send=send, sent_late=sent_late)
    done = [digest(config, week=week, send=send, list_name=n, sent_late=sent_late) for n in lists]
    unwritten = next((d.unwritten for d in done if d.unwritten), None)
    entries = [e for d in done for e in d.lists]
    return DigestResult(entries, done[-1].feeds if done else [], unwritten)


def digest_sending(config: Config) -> bool:
    """Whether the scheduled digest is e-mailed (`mail.host` and `[[digest.lists]]` are set)."""
    return config["mail.host"] is not None and bool(config["digest.lists"])


def digest_week(config: Config, now: datetime | None = None) -> Period:
    """The last complete week in `schedule.timezone` at `now` (the scheduled digest's period)."""
    from digests.period import last_complete_week

    return last_complete_week(config["schedule.timezone"], now)


def unsent_digest_lists(config: Config, period: Period) -> list[str]:
    """The recipient lists with a recipient the digest log holds no sent digest of `period` for."""
    with open_archive(config, readonly=True) as archive:
        lists = config["digest.lists"]
        return [e["name"] for e in lists if _unreached(archive, e, period)]


def _unreached(archive: Archive, entry: dict, period: Period) -> list[str]:
    """The list's `to` and `cc` addresses no send of the period's digest reached."""
    return _owed(entry, archive.digest_recipients(entry["name"], period.start, period.end))


def _owed(entry: dict, reached: Container[str]) -> list[str]:
    """The list's `to` and `cc` addresses not among those `reached`."""
    return [a for a in (*entry["to"], *entry["cc"]) if a not in reached]


def _digest_lists(config: Config, name: str | None, send: bool) -> list[dict]:
    from digests.select import DEFAULT_LIST

    configured = config["digest.lists"]
    if send and not configured:
        raise ConfigError("digest.lists: no recipient list is configured (--send needs one)")
    if send and config["mail.host"] is None:
        raise ConfigError("mail.host is not set (--send needs an SMTP server)")
    lists = configured or [{"name": DEFAULT_LIST, "to": [], "cc": [], "tags": []}]
    if name is None:
        return lists
    chosen = [entry for entry in lists if entry["name"] == name]
    if not chosen:
        raise ConfigError(f"digest.lists has no list named {name!r}")
    return chosen


def _smtp_settings(config: Config) -> SmtpSettings:
    from digests.mail import SmtpSettings

    return SmtpSettings(
        host=config["mail.host"],
        port=config["mail.port"],
        security=config["mail.security"],
        user=config["mail.user"],
        password=smtp_password(config),
        timeout=config["mail.timeout"],
    )


def _digest_period(
    config: Config, archive: Archive, week: str | None, until: str | None, days: int | None
) -> Period:
    from digests.period import days_ending, iso_week, last_complete_week

    if week is not None:
        if until is not None or days is not None:
            raise ValueError("give either --week or --until/--days, not both")
        return iso_week(week)
    newest = archive.publications(limit=1)
    if until is None and not newest:
        return last_complete_week(config["schedule.timezone"])
    return days_ending(until or newest[0]["publication_date"], days or config["digest.days"])


def _send_once(
    archive: Archive,
    config: Config,
    settings: SmtpSettings,
    entry: dict,
    built: Digest,
    rendered: Rendered,
    force: bool,
) -> tuple[str, str | None]:
    from digests import mail

    period = built.period
    before = archive.sent_digest(entry["name"], period.start, period.end)
    owed = [*entry["to"], *entry["cc"]]
    if before is not None and not force:
        owed = _unreached(archive, entry, period)
        if not owed:
            return "already maybe sent" if before.maybe else "already sent", before.sent_at
    msg = mail.message(  # the headers as configured; a refused recipient's retry goes only to it
        subject=built.subject,
        sender=config["mail.from"],
        to=entry["to"],
        cc=entry["cc"],
        text=rendered.text,
        html=rendered.html,
        identity=built.identity,
    )
    status, detail, refused = "sent", None, frozenset()
    try:
        mail.send(msg, settings, recipients=owed)
    except mail.PartlyRefused as exc:  # the others got it: recorded, so only these are retried
        status, detail, refused = "failed", str(exc), exc.refused
    except mail.MaybeSent as exc:  # recorded: resent only when asked, never every retry run
        status, detail = "maybe sent", f"{exc}; not sent again without --force"
    except mail.DeliveryError as exc:
        return "failed", str(exc)
    archive.record_digest(
        entry["name"],
        period.start,
        period.end,
        subject=built.subject,
        recipients=[a for a in owed if a not in refused],
        items=built.sent_items,
        maybe=status == "maybe sent",
    )
    return status, detail


def _list_digest(
    built: Digest, paths: dict[str, Path], status: str, detail: str | None
) -> ListDigest:
    return ListDigest(
        list_name=built.list_name,
        label=built.period.label,
        start=built.period.start,
        end=built.period.end,
        paths=paths,
        total=built.counts["total"],
        listed=len(built.items),
        late=built.late,
        changes=len(built.changes),
        untagged=built.untagged,
        tagged=built.tagged,
        incomplete=built.health.incomplete,
        status=status,
        detail=detail,
        parties=len(built.parties),
    )


def run(
    config: Config,
    *,
    base_url: str | None = None,
    since: str | None = None,
    until: str | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Crawl every source → tag → fetch the wanted full texts → tag them → digest → alert once."""
    crawled = crawl_sources(config, since=since, until=until, base_url=base_url)
    tagged = tag(config, progress=progress)
    bodies = fulltext(config, base_url=base_url)
    retagged = tag(config, progress=progress)
    written = digest(config)
    return RunResult(crawled, tagged, bodies, retagged, written, alert(config))


def alert(
    config: Config,
    *,
    dry_run: bool = False,
    backfill_days: int | None = None,
    retry_failed: bool = False,
    environ: Mapping[str, str] | None = None,
) -> AlertResult:
    """Deliver due alerts (after queueing `backfill_days` of older documents), write the feeds.

    A dry run sends nothing, writes nothing and returns the pending messages.
    """
    from digests.alerts import STAMP, deliver

    if dry_run and (backfill_days or retry_failed):
        raise ValueError("--dry-run goes alone: a backfill or a retry writes alerts")
    urls = route_urls(config, environ)
    filters = route_filters(config)
    with open_archive(config, readonly=dry_run) as archive:
        if not dry_run:  # a route's start decides what it is alerted about: only a real run
            archive.register_routes(list(urls))
        backfilled = retried = 0
        if backfill_days:
            start = datetime.now(UTC) - timedelta(days=backfill_days)
            backfilled = archive.backfill_alerts(filters, start.strftime("%Y-%m-%dT%H:%M:%S"))
        if retry_failed:
            retried = archive.retry_failed_alerts(list(urls), datetime.now(UTC).strftime(STAMP))
        delivered = deliver(archive, urls, _policy(config), dry_run=dry_run)
    if dry_run:
        return AlertResult(delivered, backfilled, [])
    written, unwritten = _files(partial(feeds, config), [])
    return AlertResult(delivered, backfilled, written, retried, unwritten)


def feeds(config: Config, *, since: date | None = None) -> list[Path]:
    """Write each route's Atom feed and the calendar of key dates from `since` (default today)."""
    from digests.feeds import write_feeds

    routes = [route["name"] for route in config["alerts.routes"]]
    with open_archive(config, readonly=True) as archive:
        return write_feeds(archive, routes, feeds_dir(config), since or date.today())


def feeds_dir(config: Config) -> Path:
    """Where the feeds are written: `feeds/` in the digest folder."""
    return Path(config["digest.output_dir"]) / "feeds"


def route_filters(config: Config) -> list[RouteFilter]:
    """The configured alert routes' filters, as the archive takes them."""
    from archive import RouteFilter

    fields = ("name", "tags", "sub_tags", "agencies", "min_score", "words", "watch")
    return [
        RouteFilter(**{name: route[name] for name in fields}) for route in config["alerts.routes"]
    ]


def route_urls(
    config: Config, environ: Mapping[str, str] | None = None, *, ops: bool = False
) -> dict[str, str]:
    """Each route's Apprise URL (from `url`, or the variable `url_env` names), validated; with
    `ops`, only the routes marked `ops = true`."""
    urls = {}
    for number, route in enumerate(config["alerts.routes"]):
        if ops and not route["ops"]:
            continue
        if route["url"]:
            urls[route["name"]] = route["url"]
            continue
        key = f"alerts.routes[{number}].url_env"
        value = env_value(key, route["url_env"], environ)
        try:
            urls[route["name"]] = check_apprise_url(value)
        except ValueError as exc:
            raise ConfigError(f"{key}: environment variable {route['url_env']} {exc}") from None
    return urls


def _policy(config: Config) -> Policy:
    from digests.alerts import Policy

    names = (
        "on_ambiguous",
        "max_attempts",
        "backoff_seconds",
        "backoff_max_seconds",
        "timeout_seconds",
    )
    return Policy(**{name: config[f"alerts.{name}"] for name in names})


def _thresholds(config: Config) -> dict[str, float]:
    prefix = "tagging.threshold_"
    return {key[len(prefix) :]: value for key, value in config.items() if key.startswith(prefix)}


# The scheduler's records: job runs, heartbeat, source health.


@dataclass(frozen=True)
class HealthResult:
    """A health check: incidents opened and cleared by it, those open after it, ops notices."""

    opened: list[Incident]
    cleared: list[Incident]
    open: list[Incident]
    notified: int
    notify_failed: int


def job_started(config: Config, job_id: str, at: datetime) -> int:
    """Record in the archive that a scheduled job started; returns the run's id."""
    with open_archive(config, create=True) as archive:
        return archive.job_started(job_id, at)


def job_finished(config: Config, run_id: int, at: datetime, ok: bool, summary: str) -> None:
    """Record how a scheduled job's run ended."""
    with open_archive(config, create=True) as archive:
        archive.job_finished(run_id, at, ok, summary)


def last_job_runs(config: Config) -> dict[str, JobRun]:
    """The newest run of every scheduled job, by job id."""
    with open_archive(config, readonly=True, create=True) as archive:
        return archive.last_job_runs()


def last_heartbeat(config: Config) -> Heartbeat | None:
    """The scheduler's newest heartbeat (None if it never ran)."""
    with open_archive(config, readonly=True, create=True) as archive:
        return archive.heartbeat()


def heartbeat(config: Config, pid: int, started_at: datetime, at: datetime) -> None:
    """Record that the scheduler `pid` is alive."""
    with open_archive(config, create=True) as archive:
        archive.beat(pid, started_at, at)


def check_health(
    config: Config, *, now: datetime | None = None, environ: Mapping[str, str] | None = None
) -> HealthResult:
    """Open an incident for each source silent too long or failing too often, clear those that
    recovered, and tell the ops routes (`ops = true`) of each opening and clearing once."""
    from digests.incidents import notify, problems

    now = now or datetime.now(UTC)
    urls = route_urls(config, environ, ops=True)
    with open_archive(config, create=True) as archive:
        found = problems(
            archive.crawl_records(config["health.max_failed_crawls"]),
            now,
            config["schedule.timezone"],
            config["health.max_silence_hours"],
            config["health.max_failed_crawls"],
        )
        opened, cleared = archive.sync_incidents(found, now)
        sent, failed = notify(archive, urls, _policy(config), now) if urls else (0, 0)
        return HealthResult(opened, cleared, archive.open_incidents(), sent, failed)
