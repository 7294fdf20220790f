"""A summary of what the archive holds.

Enters: an open connection and the search index. Leaves: `ArchiveStatus` — documents per source
(and, for the sources stored in tables of their own, what they hold: screening records listed and
snapshots for `csl`, section changes for `ecfr`),
how many are tagged (and how many of those are stale), the last crawl of each source, watermarks,
database and index sizes on disk, the index compared with SQLite (`health.IndexHealth`, every index
file checked against its checksum), and
how many documents the tagger failed on (with the first `FAILURES_SHOWN` of them), how many hold
a cell that cannot be read (a list, the source record's frame or text, the tag result: damaged or
hand-edited, with the first `FAILURES_SHOWN`), the last
digest sent to each recipient list (and the sends whose recipients cannot be read), the alerts of
each route by state, the crawl ledger's newest days per source (listed against held), the full
texts pending, fetched and failed, and the scheduler's heartbeat, newest run of each job and open
source incidents.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.bodies import body_counts
from archive.digest_log import SentDigest, damaged_sends, last_sent, recipients_sent
from archive.health import IndexHealth, index_health
from archive.index import SearchIndex
from archive.ledger import LedgerDay, recent
from archive.outbox import RouteCounts, counts
from archive.rows import lists_readable, loaded, raw_readable
from archive.scheduling import Heartbeat, Incident, JobRun, heartbeat, last_runs, open_incidents
from archive.tagging import RESULT_READABLE, TAGS_STALE, TagFailureRow, tag_failures

FAILURES_SHOWN = 5
# Documents a stored cell of which cannot be read: a list that is not what regwatch writes there,
# a source record that is neither a zstd frame nor a JSON object, a tag result that is not JSON.
DAMAGED_SQL = (
    "SELECT p.source, p.source_id FROM publications p "
    f"LEFT JOIN tag_results t ON t.publication_id = p.id WHERE NOT ({lists_readable('p')} "
    f"AND {raw_readable('p')} AND {RESULT_READABLE}) ORDER BY p.id"
)


@dataclass(frozen=True, slots=True)
class CrawlRun:
    """One row of the crawl log."""

    started_at: str
    finished_at: str
    ok: bool
    stats: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ArchiveStatus:
    """What `regwatch status` shows."""

    documents: dict[str, int]
    holdings: dict[str, dict[str, int]]
    tagged: int
    tags_stale: int
    last_crawl: dict[str, CrawlRun]
    watermarks: dict[str, str]
    database_bytes: int
    index_bytes: int
    index: IndexHealth
    tag_failures: int
    first_tag_failures: list[TagFailureRow]
    damaged: int
    first_damaged: list[tuple[str, str]]
    last_digests: dict[str, SentDigest]
    # Per list, every recipient a send of its newest period reached (a refused one is retried).
    last_reached: dict[str, set[str]]
    damaged_digests: list[SentDigest]
    alerts: dict[str, RouteCounts]
    ledger: dict[str, list[LedgerDay]]
    bodies: dict[str, int]
    heartbeat: Heartbeat | None
    last_jobs: dict[str, JobRun]
    open_incidents: list[Incident]


def status(conn: sqlite3.Connection, index: SearchIndex, db_path: Path) -> ArchiveStatus:
    """Collect the archive's status in a handful of queries."""
    tagged, stale = conn.execute(
        f"SELECT COUNT(*), COALESCE(SUM({TAGS_STALE}), 0) "
        "FROM tag_results t JOIN publications p ON p.id = t.publication_id"
    ).fetchone()
    failed, first_failed = tag_failures(conn, FAILURES_SHOWN)
    damaged, first_damaged = _damaged(conn)
    return ArchiveStatus(
        documents=dict(conn.execute("SELECT source, COUNT(*) FROM publications GROUP BY source")),
        holdings=_holdings(conn),
        tagged=tagged,
        tags_stale=stale,
        last_crawl=_last_crawls(conn),
        watermarks=dict(conn.execute("SELECT source, value FROM watermarks ORDER BY source")),
        database_bytes=sum(
            p.stat().st_size for p in db_path.parent.glob(db_path.name + "*") if p.is_file()
        ),
        index_bytes=index.size_bytes(),
        index=index_health(conn, index, verify=True),
        tag_failures=failed,
        first_tag_failures=first_failed,
        damaged=damaged,
        first_damaged=first_damaged,
        last_digests=(newest := last_sent(conn)),
        last_reached={
            name: recipients_sent(conn, name, last.period_start, last.period_end)
            for name, last in newest.items()
        },
        damaged_digests=damaged_sends(conn),
        alerts=counts(conn),
        ledger=recent(conn),
        bodies=body_counts(conn),
        heartbeat=heartbeat(conn),
        last_jobs=last_runs(conn),
        open_incidents=open_incidents(conn),
    )


def _holdings(conn: sqlite3.Connection) -> dict[str, dict[str, int]]:
    listed, snapshots, changes = conn.execute(
        "SELECT (SELECT COUNT(*) FROM screening_records WHERE removed_snapshot IS NULL), "
        "(SELECT COUNT(*) FROM screening_snapshots), (SELECT COUNT(*) FROM ecfr_changes)"
    ).fetchone()
    return {
        "csl": {"screening records listed": listed, "snapshots": snapshots},
        "ecfr": {"EAR section changes": changes},
    }


def _damaged(conn: sqlite3.Connection) -> tuple[int, list[tuple[str, str]]]:
    """How many documents hold a JSON cell that cannot be read, and the first of them (one pass,
    holding no more than those)."""
    count, first = 0, []
    for row in conn.execute(DAMAGED_SQL):
        count += 1
        if len(first) < FAILURES_SHOWN:
            first.append(tuple(row))
    return count, first


def _last_crawls(conn: sqlite3.Connection) -> dict[str, CrawlRun]:
    rows = conn.execute(
        "SELECT source, started_at, finished_at, ok, stats FROM crawl_log "
        "WHERE id IN (SELECT MAX(id) FROM crawl_log GROUP BY source) ORDER BY source"
    )
    return {
        source: CrawlRun(started, finished, bool(ok), loaded(stats, dict) or {})
        for source, started, finished, ok, stats in rows
    }
