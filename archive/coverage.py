"""Source health for a digest period: what the crawl log, the watermarks and the archive say.

Enters: an open connection and a period (`start`, `end`, ISO dates). Leaves: one `SourceCoverage`
per source known to the archive (stored documents, crawl log or watermark): its newest crawl, its
newest successful crawl, its watermark, the failed crawls started within the period, and how many
documents the archive holds for each day of the period (`held`) against how many the source listed
for it according to the crawl ledger (`listed`; None for a day no completed crawl confirmed).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from archive.ledger import days_between, held_between, listed_between
from archive.query import check_dates
from archive.status import CrawlRun

CRAWL = "SELECT started_at, finished_at, ok, stats FROM crawl_log WHERE source = ?"


@dataclass(frozen=True, slots=True)
class SourceCoverage:
    """One source over one period."""

    source: str
    documents: int
    last_crawl: CrawlRun | None
    last_ok: CrawlRun | None
    watermark: str | None
    failed_in_period: list[CrawlRun]
    held: dict[str, int]  # every day of the period → documents stored with that publication date
    listed: dict[str, int | None]  # every day of the period → what the source listed (ledger)


def coverage(conn: sqlite3.Connection, start: str, end: str) -> list[SourceCoverage]:
    """Coverage of every known source over [start, end], by source name."""
    check_dates(start, end)
    documents = dict(conn.execute("SELECT source, COUNT(*) FROM publications GROUP BY source"))
    watermarks = dict(conn.execute("SELECT source, value FROM watermarks"))
    crawled = {row[0] for row in conn.execute("SELECT DISTINCT source FROM crawl_log")}
    held = held_between(conn, start, end)
    listed = listed_between(conn, start, end)
    days = days_between(start, end)
    return [
        SourceCoverage(
            source=source,
            documents=documents.get(source, 0),
            last_crawl=_crawl(conn, f"{CRAWL} ORDER BY id DESC LIMIT 1", (source,)),
            last_ok=_crawl(conn, f"{CRAWL} AND ok = 1 ORDER BY id DESC LIMIT 1", (source,)),
            watermark=watermarks.get(source),
            failed_in_period=_crawls(
                conn,
                f"{CRAWL} AND ok = 0 AND substr(started_at, 1, 10) BETWEEN ? AND ? ORDER BY id",
                (source, start, end),
            ),
            held={day: held.get(source, {}).get(day, 0) for day in days},
            listed={day: listed.get(source, {}).get(day) for day in days},
        )
        for source in sorted(set(documents) | set(watermarks) | crawled)
    ]


def _crawl(conn: sqlite3.Connection, sql: str, args: tuple) -> CrawlRun | None:
    found = _crawls(conn, sql, args)
    return found[0] if found else None


def _crawls(conn: sqlite3.Connection, sql: str, args: tuple) -> list[CrawlRun]:
    return [
        CrawlRun(started, finished, bool(ok), json.loads(stats))
        for started, finished, ok, stats in conn.execute(sql, args)
    ]
