"""What the scheduler leaves in the archive: job runs, its heartbeat, source incidents, ops notices.

Enters: a job id and the times it started and finished (with `ok` and a one-line summary); the
scheduler's pid and the time of each beat; the problems a health check found, as
`{(source, kind): detail}` with kind `silence` or `failures`; the ops notices delivered.
Leaves: rows in `job_runs`, `scheduler_heartbeat` (one row), `incidents` (at most one open per
source and kind: a problem seen again stays the same incident) and `incident_notices` (which
route was told of which incident opening or clearing), and records read back: `JobRun`,
`Heartbeat`, `Incident`, `CrawlRecord` (a source's crawl history for the health check) and the
`Notice`s still to deliver. Times are stored as UTC ISO 8601 (`db.utc_now`'s format).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from archive.db import stamp, transaction

KINDS = ("silence", "failures")
EVENTS = ("opened", "cleared")


@dataclass(frozen=True, slots=True)
class JobRun:
    """One run of a scheduled job; `finished_at` and `ok` are None while it runs (or if killed)."""

    id: int
    job_id: str
    started_at: str
    finished_at: str | None
    ok: bool | None
    summary: str


@dataclass(frozen=True, slots=True)
class Heartbeat:
    pid: int
    started_at: str
    beat_at: str


@dataclass(frozen=True, slots=True)
class Incident:
    """A source problem from `opened_at` until `closed_at` (None while open)."""

    id: int
    source: str
    kind: str
    detail: str
    opened_at: str
    closed_at: str | None


@dataclass(frozen=True, slots=True)
class CrawlRecord:
    """A source's crawl history: first crawl start, newest success, newest crawls (newest first)."""

    source: str
    first_started: str
    last_ok: str | None
    recent: list[tuple[bool, str | None]]  # (ok, first error) of the newest crawls


@dataclass(frozen=True, slots=True)
class Notice:
    """An incident event a route has not been told about yet."""

    incident: Incident
    event: str
    route: str


def job_started(conn: sqlite3.Connection, job_id: str, at: datetime) -> int:
    """Record that `job_id` started; returns the run's id."""
    with transaction(conn):
        return conn.execute(
            "INSERT INTO job_runs (job_id, started_at) VALUES (?, ?) RETURNING id",
            (job_id, stamp(at)),
        ).fetchone()[0]


def job_finished(
    conn: sqlite3.Connection, run_id: int, at: datetime, ok: bool, summary: str
) -> None:
    """Record how run `run_id` ended."""
    with transaction(conn):
        conn.execute(
            "UPDATE job_runs SET finished_at = ?, ok = ?, summary = ? WHERE id = ?",
            (stamp(at), int(ok), summary, run_id),
        )


def last_runs(conn: sqlite3.Connection) -> dict[str, JobRun]:
    """The newest run of every job, by job id."""
    rows = conn.execute(
        "SELECT id, job_id, started_at, finished_at, ok, summary FROM job_runs "
        "WHERE id IN (SELECT MAX(id) FROM job_runs GROUP BY job_id) ORDER BY job_id"
    )
    return {row[1]: _run(row) for row in rows}


def beat(conn: sqlite3.Connection, pid: int, started_at: datetime, at: datetime) -> None:
    """Record that the scheduler `pid`, running since `started_at`, is alive at `at`."""
    with transaction(conn):
        conn.execute(
            "INSERT INTO scheduler_heartbeat (id, pid, started_at, beat_at) VALUES (1, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, started_at = excluded.started_at, "
            "beat_at = excluded.beat_at",
            (pid, stamp(started_at), stamp(at)),
        )


def heartbeat(conn: sqlite3.Connection) -> Heartbeat | None:
    """The scheduler's newest heartbeat, or None if it never ran."""
    row = conn.execute("SELECT pid, started_at, beat_at FROM scheduler_heartbeat").fetchone()
    return Heartbeat(*row) if row else None


def crawl_records(conn: sqlite3.Connection, recent: int) -> list[CrawlRecord]:
    """Every crawled source's history, with its `recent` newest crawls."""
    sources = conn.execute(
        "SELECT source, MIN(started_at), MAX(CASE WHEN ok THEN finished_at END) FROM crawl_log "
        "GROUP BY source ORDER BY source"
    ).fetchall()
    records = []
    for source, first, last_ok in sources:
        rows = conn.execute(
            "SELECT ok, stats FROM crawl_log WHERE source = ? ORDER BY id DESC LIMIT ?",
            (source, recent),
        )
        records.append(
            CrawlRecord(source, first, last_ok, [(bool(ok), _error(stats)) for ok, stats in rows])
        )
    return records


def open_incidents(conn: sqlite3.Connection) -> list[Incident]:
    """Incidents not cleared yet, oldest first."""
    return _incidents(conn, "WHERE closed_at IS NULL ORDER BY id", ())


def sync_incidents(
    conn: sqlite3.Connection, problems: Mapping[tuple[str, str], str], at: datetime
) -> tuple[list[Incident], list[Incident]]:
    """Open an incident for each new problem and clear each open one no longer found, in one
    transaction; returns (opened, cleared)."""
    bad = [kind for _, kind in problems if kind not in KINDS]
    if bad:
        raise ValueError(f"incident kind must be one of {', '.join(KINDS)}, got {bad[0]!r}")
    with transaction(conn):
        current = {(i.source, i.kind): i for i in open_incidents(conn)}
        opened = [
            conn.execute(
                "INSERT INTO incidents (source, kind, detail, opened_at) VALUES (?, ?, ?, ?) "
                "RETURNING id",
                (source, kind, detail, stamp(at)),
            ).fetchone()[0]
            for (source, kind), detail in problems.items()
            if (source, kind) not in current
        ]
        gone = [i.id for key, i in current.items() if key not in problems]
        conn.executemany(
            "UPDATE incidents SET closed_at = ? WHERE id = ?", [(stamp(at), i) for i in gone]
        )
        return _by_ids(conn, opened), _by_ids(conn, gone)


def unsent_notices(
    conn: sqlite3.Connection, routes: Sequence[str], since: datetime
) -> list[Notice]:
    """Incident events (an opening, a clearing) from `since` on that a route was not told of,
    oldest first."""
    found = []
    start = stamp(since)
    rows = _incidents(conn, "WHERE opened_at >= ? OR closed_at >= ? ORDER BY id", (start, start))
    sent = {
        tuple(row) for row in conn.execute("SELECT incident_id, route, event FROM incident_notices")
    }
    for incident in rows:
        for event, at in (("opened", incident.opened_at), ("cleared", incident.closed_at)):
            for route in routes:
                if at is not None and at >= start and (incident.id, route, event) not in sent:
                    found.append(Notice(incident, event, route))
    return found


def notice_sent(conn: sqlite3.Connection, notices: Sequence[Notice], at: datetime) -> None:
    """Record that these notices were delivered."""
    with transaction(conn):
        conn.executemany(
            "INSERT OR IGNORE INTO incident_notices (incident_id, route, event, sent_at) "
            "VALUES (?, ?, ?, ?)",
            [(n.incident.id, n.route, n.event, stamp(at)) for n in notices],
        )


def _incidents(conn: sqlite3.Connection, where: str, args: tuple) -> list[Incident]:
    rows = conn.execute(
        f"SELECT id, source, kind, detail, opened_at, closed_at FROM incidents {where}", args
    )
    return [Incident(*row) for row in rows]


def _by_ids(conn: sqlite3.Connection, ids: Sequence[int]) -> list[Incident]:
    marks = ", ".join("?" * len(ids))
    return _incidents(conn, f"WHERE id IN ({marks}) ORDER BY id", tuple(ids)) if ids else []


def _run(row: Sequence) -> JobRun:
    run_id, job_id, started, finished, ok, summary = row
    return JobRun(run_id, job_id, started, finished, None if ok is None else bool(ok), summary)


def _error(stats: str) -> str | None:
    try:
        errors = json.loads(stats).get("errors") or []
    except (ValueError, AttributeError):
        return None
    return str(errors[0]) if errors and errors[0] else None
