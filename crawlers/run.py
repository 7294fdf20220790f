"""The crawl step: one source, one date range, into the archive, in a child process.

Enters: `crawl(home, source=, since=, until=, base_url=, contact=, overlap_days=, settings=)`.
`since` defaults to the stored watermark minus `overlap_days` (first crawl: `first_crawl_days`
before `until`, from `sources.json`); `until` defaults to today.
Leaves: a `CrawlResult` (range, requests, inserted/updated/unchanged, dropped, error, watermark).
Twisted's reactor cannot restart in one process, so each crawl runs
`python -m crawlers.run --result FILE …`; that child runs Scrapy and writes the result as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

from archive.records import iso_date
from crawlers.outcome import ERRORS, OK, STORED, WATERMARK
from crawlers.sources import DEFAULT_SOURCE, source_spec

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
    dropped: int = 0
    error: str | None = None
    watermark: str | None = None


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
    source_spec(source)
    if not contact.strip():
        raise ValueError("a contact (e-mail or URL) is required: it goes in the User-Agent")
    mark = read_watermark(home, source)  # also fails early, in this process, on a bad archive
    first, last = crawl_window(source, since, until, mark, overlap_days, today or date.today())
    with tempfile.TemporaryDirectory(prefix="regwatch-crawl-") as tmp:
        out = Path(tmp) / "result.json"
        args = _child_args(home, source, first, last, base_url, contact, settings or {}, out)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), _pythonpath()])),
        }
        code = subprocess.run(args, cwd=ROOT, env=env, timeout=timeout, check=False).returncode
        if out.is_file():
            return CrawlResult(**json.loads(out.read_text(encoding="utf-8")))
    error = f"crawl process exited with status {code} without a result (see its log)"
    return CrawlResult(source, False, first, last, error=error)


def _pythonpath() -> str:
    return os.environ.get("PYTHONPATH", "")


def _child_args(
    home: Path,
    source: str,
    since: str,
    until: str,
    base_url: str | None,
    contact: str,
    settings: dict[str, Any],
    out: Path,
) -> list[str]:
    args = [sys.executable, "-m", "crawlers.run", "--home", str(Path(home).resolve())]
    args += ["--source", source, "--since", since, "--until", until, "--contact", contact]
    args += ["--settings", json.dumps(settings), "--result", str(out)]
    return args + (["--base-url", base_url] if base_url else [])


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

    with Archive.open(home) as archive:
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
    base_url: str | None,
    contact: str,
    overrides: dict[str, Any],
) -> CrawlResult:
    """Run the Scrapy crawl here (once per process) and read its outcome from the stats."""
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    spec = source_spec(source)
    settings = Settings()
    settings.setmodule("crawlers.settings", priority="project")
    settings.update(
        {
            "REGWATCH_HOME": str(home),
            "REGWATCH_SOURCE": source,
            "REGWATCH_BASE_URL": base_url or spec["base_url"],
            "USER_AGENT": user_agent(contact),
            **overrides,
        },
        priority="cmdline",
    )
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(spec["spider"])
    process.crawl(crawler, since=since, until=until)
    process.start()
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
        **{name: stats.get(f"regwatch/{name}", 0) for name in STORED},
    )


def _error(stats: dict[str, Any]) -> str:
    messages = stats.get(ERRORS) or []
    if "finish_reason" not in stats:
        return "the crawl did not run to its end (see its log)"
    if not messages:
        return f"crawl ended with reason {stats['finish_reason']!r}"
    more = f" (and {len(messages) - 1} more)" if len(messages) > 1 else ""
    return f"{messages[0]}{more}"


def main(argv: list[str] | None = None) -> int:
    """Child-process entry point: crawl, write the result JSON, exit 0 if it succeeded."""
    parser = argparse.ArgumentParser(prog="python -m crawlers.run", description=__doc__)
    for name in ("--home", "--source", "--since", "--until", "--contact", "--result"):
        parser.add_argument(name, required=True)
    parser.add_argument("--base-url")
    parser.add_argument("--settings", default="{}", help="JSON object of Scrapy setting overrides")
    args = parser.parse_args(argv)
    result = run_in_process(
        Path(args.home),
        args.source,
        args.since,
        args.until,
        args.base_url,
        args.contact,
        json.loads(args.settings),
    )
    Path(args.result).write_text(json.dumps(asdict(result)), encoding="utf-8")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
