"""The crawl step: one source, one date range, into the archive, in a child process.

Enters: `crawl(home, source=, since=, until=, base_url=, contact=, overlap_days=, settings=)`.
`since` defaults to the stored watermark minus `overlap_days` (first crawl: `first_crawl_days`
before `until`, from `sources.json`); `until` defaults to today.
Leaves: a `CrawlResult` (range, requests, inserted/updated/unchanged/repaired, dropped, error,
watermark).
The base URL must be an http(s) URL (`ValueError` otherwise). Twisted's reactor cannot restart in
one process, so each crawl runs `python -m crawlers.run --job FILE --result FILE --parent PID`
(`crawlers.child`: it never outlives this process); the job file (in a private temporary folder,
so a base URL's credentials stay off the process list) holds the crawl's arguments, and the child
runs Scrapy and writes the result as JSON. Every crawl that fails, however it fails (archive locked
or full, child crashed or killed, timeout, Ctrl-C, SIGTERM), ends with a failed `crawl_log` entry:
the child's pipeline writes it, or else this process does; if even that fails, the result's error
says so. Log lines the child emits have URL credentials redacted (`crawlers.urls`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

from archive.records import iso_date
from crawlers.child import run_child, stop_on_signals, watch_parent
from crawlers.outcome import ERRORS, EXTRA, LOGGED, OK, STORED, WATERMARK
from crawlers.sources import DEFAULT_SOURCE, source_spec
from crawlers.urls import check_base_url, redact, redact_logs

ROOT = Path(__file__).resolve().parents[1]
PROJECT_URL_FALLBACK = "https://example.invalid/regwatch"


@dataclass(slots=True)
class CrawlResult:
    """What one crawl did; `ok` is False if anything failed (the watermark then stays put)."""

    source: str
    ok: bool
    since: str
    until: str
    requests: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    repaired: int = 0  # unchanged documents whose damaged stored lists or raw were written again
    dropped: int = 0
    withdrawn: int = 0  # public-inspection filings found withdrawn
    bodies: int = 0  # full texts read
    bodies_failed: int = 0  # full texts that could not be read (asked again next time)
    error: str | None = None
    watermark: str | None = None
    logged: bool = False  # the crawl log holds this crawl

    def summary(self) -> str:
        """What the crawl stored, in words (`regwatch crawl` and the scheduler's job log): its
        documents, with those repaired and withdrawn when any, or its full texts."""
        if self.bodies or self.bodies_failed:
            retried = " (retried by the next run)" if self.bodies_failed else ""
            return f"{self.bodies} full texts read, {self.bodies_failed} failed{retried}"
        done = f"{self.inserted} new, {self.updated} changed, {self.unchanged} unchanged"
        extra = (("repaired", self.repaired), ("withdrawn", self.withdrawn))
        return done + "".join(f", {n} {name}" for name, n in extra if n)


def crawl(
    home: Path,
    *,
    source: str = DEFAULT_SOURCE,
    since: str | None = None,
    until: str | None = None,
    base_url: str | None = None,
    contact: str,
    overlap_days: int = 3,
    settings: dict[str, Any] | None = None,
    today: date | None = None,
    timeout: float | None = None,
) -> CrawlResult:
    """Crawl `source` for publication dates `since`..`until` into the archive in `home`."""
    spec = source_spec(source)
    if not contact.strip():
        raise ValueError("a contact (e-mail or URL) is required: it goes in the User-Agent")
    base_url = check_base_url(base_url or spec["base_url"])
    mark = read_watermark(home, source)  # also fails early, in this process, on a bad archive
    first, last = crawl_window(source, since, until, mark, overlap_days, today or date.today())
    job = {
        "home": str(Path(home).resolve()),
        "source": source,
        "since": first,
        "until": last,
        "base_url": base_url,
        "contact": contact,
        "overrides": settings or {},
    }
    started = _now()
    with tempfile.TemporaryDirectory(prefix="regwatch-crawl-") as tmp:
        job_file, out = Path(tmp) / "job.json", Path(tmp) / "result.json"
        job_file.write_text(json.dumps(job), encoding="utf-8")
        args = [sys.executable, "-m", "crawlers.run", "--job", str(job_file), "--result", str(out)]
        args += ["--parent", str(os.getpid())]
        try:
            code = run_child(args, cwd=ROOT, env=_child_env(), timeout=timeout)
        except subprocess.TimeoutExpired:
            result = outcome(out, job, "the crawl was stopped")
            result.ok, result.error = False, f"the crawl took longer than {timeout:g} s"
        except BaseException:  # Ctrl-C, SIGTERM: record the crawl, then let the interruption on
            record_failed(home, outcome(out, job, "the crawl was interrupted"), started)
            raise
        else:
            result = outcome(out, job, f"the crawl process exited with status {code}")
        return record_failed(home, result, started)


def outcome(out: Path, job: dict[str, Any], problem: str) -> CrawlResult:
    """The child's result, or a failed one saying `problem` if it wrote none."""
    try:
        return CrawlResult(**json.loads(out.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        error = f"{problem} without a result (see its log)"
        return CrawlResult(job["source"], False, job["since"], job["until"], error=error)


def record_failed(home: Path, result: CrawlResult, started: str) -> CrawlResult:
    """Make sure the crawl log holds `result`: write it here if the child could not."""
    from archive import Archive, ArchiveError

    if result.logged:
        return result
    stats = {
        "since": result.since,
        "until": result.until,
        "finish_reason": "recorded by the parent process",
        "requests": result.requests,
        "dropped": result.dropped,
        "errors": [result.error],
        **{name: getattr(result, name) for name in STORED},
        **{name: getattr(result, name) for name in EXTRA if getattr(result, name)},
    }
    try:
        with Archive.open(home) as archive:
            archive.log_crawl(
                result.source, started_at=started, finished_at=_now(), ok=result.ok, stats=stats
            )
        result.logged = True
    except (ArchiveError, OSError) as exc:
        result.error = f"{result.error}; recording it in the crawl log failed too: {exc}"
    return result


def _child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), _pythonpath()]))}


def _pythonpath() -> str:
    return os.environ.get("PYTHONPATH", "")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def crawl_window(
    source: str,
    since: str | None,
    until: str | None,
    mark: str | None,
    overlap_days: int,
    today: date,
) -> tuple[str, str]:
    """The ISO date range to crawl given the stored watermark `mark`; `ValueError` if malformed."""
    last = _date(until, "until") if until else today
    if last > today:
        raise ValueError(f"until {last} is after today ({today}): nothing is published yet")
    if since:
        first = _date(since, "since")
    else:
        lookback = overlap_days if mark else source_spec(source)["first_crawl_days"]
        first = (_date(mark[:10], "watermark") if mark else last) - timedelta(days=lookback)
    if first > last:
        raise ValueError(f"since {first} is after until {last}")
    return first.isoformat(), last.isoformat()


def _date(value: str, name: str) -> date:
    day = iso_date(value)
    if day is None:
        raise ValueError(f"{name} must be a date YYYY-MM-DD, got {value!r}")
    return day


def read_watermark(home: Path, source: str) -> str | None:
    """The stored watermark of `source` (None before the first successful crawl)."""
    from archive import Archive

    with Archive.open(home, readonly=True) as archive:
        return archive.watermark(source)


def user_agent(contact: str) -> str:
    """`regwatch/<version> (+<project url>; <contact>)`."""
    try:
        meta = metadata.metadata("regwatch")
        version = meta["Version"]
        urls = [u.split(",", 1)[-1].strip() for u in meta.get_all("Project-URL") or []]
    except metadata.PackageNotFoundError:
        version, urls = "0+unknown", []
    return f"regwatch/{version} (+{(urls or [PROJECT_URL_FALLBACK])[0]}; {contact})"


def run_in_process(
    home: Path,
    source: str,
    since: str,
    until: str,
    base_url: str,
    contact: str,
    overrides: dict[str, Any],
    result_path: Path,
) -> CrawlResult:
    """Run the Scrapy crawl here (once per process) and read its outcome from the stats.

    A crawl stopped by a signal while a request hangs is logged, then this process writes its
    result to `result_path` and exits at once.
    """
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    spec = source_spec(source)
    settings = Settings()
    settings.setmodule("crawlers.settings", priority="project")
    settings.update(
        {
            "REGWATCH_HOME": str(home),
            "REGWATCH_SOURCE": source,
            "REGWATCH_BASE_URL": base_url,
            "USER_AGENT": user_agent(contact),
            **overrides,
        },
        priority="cmdline",
    )
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(spec["spider"])
    process.crawl(crawler, since=since, until=until)

    def abandon() -> None:
        stats = crawler.stats.get_stats()
        write_result(result_path, result_from_stats(source, since, until, stats))
        os._exit(1)

    stop_on_signals(crawler, abandon)
    process.start(install_signal_handlers=False)
    return result_from_stats(source, since, until, crawler.stats.get_stats())


def result_from_stats(source: str, since: str, until: str, stats: dict[str, Any]) -> CrawlResult:
    """Summarise a finished crawl's stats."""
    ok = bool(stats.get(OK))
    return CrawlResult(
        source=source,
        ok=ok,
        since=since,
        until=until,
        requests=stats.get("downloader/request_count", 0),
        dropped=stats.get("item_dropped_count", 0),
        error=None if ok else _error(stats),
        watermark=stats.get(WATERMARK),
        logged=bool(stats.get(LOGGED)),
        **{name: stats.get(f"regwatch/{name}", 0) for name in (*STORED, *EXTRA)},
    )


def _error(stats: dict[str, Any]) -> str:
    messages = stats.get(ERRORS) or []
    if not messages and "finish_reason" not in stats:
        return "the crawl did not run to its end (see its log)"
    if not messages:
        return f"crawl ended with reason {stats['finish_reason']!r}"
    more = f" (and {len(messages) - 1} more)" if len(messages) > 1 else ""
    return f"{messages[0]}{more}"


def main(argv: list[str] | None = None) -> int:
    """Child-process entry point: crawl, write the result JSON, exit 0 if it succeeded."""
    parser = argparse.ArgumentParser(prog="python -m crawlers.run", description=__doc__)
    parser.add_argument("--job", required=True, help="JSON file of `run_in_process` arguments")
    parser.add_argument("--result", required=True, help="where to write the CrawlResult JSON")
    parser.add_argument("--parent", required=True, type=int, help="pid this process dies with")
    args = parser.parse_args(argv)
    watch_parent(args.parent)
    redact_logs()
    job = json.loads(Path(args.job).read_text(encoding="utf-8"))
    try:
        result = run_in_process(**job, result_path=Path(args.result))
    except Exception as exc:  # still one line and a result; the parent records the crawl
        error = f"the crawl process failed: {type(exc).__name__}: {redact(str(exc))}"
        result = CrawlResult(job["source"], False, job["since"], job["until"], error=error)
    write_result(Path(args.result), result)
    return 0 if result.ok else 1


def write_result(path: Path, result: CrawlResult) -> None:
    """Write the result JSON whole or not at all."""
    partial = path.with_name(f"{path.name}.partial")
    partial.write_text(json.dumps(asdict(result)), encoding="utf-8")
    partial.replace(path)


if __name__ == "__main__":
    sys.exit(main())
