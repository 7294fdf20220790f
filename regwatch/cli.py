"""The `regwatch` command: one subcommand per pipeline step, plus search, status, replay server.

Enters: command-line arguments and the configuration (`--config`, `REGWATCH_CONFIG`,
`./regwatch.toml`).
Leaves: text, JSON or CSV on stdout, progress bars on stderr, exit code 0 on success and 1 with one
`Error: …` line on failure. Every body calls a step function in `steps.py`; nothing else lives here.
"""

from __future__ import annotations

import contextlib
import csv
import html
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from regwatch import steps
from regwatch.config import Config, ConfigError, load_config

DATE = click.DateTime(formats=["%Y-%m-%d"])


def _iso(value: datetime | None) -> str | None:
    return value.date().isoformat() if value else None


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Turn the project's expected failures into one `Error:` line and exit code 1."""
    from archive import ArchiveError, QueryError

    try:
        yield
    except (ConfigError, ArchiveError, QueryError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc).splitlines()[0] if str(exc) else repr(exc)) from None


@contextlib.contextmanager
def _progress(description: str) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar on stderr, driven by `callback(done, total)`."""
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


@contextlib.contextmanager
def _spinner(description: str) -> Iterator[None]:
    """A Rich spinner on stderr for work whose size is unknown (a crawl in a child process)."""
    from rich.console import Console

    with Console(stderr=True).status(description):
        yield


class Context:
    """Lazily loaded configuration shared by subcommands."""

    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._config = None

    @property
    def config(self) -> Config:
        if self._config is None:
            with _errors():
                self._config = load_config(self.config_path)
        return self._config


pass_context = click.make_pass_decorator(Context)


@click.group()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="REGWATCH_CONFIG",
    help="Path of regwatch.toml (default: ./regwatch.toml if present).",
)
@click.version_option(package_name="regwatch", prog_name="regwatch")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """regwatch: track US regulatory change on AI and export controls."""
    ctx.obj = Context(config_path)


@main.command()
@click.option("--source", default="federal_register", show_default=True, help="Source to crawl.")
@click.option("--since", type=DATE, help="First publication date (default: watermark - overlap).")
@click.option("--until", type=DATE, help="Last publication date (default: today).")
@click.option("--base-url", help="Base URL of the source API (e.g. a replay server).")
@pass_context
def crawl(obj: Context, source: str, since, until, base_url: str | None) -> None:
    """Crawl a source into the archive.

    Example: regwatch crawl --since 2025-01-01 --until 2025-01-31
    """
    with _errors(), _spinner(f"crawling {source}"):
        result = steps.crawl(
            obj.config, source=source, since=_iso(since), until=_iso(until), base_url=base_url
        )
    _echo_crawl(result)
    if not result.ok:
        raise click.ClickException(f"crawl of {result.source} failed: {result.error}")


@main.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def import_(obj: Context, file: Path) -> None:
    """Bulk-load Federal-Register-shaped JSON lines (backfills).

    Example: regwatch import backfill-2024.jsonl
    """
    with _errors(), _progress("importing") as progress:
        result = steps.import_file(obj.config, file, progress)
    click.echo(
        f"imported {file}: {result.inserted} new, {result.updated} changed, "
        f"{result.unchanged} unchanged, {len(result.rejected)} rejected"
    )
    for line_number, reason in result.rejected[:20]:
        click.echo(f"  line {line_number}: {reason}", err=True)
    if result.rejected:
        raise click.ClickException(f"{len(result.rejected)} lines of {file} were rejected")


@main.command()
@click.argument("query")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--tag", "tags", multiple=True, help="Only documents with this tag (repeatable).")
@click.option("--since", type=DATE, help="Published on or after this date.")
@click.option("--until", type=DATE, help="Published on or before this date.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@pass_context
def search(obj: Context, query: str, limit: int, tags, since, until, output_format: str) -> None:
    """Search the archive: words ANDed, "quoted phrases", prefix* (4+ letters), -exclusions.

    Example: regwatch search '"entity list" advanced comput*' --limit 5
    """
    with _errors(), steps.open_archive(obj.config) as archive:
        hits = archive.search(query, limit=limit, tags=tags, since=_iso(since), until=_iso(until))
    _SEARCH_FORMATS[output_format]([asdict(hit) for hit in hits])


@main.command()
@pass_context
def reindex(obj: Context) -> None:
    """Rebuild the search index from the SQLite archive.

    Example: regwatch reindex
    """
    with _errors(), _progress("reindexing") as progress, steps.open_archive(obj.config) as archive:
        count = archive.reindex(progress)
    click.echo(f"reindexed {count} documents")


@main.command()
@pass_context
def status(obj: Context) -> None:
    """Show documents per source, last crawls, watermarks and sizes.

    Example: regwatch status
    """
    with _errors(), steps.open_archive(obj.config) as archive:
        report = archive.status()
        alerts = archive.alert_counts()
    click.echo(f"archive: {obj.config.home}")
    for line in _status_lines(report):
        click.echo(line)
    for line in _alert_status_lines(alerts):
        click.echo(line)


@main.command()
@click.option("--retag", is_flag=True, help="Re-tag every document, not only new or changed ones.")
@click.option(
    "--input",
    "input_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Tag these JSON lines instead of the archive.",
)
@click.option(
    "--output",
    "output_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where --input's tagged lines go.",
)
@pass_context
def tag(obj: Context, retag: bool, input_path: Path | None, output_path: Path | None) -> None:
    """Tag untagged or changed documents for AI and export-control relevance.

    Example: regwatch tag            (archive)
             regwatch tag --input docs.jsonl --output tagged.jsonl
    """
    if (input_path is None) != (output_path is None):
        raise click.UsageError("--input and --output go together")
    if input_path is not None:
        with _errors():
            count = steps.tag_file(obj.config, input_path, output_path)
        click.echo(f"tagged {count} documents into {output_path}")
        return
    with _errors(), _progress("tagging") as progress:
        result = steps.tag(obj.config, retag=retag, progress=progress)
    counts = ", ".join(f"{name} {n}" for name, n in sorted(result.counts.items())) or "no tags"
    click.echo(f"tagged {result.tagged} documents with model {result.model_version}: {counts}")


@main.command(name="eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_context
def eval_(obj: Context, file: Path, as_json: bool) -> None:
    """Score the tagger against labelled JSON lines, beside a keyword baseline.

    Example: regwatch eval data/fr_labeled_dev.jsonl
    """
    with _errors():
        report = steps.evaluate(obj.config, file)
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.format_text())


@main.command()
@click.option("--base-url", help="Base URL of the source API (e.g. a replay server).")
@click.option("--since", type=DATE, help="First publication date to crawl.")
@click.option("--until", type=DATE, help="Last publication date to crawl.")
@pass_context
def run(obj: Context, base_url: str | None, since, until) -> None:
    """Run the whole pipeline once: crawl, tag, digest, alert delivery.

    Example: regwatch run --base-url http://127.0.0.1:8400/api/v1/
    """
    with _errors(), _progress("crawl → tag → digest → alert") as progress:
        result = steps.run(
            obj.config, base_url=base_url, since=_iso(since), until=_iso(until), progress=progress
        )
    _echo_crawl(result.crawl)
    tagged = result.tag
    click.echo(f"tagged {tagged.tagged} documents with model {tagged.model_version}")
    _echo_digest(result.digest)
    _echo_alerts(result.alert)
    if not result.crawl.ok:
        raise click.ClickException(f"crawl failed: {result.crawl.error}")


@main.command()
@click.option("--until", type=DATE, help="Last day covered (default: newest stored publication).")
@click.option("--days", type=click.IntRange(1, 366), help="Days covered (default: digest.days).")
@pass_context
def digest(obj: Context, until, days: int | None) -> None:
    """Write the digest of a period from the archive and print where it is.

    Example: regwatch digest --until 2023-10-27 --days 7
    """
    with _errors():
        result = steps.digest(obj.config, until=_iso(until), days=days)
    _echo_digest(result)


@main.command()
@click.option("--dry-run", is_flag=True, help="Print the pending messages; send and write nothing.")
@click.option(
    "--backfill-days",
    type=click.IntRange(1, 3660),
    help="First queue alerts for documents stored in the last N days (before the route existed).",
)
@pass_context
def alert(obj: Context, dry_run: bool, backfill_days: int | None) -> None:
    """Deliver pending chat alerts (with retries and backoff), then write the feeds.

    Example: regwatch alert --dry-run
    """
    with _errors():
        result = steps.alert(obj.config, dry_run=dry_run, backfill_days=backfill_days)
    for route, text in result.delivery.messages:
        click.echo(f"--- {route}\n{text}")
    if dry_run:
        click.echo(f"dry run: {len(result.delivery.messages)} pending alerts, nothing sent")
        return
    _echo_alerts(result)


@main.command(name="replay-server")
@click.argument(
    "directory", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option("--port", type=click.IntRange(0, 65535), default=8400, show_default=True)
def replay_server(directory: Path | None, port: int) -> None:
    """Serve recorded source responses on 127.0.0.1 (offline demo and tests).

    DIRECTORY defaults to the recordings shipped with regwatch.

    Example: regwatch replay-server --port 8400
    """
    from replay.server import RECORDINGS, run_forever

    with _errors():
        run_forever(directory or RECORDINGS, port)


@main.command()
@click.option("--show", is_flag=True, help="Print the jobs and their next run times, then exit.")
@pass_context
def schedule(obj: Context, show: bool) -> None:
    """Run crawl → tag and the weekly digest on the configured schedule.

    Example: regwatch schedule --show
    """
    import scheduler

    if not show:
        scheduler.main(obj.config)
        return
    timetable = scheduler.build_scheduler(obj.config)
    now = datetime.now(timetable.timezone)
    for job in timetable.get_jobs():
        click.echo(f"{job.id}: next run {job.trigger.get_next_fire_time(None, now).isoformat()}")


def _echo_crawl(result: Any) -> None:
    click.echo(
        f"crawled {result.source} {result.since} to {result.until}: "
        f"{result.inserted} new, {result.updated} changed, {result.unchanged} unchanged"
        f" ({'ok' if result.ok else 'FAILED'})"
    )


def _echo_digest(result: Any) -> None:
    click.echo(
        f"digest {result.start} to {result.end}: {result.total} publications, "
        f"{result.relevant} on AI or export control (plain HTML list)"
    )
    click.echo(f"digest written to {result.path.resolve()}")


def _echo_alerts(result: Any) -> None:
    done = result.delivery
    if result.backfilled:
        click.echo(f"queued {result.backfilled} older alerts (backfill)")
    click.echo(
        f"alerts: {done.sent} sent, {done.retrying} to retry, {done.failed} failed, "
        f"{done.maybe} maybe delivered, {done.deferred} waiting for their route"
    )
    if result.feeds:
        click.echo(f"feeds written to {result.feeds[0].parent.resolve()}")


def _alert_status_lines(counts: dict[str, Any]) -> Iterator[str]:
    if counts:
        yield "alerts:"
    for route, c in counts.items():
        last = f", last sent {c.last_sent_at}" if c.last_sent_at else ""
        yield (
            f"  {route}: {c.pending} pending, {c.failed} failed, {c.maybe} maybe delivered, "
            f"{c.sent} sent{last}"
        )


def _status_lines(report: Any) -> Iterator[str]:
    sources = sorted(set(report.documents) | set(report.last_crawl) | set(report.watermarks))
    total = sum(report.documents.values())
    yield f"documents: {total} ({report.tagged} tagged, {report.tags_stale} with stale tags)"
    for source in sources:
        crawl = report.last_crawl.get(source)
        last = f"{crawl.finished_at} ({'ok' if crawl.ok else 'failed'})" if crawl else "never"
        yield (
            f"  {source}: {report.documents.get(source, 0)} documents, last crawl {last}, "
            f"watermark {report.watermarks.get(source, 'none')}"
        )
    yield f"database: {_size(report.database_bytes)}, index: {_size(report.index_bytes)}"
    if report.index_pending:
        yield f"index behind by {report.index_pending} documents (caught up on next open)"


def _size(count: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"


def _print_table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    if not rows:
        click.echo("no matches")
        return
    table = Table("date", "document", "tags", "title and matching text", show_lines=True)
    for row in rows:
        parts = re.split(r"(</?b>)", row["snippet"])
        snippet = "".join(_MARKUP.get(part) or escape(html.unescape(part)) for part in parts)
        table.add_row(
            row["publication_date"],
            row["source_id"],
            "\n".join(row["tags"]),
            f"[bold]{escape(row['title'])}[/bold]\n{snippet}",
        )
    Console().print(table)


def _print_json(rows: list[dict[str, Any]]) -> None:
    click.echo(json.dumps(rows, indent=2, ensure_ascii=False))


def _print_csv(rows: list[dict[str, Any]]) -> None:
    fields = ["publication_date", "source", "source_id", "type", "title", "url", "tags", "score"]
    writer = csv.DictWriter(sys.stdout, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "tags": ";".join(row["tags"])})


_MARKUP = {"<b>": "[bold yellow]", "</b>": "[/bold yellow]"}
_SEARCH_FORMATS = {"table": _print_table, "json": _print_json, "csv": _print_csv}

if __name__ == "__main__":
    main()
