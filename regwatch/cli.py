"""The `regwatch` command: one subcommand per pipeline step, plus search, status, replay server.

Enters: command-line arguments and the configuration (`--config`, `REGWATCH_CONFIG`,
`./regwatch.toml`).
Leaves: text, JSON or CSV on stdout, progress bars on stderr, exit code 0 on success and 1 with one
`Error: …` line on failure. Every body calls a step function in `steps.py`; nothing else lives here.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import click

from regwatch import files, steps
from regwatch.config import Config, ConfigError, load_config
from regwatch.inert import ERROR_WIDTH, error_text, json_text, one_line, plain_text, shorten
from regwatch.outfiles import replacing

DATE = click.DateTime(formats=["%Y-%m-%d"])
# `archive.query.MAX_LIMIT`, which imports the engine: a limit out of range is a usage mistake
# (exit 2) wherever it is given, never a late "out of range" from SQLite (exit 1).
LIMIT = click.IntRange(1, 10_000)


def _given_url(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """An empty `--base-url` is a mistake (an unset shell variable), never the real site."""
    if value is not None and not value.strip():
        raise click.BadParameter("is empty: give the API's URL, or leave it out")
    return value


BASE_URL = click.option(
    "--base-url",
    callback=_given_url,
    help="Base URL of the source API (e.g. a replay server).",
)
FACETS_SHOWN = 15  # values per facet in the table output
MAX_WORKERS = 64  # import processes: a typo such as 10000 must not fork thousands
SHOWN = 5  # rejected lines or failed documents named before the summary line
TABLE_WIDTH = 60  # the narrowest console a results table is printed for


def _iso(value: datetime | None) -> str | None:
    return value.date().isoformat() if value else None


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Turn the project's expected failures into one `Error:` line and exit code 1; a reader
    that stopped reading (`| head`) is left to click, which ends quietly with exit code 1."""
    from archive import ArchiveError, QueryError

    try:
        yield
    except BrokenPipeError:
        raise
    except UnicodeEncodeError as exc:  # an argument of bytes that are not UTF-8 (`ai\xff`)
        raise _error(f"not valid UTF-8 text: {_undecoded(exc.object)}") from None
    except (ConfigError, ArchiveError, QueryError, ValueError, OSError) as exc:
        raise _error(str(exc) or repr(exc)) from None
    except OverflowError as exc:  # a date or number past what dates or SQLite hold: 9999-12-31
        raise _error(f"out of range: {exc}") from None


def _undecoded(text: str) -> str:
    """`text` that holds undecodable bytes (Python keeps them as lone surrogates), quoted with
    those bytes as `\\xff` escapes."""
    try:
        shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # surrogates that stand for no byte: escaped as they are
        shown = ascii(text)[1:-1]
    return f"'{shown}'"


def _error(message: str) -> click.ClickException:
    """One `Error:` line: `error_text(message)`."""
    return click.ClickException(error_text(message))


def _echo(text: str, err: bool = False) -> None:
    """Print a line that may quote documents, sources or users, made inert for a terminal."""
    click.echo(plain_text(text), err=err)


def _echo_item(text: str, err: bool = False) -> None:
    """Print one indented line of a list quoting documents or sources (a rejected line, a title):
    on one line whatever they hold, so a line break in a document number forges no line."""
    _echo(f"  {one_line(text)}", err=err)


@contextlib.contextmanager
def _progress(description: str) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar on stderr, driven by `callback(done, total)`; shown from the first call,
    so a command failing before any progress prints nothing but its error line, and only on a
    terminal (in a log it left an empty line)."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    bar = Progress(console=console, transient=True, disable=not console.is_terminal)
    tasks = []

    def update(done: int, total: int) -> None:
        if not tasks:
            bar.start()
            tasks.append(bar.add_task(description, total=None))
        bar.update(tasks[0], completed=done, total=total)

    try:
        yield update
    finally:
        if tasks:
            bar.stop()


@contextlib.contextmanager
def _locked(config: Config, command: str, *, create: bool = True) -> Iterator[None]:
    """Hold the pipeline lock (one pipeline at a time), saying on stderr when it has to wait;
    without `create`, only in an existing archive."""
    with steps.pipeline_lock(
        config,
        command,
        lambda holder: _echo(f"waiting for the pipeline lock: {holder}", err=True),
        create=create,
    ) as left:
        if left:
            _echo(left, err=True)
        yield


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
@click.option(
    "--source",
    default=steps.DEFAULT_SOURCE,
    show_default=True,
    help="Source to crawl (a name from `regwatch status`), or `all`.",
)
@click.option("--since", type=DATE, help="First publication date (default: watermark - overlap).")
@click.option("--until", type=DATE, help="Last publication date (default: today).")
@BASE_URL
@pass_context
def crawl(obj: Context, source: str, since, until, base_url: str | None) -> None:
    """Crawl a source (or `all` of them) into the archive.

    Example: regwatch crawl --since 2025-01-01 --until 2025-01-31
             regwatch crawl --source federal_register_pi
    """
    with _errors(), _locked(obj.config, "regwatch crawl"), _spinner(f"crawling {source}"):
        results = steps.crawl_sources(
            obj.config, source=source, since=_iso(since), until=_iso(until), base_url=base_url
        )
    for result in results:
        _echo_crawl(result)
    failed = [result for result in results if not result.ok]
    if failed:
        raise _error(f"crawl of {failed[0].source} failed: {failed[0].error}")


@main.command(name="import")
@click.argument("file")
@click.option(
    "--workers",
    type=click.IntRange(1, MAX_WORKERS),
    help="Processes preparing the lines (default: one per core from 2 MB on, if one is idle).",
)
@pass_context
def import_(obj: Context, file: str, workers: int | None) -> None:
    """Bulk-load Federal-Register-shaped JSON lines (backfills); FILE `-` reads standard input.

    Example: regwatch import backfill-2024.jsonl
             zcat backfill-2024.jsonl.gz | regwatch import -
    """
    with _errors(), _progress("importing") as progress:
        result = steps.import_file(obj.config, file, progress, workers)
    name = files.shown(file)
    repaired = f"{result.repaired} repaired, " if result.repaired else ""
    _echo(
        f"imported {name}: {result.inserted} new, {result.updated} changed, "
        f"{result.unchanged} unchanged, {repaired}{len(result.rejected)} rejected"
    )
    for line_number, reason in result.rejected[:20]:
        _echo_item(f"line {line_number}: {reason}", err=True)
    if result.rejected:
        raise _error(f"{len(result.rejected)} lines of {name} were rejected")


@main.command()
@click.argument("query")
@click.option("--limit", type=LIMIT, default=20, show_default=True)
@click.option("--tag", "tags", multiple=True, help="Only documents with this tag (repeatable).")
@click.option("--sub-tag", "sub_tags", multiple=True, help="Only with this sub-tag (repeatable).")
@click.option("--agency", "agencies", multiple=True, help="Agency name or slug (repeatable).")
@click.option("--type", "types", multiple=True, help="Document type: Rule, Proposed Rule, Notice…")
@click.option("--source", "sources", multiple=True, help="Source, e.g. federal_register.")
@click.option("--eccn", "eccns", multiple=True, help="ECCN cited; 3A090 also finds 3A090.a.")
@click.option("--cfr", "cfrs", multiple=True, help="CFR cited: 15:744 (part) or 15:744.23.")
@click.option("--country", "countries", multiple=True, help="Country named in the document.")
@click.option("--since", type=DATE, help="Published on or after this date.")
@click.option("--until", type=DATE, help="Published on or before this date.")
@click.option("--open-for-comment", is_flag=True, help="Only documents still open for comment.")
@click.option("--sort", type=click.Choice(["relevance", "newest"]), help="Default: relevance.")
@click.option("--facets", is_flag=True, help="Also count results by tag, agency, type, year…")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "csv", "xlsx", "parquet"]),
    default="table",
    show_default=True,
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write csv or json to, instead of printing it (xlsx and parquet need one).",
)
@pass_context
def search(
    obj: Context,
    query: str,
    since,
    until,
    output_format: str,
    output: Path | None,
    **options: Any,
) -> None:
    """Search the archive: words ANDed, "quoted phrases", prefix* (4+ letters), -exclusions.

    QUERY may be empty ('') when a filter is given, or @NAME for a saved search ([searches.NAME]).

    Example: regwatch search '"entity list" advanced comput*' --limit 5
             regwatch search '' --eccn 3A090 --type rule --since 2024-01-01 --format xlsx
             --output rules.xlsx
    """
    from regwatch.export import write_file

    if output_format in ("xlsx", "parquet") and output is None:
        raise click.UsageError(f"--format {output_format} needs --output FILE")
    if output_format == "table" and output is not None:
        raise click.UsageError("--output FILE needs --format csv, json, xlsx or parquet")
    if options["facets"] and output_format not in ("table", "json"):
        raise click.UsageError("--facets works with --format table or json")
    with _errors():
        target = None if output is None else steps.output_target(obj.config, output)
        request = steps.search_request(
            obj.config, query, since=_iso(since), until=_iso(until), **options
        )
        result = steps.search(obj.config, request)
        if result.index_problem:
            _echo(result.index_problem, err=True)
        for note in result.notes:  # they quote the user's filter values: long ones are cut
            _echo(shorten(note, ERROR_WIDTH), err=True)
        hits = [asdict(hit) for hit in result.hits]
        if output_format == "table":
            _print_table(hits)
            _print_facets(result.facets)
        elif output_format in ("xlsx", "parquet"):
            write_file(hits, target, output_format)
        elif target is None:
            _write_hits(hits, result, request.facets, output_format, sys.stdout)
        else:
            with replacing(target, encoding="utf-8") as out:
                _write_hits(hits, result, request.facets, output_format, out)
        if output is not None:
            _echo(f"wrote {len(hits)} of {result.total} results to {output}")


def _write_hits(
    hits: list[dict[str, Any]],
    result: steps.SearchResult,
    facets: bool,
    output_format: str,
    out: TextIO,
) -> None:
    """The hits as CSV, or as JSON (with `facets`: the total and the facets around them)."""
    from regwatch.export import write_csv

    if output_format == "csv":
        write_csv(hits, out)
    else:
        shown = {"total": result.total, "hits": hits, "facets": result.facets}
        out.write(json_text(shown if facets else hits, indent=2) + "\n")


@main.command()
@click.argument("document")
@click.option("--source", help="Source holding DOCUMENT (only needed if several do).")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
@pass_context
def show(obj: Context, document: str, source: str | None, output_format: str) -> None:
    """Show one document: metadata, tags with evidence, entities, dates, versions, related.

    Example: regwatch show 2023-23055 --format json
    """
    from regwatch.showtext import damaged_line, document_lines

    with _errors():
        found = steps.show(obj.config, document, source)
    if output_format == "json":
        click.echo(json_text(found, indent=2))
    else:
        for line in document_lines(found):
            _echo(line)
    if damaged := damaged_line(found):
        raise _error(damaged)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@pass_context
def serve(obj: Context, host: str, port: int) -> None:
    """Serve the read-only web pages, JSON API and Atom feeds (localhost unless --host).

    Example: regwatch serve --port 8080
    """
    _echo(f"regwatch serving {obj.config.home} on http://{host}:{port}/ (Ctrl-C stops)", err=True)
    with _errors():
        steps.serve(obj.config, host, port)


@main.command()
@pass_context
def reindex(obj: Context) -> None:
    """Rebuild the search index from the SQLite archive.

    Example: regwatch reindex
    """
    with _errors(), _progress("reindexing") as progress:
        count = steps.reindex(obj.config, progress)
    click.echo(f"reindexed {count} documents")


@main.command()
@pass_context
def status(obj: Context) -> None:
    """Show documents per source, last crawls, watermarks, sizes and the index against SQLite.

    Example: regwatch status
    """
    with _errors():
        report = steps.status(obj.config)
    _echo(f"archive: {obj.config.home}")
    scheduled = _scheduler_status_lines(obj.config, report)
    lines = [
        *_status_lines(report, steps.source_names(), scheduled),
        *_ledger_lines(report.ledger),
    ]
    for line in [*lines, *_alert_status_lines(report.alerts)]:
        _echo(line)
    sent, owed = report.last_digests, steps.digest_owed(obj.config, report)
    for name in dict.fromkeys([e["name"] for e in obj.config["digest.lists"]] + list(sent)):
        last = sent.get(name)
        _echo(
            f"digest list {name}: last sent {last.period_start} to {last.period_end} on "
            f"{last.sent_at} ({last.items} items){_maybe(last.maybe)}{_owed(owed.get(name))}"
            if last
            else f"digest list {name}: never sent"
        )
    for send in report.damaged_digests:
        _echo(
            f"digest list {send.list_name}: {send.period_start} to {send.period_end} sent on "
            f"{send.sent_at}: its recipients cannot be read (damaged or hand-edited), so the "
            "list may get that digest again"
        )


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
            done = steps.tag_file(obj.config, input_path, output_path)
        _echo(f"tagged {done.tagged} documents into {output_path}")
        for line_number, reason in done.rejected[:SHOWN]:
            _echo_item(f"line {line_number}: {reason}", err=True)
        if done.rejected:
            raise _error(f"{len(done.rejected)} lines of {input_path} were rejected")
        return
    with (
        _errors(),
        _locked(obj.config, "regwatch tag", create=False),
        _progress("tagging") as progress,
    ):
        result = steps.tag(obj.config, retag=retag, progress=progress)
    counts = ", ".join(f"{name} {n}" for name, n in sorted(result.counts.items())) or "no tags"
    click.echo(f"tagged {result.tagged} documents with model {result.model_version}: {counts}")
    _echo_rematch(result.rematch)
    _echo_screening(result.screening_hits)
    _fail_on_tag_failures(result)


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
@BASE_URL
@click.option("--since", type=DATE, help="First publication date to crawl.")
@click.option("--until", type=DATE, help="Last publication date to crawl.")
@pass_context
def run(obj: Context, base_url: str | None, since, until) -> None:
    """Run the whole pipeline once: crawl, tag, digest, alert delivery.

    Example: regwatch run --base-url http://127.0.0.1:8400/api/v1/
    """
    with (
        _errors(),
        _locked(obj.config, "regwatch run"),
        _progress("crawl → tag → digest → alert") as progress,
    ):
        result = steps.run(
            obj.config, base_url=base_url, since=_iso(since), until=_iso(until), progress=progress
        )
    for crawled in result.crawls:
        _echo_crawl(crawled)
    tagged = result.tag
    click.echo(f"tagged {tagged.tagged} documents with model {tagged.model_version}")
    for fetched in result.fulltext:
        _echo_crawl(fetched)
    click.echo(f"tagged {result.retag.tagged} documents again after reading their full text")
    _echo_rematch(tagged.rematch)
    _echo_screening(tagged.screening_hits)
    _echo_digest(result.digest)
    _echo_alerts(result.alert)
    if result.failed_crawls:
        first = result.failed_crawls[0]
        raise _error(f"crawl of {first.source} failed: {first.error}")
    _fail_on_undelivered(result.alert.delivery)
    _fail_on_unwritten(result.digest)
    _fail_on_unwritten(result.alert)
    _fail_on_tag_failures(tagged)
    _fail_on_tag_failures(result.retag)


@main.command()
@click.option("--week", help="ISO week to cover, e.g. 2026-W47 (Monday to Sunday).")
@click.option("--until", type=DATE, help="Last day covered (default: newest stored publication).")
@click.option("--days", type=click.IntRange(1, 366), help="Days covered (default: digest.days).")
@click.option("--send", is_flag=True, help="E-mail each list's digest ([mail], [[digest.lists]]).")
@click.option("--list", "list_name", help="Only this recipient list.")
@click.option("--force", is_flag=True, help="With --send: send again a period already sent.")
@pass_context
def digest(
    obj: Context,
    week: str | None,
    until,
    days: int | None,
    send: bool,
    list_name: str | None,
    force: bool,
) -> None:
    """Write the digest of a period (HTML, text, Markdown); with --send, e-mail it once per list.

    Example: regwatch digest --week 2023-W43 --send
    """
    with _errors():
        result = steps.digest(
            obj.config,
            week=week,
            until=_iso(until),
            days=days,
            send=send,
            list_name=list_name,
            force=force,
        )
    _echo_digest(result)
    if result.failed:
        first = result.failed[0]
        fate = "may not have been sent" if first.status == "maybe sent" else "not sent"
        raise click.ClickException(f"digest for list {first.list_name} {fate}: {first.detail}")
    _fail_on_unwritten(result)


@main.command()
@click.option("--dry-run", is_flag=True, help="Print the pending messages; send and write nothing.")
@click.option(
    "--backfill-days",
    type=click.IntRange(1, 3660),
    help="First queue alerts for documents stored in the last N days (before the route existed).",
)
@click.option(
    "--retry-failed",
    is_flag=True,
    help="First give the alerts that failed for good (attempts used up) their attempts back.",
)
@pass_context
def alert(obj: Context, dry_run: bool, backfill_days: int | None, retry_failed: bool) -> None:
    """Deliver pending chat alerts (with retries and backoff), then write the feeds.

    Example: regwatch alert --dry-run
    """
    with _errors():
        result = steps.alert(
            obj.config, dry_run=dry_run, backfill_days=backfill_days, retry_failed=retry_failed
        )
    for route, text in result.delivery.messages:
        _echo(f"--- {route}\n{text}")
    if dry_run:
        _echo(f"dry run: {len(result.delivery.messages)} pending alerts, nothing sent")
        return
    _echo_alerts(result)
    _fail_on_undelivered(result.delivery)
    _fail_on_unwritten(result)


@main.command()
@click.option("--show", is_flag=True, help="Print the watch-list and recent hits (the default).")
@click.option("--rematch", is_flag=True, help="Match the last watch.rematch_days days again now.")
@click.option("--alert", is_flag=True, help="With --rematch: alert routes with watch = true.")
@click.option("--limit", type=LIMIT, default=20, show_default=True)
@pass_context
def watch(obj: Context, show: bool, rematch: bool, alert: bool, limit: int) -> None:
    """Print the watch-list and its newest hits; --rematch matches recent documents again.

    Example: regwatch watch --rematch
    """
    if alert and not rematch:
        raise click.UsageError("--alert goes with --rematch")
    with _errors():
        if rematch:
            _echo_rematch(steps.rematch(obj.config, alert=alert), always=True)
            if not show:
                return
        shown = steps.watch(obj.config, limit=limit)
    state = "in use" if shown.in_use else "not yet matched: the next tag or run re-matches"
    size = f"{len(shown.items)} items, threshold {shown.threshold}"
    _echo(f"watch-list {shown.fingerprint} ({state}), {size}:")
    for entry in shown.items:
        note = f" - {entry.note}" if entry.note else ""
        _echo(f"  {entry.kind} {entry.label}{note}  [{entry.origin}]")
    _echo(f"newest hits ({len(shown.hits)}):" if shown.hits else "no hits yet")
    for hit in shown.hits:
        _echo_item(
            f"{hit['publication_date']} {hit['source_id']} {hit['kind']} {hit['item']}: "
            f"“{hit['quote']}” ({hit['field']})"
        )


@main.command(name="replay-server")
@click.argument(
    "directory", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option("--port", type=click.IntRange(0, 65535), default=8400, show_default=True)
@click.option("--scenario", help="A scenario of federal_register/scenarios/ (e.g. synthetic-demo).")
def replay_server(directory: Path | None, port: int, scenario: str | None) -> None:
    """Serve recorded source responses on 127.0.0.1 (offline demo and tests).

    DIRECTORY defaults to the recordings shipped with regwatch.

    Example: regwatch replay-server --port 8400 --scenario synthetic-demo
    """
    with _errors():
        steps.serve_replay(directory, port, scenario)


@main.command()
@click.option("--show", is_flag=True, help="Print each job's next three run times, then exit.")
@pass_context
def schedule(obj: Context, show: bool) -> None:
    """Run the pipeline, the weekly digest and retries on the configured schedule (foreground).

    SIGTERM or Ctrl-C lets the running step finish (a crawl is stopped and recorded) and exits 0.

    Example: regwatch schedule --show
    """
    import scheduler

    if not show:
        with _errors():
            scheduler.main(obj.config)
        return
    with _errors():
        timetable = scheduler.next_runs(obj.config, datetime.now(UTC))
    for job_id, times in timetable.items():
        click.echo(f"{job_id}: " + ", ".join(t.isoformat() for t in times))


def _echo_crawl(result: Any) -> None:
    state = "ok" if result.ok else "FAILED"
    _echo(f"crawled {result.source} {result.since} to {result.until}: {result.summary()} ({state})")


def _echo_screening(hits: list[tuple[str, list[str]]]) -> None:
    """Screening-list changes that touch the watch-list (each alerted on its own)."""
    if hits:
        _echo(f"screening-list changes touching the watch-list: {len(hits)}")
    for party, items in hits[:SHOWN]:
        _echo_item(f"{party}: {'; '.join(items)}")
    if len(hits) > SHOWN:
        _echo(f"  … and {len(hits) - SHOWN} more")


def _echo_rematch(result: Any, always: bool = False) -> None:
    """What a re-match against the watch-list found newly (printed when it ran)."""
    if result is None:
        return
    if not always:
        _echo("watch-list changed since the last run: recent documents matched again")
    _echo(
        f"re-matched {result.checked} documents of the last {result.days} days: "
        f"{len(result.newly)} newly touch the watch-list, {result.alerts} alerts queued"
    )
    for label, title, items in result.newly[:SHOWN]:
        _echo_item(f"{label} {title}: {'; '.join(items)}")
    if len(result.newly) > SHOWN:
        _echo(f"  … and {len(result.newly) - SHOWN} more (regwatch watch)")


def _fail_on_tag_failures(result: Any) -> None:
    """Name the first documents the tagger failed on and exit 1 (the others were stored)."""
    if not result.failed:
        return
    for label, reason in result.failed[:SHOWN]:
        _echo_item(f"{label}: {reason}", err=True)
    raise _error(f"{len(result.failed)} failed to tag (recorded; the next tag or run retries them)")


def _echo_digest(result: Any) -> None:
    for entry in result.lists:
        warning = "; MAY BE INCOMPLETE" if entry.incomplete else ""
        _echo(
            f"digest {entry.label} ({entry.start} to {entry.end}) for list {entry.list_name}: "
            f"{entry.total} publications, {entry.listed} on AI or export control "
            f"({entry.late} late), {entry.changes} changed, {entry.untagged} without a primary "
            f"tag{_parties(entry.parties)}{warning}"
        )
        if entry.status == "sent":
            _echo(f"sent to list {entry.list_name}")
        elif entry.status.startswith("already"):
            maybe = _maybe(entry.status == "already maybe sent")
            _echo(
                f"list {entry.list_name} was sent this period on {entry.detail}{maybe}; "
                "not sent again (--force sends it again)"
            )
        if entry.paths:  # none when they could not be written (`result.unwritten`)
            paths = entry.paths
            _echo(f"text and Markdown beside it: {paths['txt'].name}, {paths['md'].name}")
            _echo(f"digest written to {paths['html'].resolve()}")
    if result.feeds:
        _echo(f"feeds written to {result.feeds[0].parent.resolve()}")


def _maybe(maybe: bool) -> str:
    """What a digest send the mail server never answered adds to the line about it."""
    return ", MAYBE NOT DELIVERED: the mail server never answered it" if maybe else ""


def _parties(count: int) -> str:
    if not count:
        return ""
    return f", {count} screening-list part{'y' if count == 1 else 'ies'} touching the watch-list"


def _echo_alerts(result: Any) -> None:
    done = result.delivery
    if result.backfilled:
        _echo(f"queued {result.backfilled} older alerts (backfill)")
    if result.retried:
        _echo(f"gave {result.retried} failed alerts their attempts back")
    _echo(
        f"alerts: {done.sent} sent, {done.retrying} to retry, {done.failed} failed, "
        f"{done.maybe} maybe delivered, {done.deferred} waiting for their route"
    )
    if result.feeds:
        _echo(f"feeds written to {result.feeds[0].parent.resolve()}")


def _fail_on_undelivered(done: Any) -> None:
    """Exit 1 when alerts need a person: failed for good (attempts used up) or maybe delivered
    (no answer in time). Alerts to retry do not: the next run sends them."""
    if done.failed or done.maybe:
        raise _error(
            f"{done.failed} alerts failed for good, {done.maybe} maybe delivered "
            "(`regwatch status` shows them per route; `regwatch alert --retry-failed` sends "
            "the failed ones again)"
        )


def _owed(recipients: list[str] | None) -> str:
    """`; NOT yet to …` for a list whose newest period some recipient has not got (refused)."""
    if not recipients:
        return ""
    return f"; NOT yet to {', '.join(recipients)} (the next `digest --send` of it retries)"


def _fail_on_unwritten(result: Any) -> None:
    """Exit 1 naming the files a digest or an alert run could not write (its mail and alerts
    went out first: they never wait on a file)."""
    if not result.unwritten:
        return
    if isinstance(result, steps.AlertResult):
        what = "the feeds were"
    elif any(entry.status == "sent" for entry in result.lists):
        what = "the digest was e-mailed, but its files were"
    else:
        what = "the digest files were"
    raise _error(f"{what} not written: {result.unwritten}")


def _ledger_lines(ledger: dict[str, list[Any]]) -> Iterator[str]:
    """Per source, its newest days in the crawl ledger: listed against held, short days marked."""
    for source, days in ledger.items():
        yield f"crawl ledger of {source}, {days[0].day} to {days[-1].day} (listed / held):"
        for day in days:
            if day.listed is None:
                yield f"  {day.day}  not confirmed by a completed crawl / {day.held}"
                continue
            mark = f"  SHORT by {day.listed - day.held}" if day.short else ""
            yield f"  {day.day}  {day.listed} / {day.held}{mark}"


def _alert_status_lines(counts: dict[str, Any]) -> Iterator[str]:
    if counts:
        yield "alerts:"
    for route, c in counts.items():
        last = f", last sent {c.last_sent_at}" if c.last_sent_at else ""
        yield (
            f"  {route}: {c.pending} pending, {c.failed} failed, {c.maybe} maybe delivered, "
            f"{c.sent} sent{last}"
        )


def _scheduler_status_lines(config: Config, report: Any) -> Iterator[str]:
    """The scheduler's heartbeat, each job's last and next run, and the open incidents."""
    import scheduler

    beat = report.heartbeat
    yield (
        f"scheduler: last heartbeat {beat.beat_at} (pid {beat.pid}, running since "
        f"{beat.started_at})"
        if beat
        else "scheduler: never ran"
    )
    with _errors():
        upcoming = scheduler.next_runs(config, datetime.now(UTC), 1)
    for job_id, times in upcoming.items():
        run = report.last_jobs.get(job_id)
        if run is None:
            last = "never"
        elif run.ok is None:
            last = f"{run.started_at} (unfinished)"
        else:
            last = f"{run.started_at} ({'ok' if run.ok else 'FAILED'}: {run.summary})"
        following = times[0].isoformat() if times else "never"
        yield f"  job {job_id}: last run {one_line(last)}; next run {following}"
    for incident in report.open_incidents:  # its detail may quote a source's multi-line error
        yield one_line(
            f"incident open since {incident.opened_at}: {incident.source}: {incident.detail}"
        )


def _status_lines(report: Any, registered: list[str], scheduled: Iterator[str]) -> Iterator[str]:
    """Documents and sources, then the `scheduled` lines, then sizes, index and tag failures."""
    seen = set(report.documents) | set(report.last_crawl) | set(report.watermarks)
    sources = sorted(seen | set(registered))
    total = sum(report.documents.values())
    yield f"documents: {total} ({report.tagged} tagged, {report.tags_stale} with stale tags)"
    for source in sources:
        crawl = report.last_crawl.get(source)
        last = f"{crawl.finished_at} ({'ok' if crawl.ok else 'failed'})" if crawl else "never"
        held = report.holdings.get(source) or {"documents": report.documents.get(source, 0)}
        yield (
            f"  {source}: {', '.join(f'{n} {what}' for what, n in held.items())}, "
            f"last crawl {last}, watermark {report.watermarks.get(source, 'none')}"
        )
    bodies = report.bodies
    yield (
        f"full texts: {bodies['pending']} pending, {bodies['fetched']} fetched, "
        f"{bodies['failed']} failed (retried by the next run)"
    )
    yield from scheduled
    yield f"database: {_size(report.database_bytes)}, index: {_size(report.index_bytes)}"
    index = report.index
    if index.usable:
        indexed = f"{index.index_documents} documents as of change {index.index_last_change}"
    else:
        indexed = "unusable" if index.problem else "none yet"
    yield (
        f"search index: {indexed}; database: {index.database_documents} documents as of change "
        f"{index.database_last_change}"
    )
    yield index.problem or "search index and database agree"
    if report.tag_failures:
        yield f"tagging failed on {report.tag_failures} documents (retried by the next tag or run):"
        for failure in report.first_tag_failures:
            yield (
                f"  {failure.source} {failure.source_id}: {failure.reason} "
                f"({failure.failed_at}, model {failure.model_version})"
            )
    if report.damaged:
        yield (
            f"{report.damaged} documents hold a stored value that cannot be read (damaged or "
            "hand-edited; `regwatch show` names it): importing or crawling the document again "
            "repairs it, `regwatch tag` its tag result; else restore regwatch.db from a backup"
        )
        for source, source_id in report.first_damaged:
            yield f"  {source} {source_id}"


def _size(count: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"


def _print_table(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    if not rows:
        click.echo("no matches")
        return
    table = Table("date", "document", "tags", "title and matching text", show_lines=True)
    for row in rows:
        parts = re.split(r"(</?b>)", plain_text(row["snippet"]))
        snippet = "".join(_MARKUP.get(part) or _cell(html.unescape(part)) for part in parts)
        related = "".join(f"\n[dim]related:[/dim] {_cell(_related(r))}" for r in row["related"])
        table.add_row(
            _cell(row["publication_date"]),
            _cell(row["source_id"]),
            _cell("\n".join(row["tags"])),
            f"[bold]{_cell(one_line(row['title']))}[/bold]\n{snippet}{related}",
        )
    _console().print(table)


def _related(link: dict[str, Any]) -> str:
    """`bis https://www.bis.gov/press-release/… (2024-02-26): <title>`."""
    return one_line(
        f"{link['source']} {link['source_id']} ({link['publication_date']}): {link['title']}"
    )


def _cell(text: str) -> str:
    from rich.markup import escape

    return escape(plain_text(text))


def _print_facets(facets: dict[str, list[tuple[str, int]]]) -> None:
    from rich.table import Table

    for name, counts in facets.items():
        if counts:
            table = Table(name.replace("_", "-"), "documents")
            for value, count in counts[:FACETS_SHOWN]:
                table.add_row(_cell(value), str(count))
            _console().print(table)


def _console() -> Any:
    """A Rich console for tables, at least `TABLE_WIDTH` wide: a tiny or zero width (`COLUMNS=0`
    in the environment) printed empty cells, so results seemed absent."""
    from rich.console import Console

    console = Console()
    return console if console.width >= TABLE_WIDTH else Console(width=TABLE_WIDTH)


_MARKUP = {"<b>": "[bold yellow]", "</b>": "[/bold yellow]"}

if __name__ == "__main__":
    main()
