"""The pipeline's step functions, shared by `cli.py` and `scheduler.py`.

Enters: a validated `Config` plus each step's own arguments.
Leaves: a result object per step (nothing is printed here). Each step moves data one way:
crawl (sources → archive), import (JSON lines → archive), tag (archive → nlp → archive),
digest (archive → file), alert (outbox → chat, then feeds → files), run (crawl → tag → digest →
alert).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from regwatch.config import Config, ConfigError, check_apprise_url, env_value

if TYPE_CHECKING:
    from archive import Archive, RouteFilter
    from crawlers.run import CrawlResult
    from digests.alerts import AlertRunResult, Policy
    from nlp.evaluate import EvalReport
    from regwatch.importer import ImportResult

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class TagRunResult:
    tagged: int
    model_version: str
    counts: dict[str, int]


@dataclass(frozen=True)
class DigestResult:
    path: Path
    start: str
    end: str
    total: int
    relevant: int
    tagged: bool


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


def open_archive(config: Config) -> Archive:
    """Open the archive under the configured home."""
    from archive import Archive

    return Archive.open(config.home)


def crawl(
    config: Config,
    *,
    source: str = "federal_register",
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


def import_file(config: Config, path: Path, progress: Progress | None = None) -> ImportResult:
    """Bulk-load Federal-Register-shaped JSON lines; bad lines are rejected with their number."""
    from regwatch.importer import import_records

    total = _count_lines(path)
    with open_archive(config) as archive, path.open(encoding="utf-8") as lines:
        return import_records(archive, lines, progress=_bounded(progress, total))


def tag(config: Config, *, retag: bool = False, progress: Progress | None = None) -> TagRunResult:
    """Tag every untagged or changed document (all with `retag`) and store the results."""
    from nlp import load_tagger

    tagger = load_tagger(thresholds=_thresholds(config))
    routes = route_filters(config)
    counts: dict[str, int] = {}
    done = 0
    with open_archive(config) as archive, archive.bulk():
        archive.register_routes([route.name for route in routes])
        total = archive.count_to_tag(tagger.version, retag=retag)
        for batch in archive.documents_to_tag(tagger.version, retag=retag):
            results = list(tagger.tag_many(item.document for item in batch))
            archive.store_tags(
                [(item, result.to_dict()) for item, result in zip(batch, results, strict=True)],
                tagger.version,
                routes,
            )
            for result in results:
                for name in result.tags:
                    counts[name] = counts.get(name, 0) + 1
            done += len(batch)
            if progress:
                progress(done, total)
    return TagRunResult(done, tagger.version, counts)


def tag_file(config: Config, input_path: Path, output_path: Path) -> int:
    """Tag Federal-Register-shaped JSON lines into `output_path` without the archive."""
    from nlp import load_tagger, tag_jsonl

    return tag_jsonl(input_path, output_path, load_tagger(thresholds=_thresholds(config)))


def evaluate(config: Config, path: Path) -> EvalReport:
    """Score the tagger (at the configured thresholds) against a labelled JSON-lines file."""
    from nlp import evaluate_file, load_tagger

    return evaluate_file(path, load_tagger(thresholds=_thresholds(config)))


def digest(config: Config, *, until: str | None = None, days: int | None = None) -> DigestResult:
    """Write the digest of `days` (default `digest.days`) ending on `until`; say where it is."""
    from digests.digest import build_digest, write_digest

    with open_archive(config) as archive:
        built = build_digest(archive, days=days or config["digest.days"], until=until)
    path = write_digest(built, Path(config["digest.output_dir"]))
    return DigestResult(
        path, built.start, built.end, built.total, len(built.relevant), built.tagged
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
    with open_archive(config) as archive:
        return write_feeds(archive, routes, feeds_dir(config), since or date.today())


def feeds_dir(config: Config) -> Path:
    """Where the feeds are written: `feeds/` in the digest folder."""
    return Path(config["digest.output_dir"]) / "feeds"


def route_filters(config: Config) -> list[RouteFilter]:
    """The configured alert routes' filters, as the archive takes them."""
    from archive import RouteFilter

    fields = ("name", "tags", "sub_tags", "agencies", "min_score", "words")
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


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def _bounded(progress: Progress | None, total: int) -> Callable[[int], None] | None:
    return (lambda done: progress(done, total)) if progress else None
