"""The pipeline's step functions, shared by `cli.py` and `scheduler.py`.

Enters: a validated `Config` plus each step's own arguments.
Leaves: a result object per step (nothing is printed here). Each step moves data one way:
crawl (sources → archive), import (JSON lines → archive), tag (archive → nlp → archive),
digest (archive → files, and with `send` → SMTP → digest log), alert (outbox → chat, then
feeds → files), run (crawl → tag → digest → alert); rematch (archive → nlp watch-list → archive)
and watch (the watch-list and its newest hits); search, reindex and status read the archive
(reindex rebuilds its index); serve_replay runs the offline emulator of the sources.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from crawlers.sources import DEFAULT_SOURCE
from regwatch.config import Config, ConfigError, check_apprise_url, env_value, smtp_password

if TYPE_CHECKING:
    from archive import Archive, ArchiveStatus, RouteFilter, SearchHit
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
    `rematch` when the watch-list had changed since the last run."""

    tagged: int
    model_version: str
    counts: dict[str, int]
    failed: list[tuple[str, str]]
    rematch: RematchResult | None = None


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

    `status` is `written` (not sent), `sent`, `already sent` (`detail`: when) or `failed`
    (`detail`: the SMTP error in one line; nothing recorded, the next run tries again).
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


@dataclass(frozen=True)
class DigestResult:
    lists: list[ListDigest]
    feeds: list[Path]  # each route's Atom feed and the calendar, written with every digest

    @property
    def failed(self) -> list[ListDigest]:
        return [entry for entry in self.lists if entry.status == "failed"]


@dataclass(frozen=True)
class AlertResult:
    delivery: AlertRunResult
    backfilled: int
    feeds: list[Path]


@dataclass(frozen=True)
class RunResult:
    crawl: CrawlResult
    tag: TagRunResult
    digest: DigestResult
    alert: AlertResult


@dataclass(frozen=True)
class SearchResult:
    hits: list[SearchHit]
    index_problem: str | None  # the index lags or differs from SQLite: one line with the remedy


def open_archive(config: Config, *, readonly: bool = False) -> Archive:
    """Open the archive under the configured home (`readonly` for commands that only read)."""
    from archive import Archive

    return Archive.open(config.home, readonly=readonly)


def search(
    config: Config,
    query: str,
    *,
    limit: int = 20,
    tags: tuple[str, ...] = (),
    since: str | None = None,
    until: str | None = None,
) -> SearchResult:
    """Search the archive read-only (never waiting for a writer); say if the index lags."""
    with open_archive(config, readonly=True) as archive:
        hits = archive.search(query, limit=limit, tags=tags, since=since, until=until)
        return SearchResult(hits, archive.index_health().problem)


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
        base_url=base_url or config.get(f"sources.{source}.base_url"),
        contact=config["crawl.contact"],
        overlap_days=config["crawl.overlap_days"],
    )


def import_file(config: Config, name: str, progress: Progress | None = None) -> ImportResult:
    """Bulk-load Federal-Register-shaped JSON lines from file `name` (`-`: standard input).

    Bad lines are rejected with their number; `progress(bytes_read, file_size)` after each batch
    (not called for standard input, whose size is unknown).
    """
    from regwatch.importer import import_records, open_input

    with open_input(name) as (stream, size), open_archive(config) as archive:
        report = (lambda _: progress(stream.tell(), size)) if progress and size else None
        return import_records(archive, stream, progress=report)


def reindex(config: Config, progress: Progress | None = None) -> int:
    """Rebuild the search index from SQLite; returns the number of documents indexed."""
    with open_archive(config) as archive:
        return archive.reindex(progress)


def status(config: Config) -> ArchiveStatus:
    """Documents per source, last crawls, watermarks and sizes of the archive."""
    with open_archive(config, readonly=True) as archive:
        return archive.status()


def serve_replay(directory: Path | None, port: int) -> None:
    """Serve recorded source responses on 127.0.0.1:`port` until interrupted."""
    from replay.server import RECORDINGS, run_forever

    run_forever(directory or RECORDINGS, port)


def tag(config: Config, *, retag: bool = False, progress: Progress | None = None) -> TagRunResult:
    """Tag every untagged, changed or failed document (all with `retag`) and store the results.

    A document the tagger fails on, or whose result cannot be stored, is recorded as failed in
    the archive (retried by the next run); the others are stored.
    The documents' watch-list hits are stored with their tags; when the watch-list changed since
    the last run, the documents of the last `watch.rematch_days` are matched again (no alerts).
    """
    from nlp import load_tagger
    from regwatch.watchlist import load_watchlist

    tagger = load_tagger(thresholds=_thresholds(config))
    watchlist = load_watchlist(config)
    routes = route_filters(config)
    counts: dict[str, int] = {}
    failed: list[tuple[str, str]] = []
    done = stored = 0
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
        rematched = _rematch_if_changed(config, archive, watchlist)
    return TagRunResult(stored, tagger.version, counts, failed, rematched)


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
    config: Config, archive: Archive, watchlist: WatchList
) -> RematchResult | None:
    """Re-match (without alerts) when the watch-list differs from the one last used."""
    previous = archive.watch_list()
    if previous == watchlist.fingerprint:
        return None
    if previous is None and not watchlist:  # nothing was ever watched: nothing to clear
        archive.use_watch_list(watchlist.fingerprint, 0, rematched=False)
        return None
    return _rematch(config, archive, watchlist, [])


def _rematch(
    config: Config, archive: Archive, watchlist: WatchList, routes: list[RouteFilter]
) -> RematchResult:
    days = config["watch.rematch_days"]
    since = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S")
    checked, newly, alerts = 0, [], 0
    for batch in archive.tagged_since(since):
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

    return tag_jsonl(input_path, output_path, load_tagger(thresholds=_thresholds(config)))


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
) -> DigestResult:
    """Write each recipient list's digest of a period and, with `send`, mail it once per period.

    The period is the ISO `week`, else `days` (default `digest.days`) ending on `until` (default:
    the newest stored publication). Without `[[digest.lists]]` one unsent digest is written.
    """
    from digests import render, select

    lists = _digest_lists(config, list_name, send)
    settings = _smtp_settings(config) if send else None
    results = []
    with open_archive(config, readonly=not send) as archive:
        period = _digest_period(config, archive, week, until, days)
        for entry in lists:
            built = select.build_digest(
                archive, period, list_name=entry["name"], tags=entry["tags"]
            )
            rendered = render.render(built, config["digest.templates_dir"])
            stem = f"digest-{period.label}" + (
                f"-{entry['name']}" if config["digest.lists"] else ""
            )
            paths = render.write(rendered, Path(config["digest.output_dir"]), stem)
            status, detail = "written", None
            if settings is not None:
                status, detail = _send_once(
                    archive, config, settings, entry, built, rendered, force
                )
            results.append(_list_digest(built, paths, status, detail))
    return DigestResult(results, feeds(config, since=date.fromisoformat(period.start)))


def scheduled_digest(config: Config) -> DigestResult:
    """The weekly digest: the last complete week in `schedule.timezone`, sent when `mail.host`
    and `[[digest.lists]]` are configured."""
    from digests.period import last_complete_week

    week = last_complete_week(config["schedule.timezone"]).label
    send = config["mail.host"] is not None and bool(config["digest.lists"])
    return digest(config, week=week, send=send)


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
    if before is not None and not force:
        return "already sent", before.sent_at
    msg = mail.message(
        subject=built.subject,
        sender=config["mail.from"],
        to=entry["to"],
        cc=entry["cc"],
        text=rendered.text,
        html=rendered.html,
    )
    try:
        mail.send(msg, settings)
    except mail.DeliveryError as exc:
        return "failed", str(exc)
    archive.record_digest(
        entry["name"],
        period.start,
        period.end,
        subject=built.subject,
        recipients=[*entry["to"], *entry["cc"]],
        items=built.sent_items,
    )
    return "sent", None


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
    )


def run(
    config: Config,
    *,
    base_url: str | None = None,
    since: str | None = None,
    until: str | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Crawl → tag → digest → alert once."""
    crawled = crawl(config, since=since, until=until, base_url=base_url)
    tagged = tag(config, progress=progress)
    written = digest(config)
    return RunResult(crawled, tagged, written, alert(config))


def alert(
    config: Config,
    *,
    dry_run: bool = False,
    backfill_days: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> AlertResult:
    """Deliver due alerts (after queueing `backfill_days` of older documents), write the feeds.

    A dry run sends nothing, writes nothing and returns the pending messages.
    """
    from digests.alerts import deliver

    if dry_run and backfill_days:
        raise ValueError("--dry-run and --backfill-days go separately: a backfill writes alerts")
    urls = route_urls(config, environ)
    filters = route_filters(config)
    with open_archive(config) as archive:
        archive.register_routes(list(urls))
        backfilled = 0
        if backfill_days:
            start = datetime.now(UTC) - timedelta(days=backfill_days)
            backfilled = archive.backfill_alerts(filters, start.strftime("%Y-%m-%dT%H:%M:%S"))
        delivered = deliver(archive, urls, _policy(config), dry_run=dry_run)
    return AlertResult(delivered, backfilled, [] if dry_run else feeds(config))


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


def route_urls(config: Config, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each route's Apprise URL (from `url`, or the variable `url_env` names), validated."""
    urls = {}
    for number, route in enumerate(config["alerts.routes"]):
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
