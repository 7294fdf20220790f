"""The pipeline's step functions, shared by `cli.py` and `scheduler.py`.

Enters: a validated `Config` plus each step's own arguments.
Leaves: a result object per step (nothing is printed here). Each step moves data one way:
crawl (sources → archive), import (JSON lines → archive), tag (archive → nlp → archive),
digest (archive → file), run (crawl → tag → digest); search, reindex and status read the archive
(reindex rebuilds its index); serve_replay runs the offline emulator of the sources.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crawlers.sources import DEFAULT_SOURCE
from regwatch.config import Config

if TYPE_CHECKING:
    from archive import Archive, ArchiveStatus, SearchHit
    from archive.tagging import TagInput
    from crawlers.run import CrawlResult
    from nlp import TagFileResult, Tagger, TagResult
    from nlp.evaluate import EvalReport
    from regwatch.importer import ImportResult

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class TagRunResult:
    """Documents tagged and stored, tag counts, and `failed`: (`<source> <source_id>`, reason)."""

    tagged: int
    model_version: str
    counts: dict[str, int]
    failed: list[tuple[str, str]]


@dataclass(frozen=True)
class DigestResult:
    path: Path
    start: str
    end: str
    total: int
    relevant: int
    tagged: bool


@dataclass(frozen=True)
class RunResult:
    crawl: CrawlResult
    tag: TagRunResult
    digest: DigestResult


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
    """
    from nlp import load_tagger

    tagger = load_tagger(thresholds=_thresholds(config))
    counts: dict[str, int] = {}
    failed: list[tuple[str, str]] = []
    done = stored = 0
    with open_archive(config) as archive, archive.bulk():
        total = archive.count_to_tag(tagger.version, retag=retag)
        for batch in archive.documents_to_tag(tagger.version, retag=retag):
            results, failures = _tag_batch(archive, tagger, batch)
            for result in results:
                for name in result.tags:
                    counts[name] = counts.get(name, 0) + 1
            failed += failures
            stored += len(results)
            done += len(batch)
            if progress:
                progress(done, total)
    return TagRunResult(stored, tagger.version, counts, failed)


def _tag_batch(
    archive: Archive, tagger: Tagger, batch: list[TagInput]
) -> tuple[list[TagResult], list[tuple[str, str]]]:
    """Tag one batch, store the good results and record the failures; returns the stored
    results and (`<source> <source_id>`, reason) per failure."""
    from nlp import TagFailure

    pairs = list(zip(batch, tagger.tag_each([item.document for item in batch]), strict=True))
    good = [(item, r) for item, r in pairs if not isinstance(r, TagFailure)]
    bad = [(item, r.reason) for item, r in pairs if isinstance(r, TagFailure)]
    kept, refused = _store_tags(archive, good, tagger.version)
    if bad or refused:
        archive.record_tag_failures(bad + refused, tagger.version)
    return [result for _, result in kept], [(item.label, why) for item, why in bad + refused]


def _store_tags(
    archive: Archive, tagged: list[tuple[TagInput, TagResult]], version: str
) -> tuple[list[tuple[TagInput, TagResult]], list[tuple[TagInput, str]]]:
    """Store (item, result) pairs in one go, or one by one if the batch is refused; returns the
    stored pairs and (item, reason) for each pair the archive refused."""
    try:
        archive.store_tags([(item, result.to_dict()) for item, result in tagged], version)
        return tagged, []
    except ValueError:
        kept, refused = [], []
        for item, result in tagged:
            try:
                archive.store_tags([(item, result.to_dict())], version)
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


def digest(config: Config, *, until: str | None = None, days: int | None = None) -> DigestResult:
    """Write the digest of `days` (default `digest.days`) ending on `until`; say where it is."""
    from digests.digest import build_digest, write_digest
    from nlp.rules import primary_tags

    days = days or config["digest.days"]
    with open_archive(config, readonly=True) as archive:
        built = build_digest(archive, days=days, primary=primary_tags(), until=until)
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
    """Crawl → tag → digest once."""
    crawled = crawl(config, since=since, until=until, base_url=base_url)
    tagged = tag(config, progress=progress)
    return RunResult(crawled, tagged, digest(config))


def _thresholds(config: Config) -> dict[str, float]:
    prefix = "tagging.threshold_"
    return {key[len(prefix) :]: value for key, value in config.items() if key.startswith(prefix)}
