"""The pipeline's step functions, shared by `cli.py` and `scheduler.py`.

Enters: a validated `Config` plus each step's own arguments.
Leaves: a result object per step (nothing is printed here). Each step moves data one way:
crawl (sources → archive), import (JSON lines → archive), tag (archive → nlp → archive),
digest (archive → files, and with `send` → SMTP → digest log), run (crawl → tag → digest).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from regwatch.config import Config, ConfigError, smtp_password

if TYPE_CHECKING:
    from archive import Archive
    from crawlers.run import CrawlResult
    from digests.mail import SmtpSettings
    from digests.period import Period
    from digests.render import Rendered
    from digests.select import Digest
    from nlp.evaluate import EvalReport
    from regwatch.importer import ImportResult

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class TagRunResult:
    tagged: int
    model_version: str
    counts: dict[str, int]


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

    @property
    def failed(self) -> list[ListDigest]:
        return [entry for entry in self.lists if entry.status == "failed"]


@dataclass(frozen=True)
class RunResult:
    crawl: CrawlResult
    tag: TagRunResult
    digest: DigestResult


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
    counts: dict[str, int] = {}
    done = 0
    with open_archive(config) as archive, archive.bulk():
        total = archive.count_to_tag(tagger.version, retag=retag)
        for batch in archive.documents_to_tag(tagger.version, retag=retag):
            results = list(tagger.tag_many(item.document for item in batch))
            archive.store_tags(
                [(item, result.to_dict()) for item, result in zip(batch, results, strict=True)],
                tagger.version,
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
    with open_archive(config) as archive:
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
    return DigestResult(results)


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
    """Crawl → tag → digest once."""
    crawled = crawl(config, since=since, until=until, base_url=base_url)
    tagged = tag(config, progress=progress)
    return RunResult(crawled, tagged, digest(config))


def _thresholds(config: Config) -> dict[str, float]:
    prefix = "tagging.threshold_"
    return {key[len(prefix) :]: value for key, value in config.items() if key.startswith(prefix)}


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def _bounded(progress: Progress | None, total: int) -> Callable[[int], None] | None:
    return (lambda done: progress(done, total)) if progress else None
