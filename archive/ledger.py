"""The crawl ledger: per source and publication day, how many documents the source listed.

Enters: from the crawler's pipeline, a source's per-day listed counts for a date slice it read
completely (`record_listed`), with the time they were read; from readers, a date range.
Leaves: rows in `crawl_ledger` (one per source and day, the newest reading wins), and per-day
comparisons of listed against held (documents the archive stores with that publication date):
`listed_between` for a digest period, `recent` (the newest `RECENT_DAYS` days per source) for
`regwatch status`. A day with no row was never confirmed by a completed crawl: it may be an outage;
a row with `listed = 0` is a quiet day.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from archive.db import transaction
from archive.records import iso_date

RECENT_DAYS = 7


@dataclass(frozen=True, slots=True)
class LedgerDay:
    """One source's day: what the source listed (None: never confirmed) and what is held."""

    day: str
    listed: int | None
    held: int
    checked_at: str | None

    @property
    def short(self) -> bool:
        """The archive holds fewer documents than the source listed for the day."""
        return self.listed is not None and self.held < self.listed


def record_listed(
    conn: sqlite3.Connection, source: str, listed: Mapping[str, int], checked_at: str
) -> int:
    """Record the listed count of each day (ISO date → whole number ≥ 0); returns rows written."""
    rows = []
    for day, count in listed.items():
        if iso_date(day) is None:
            raise ValueError(f"{source} ledger: {day!r} is not an ISO date")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError(f"{source} ledger: {day}: listed count {count!r} is not a count")
        rows.append((source, day, count, checked_at))
    with transaction(conn):
        conn.executemany(
            "INSERT INTO crawl_ledger (source, day, listed, checked_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (source, day) DO UPDATE SET listed = excluded.listed, "
            "checked_at = excluded.checked_at",
            rows,
        )
    return len(rows)


def listed_between(conn: sqlite3.Connection, start: str, end: str) -> dict[str, dict[str, int]]:
    """Per source, the listed count of each confirmed day in [start, end]."""
    found: dict[str, dict[str, int]] = {}
    for source, day, listed in conn.execute(
        "SELECT source, day, listed FROM crawl_ledger WHERE day BETWEEN ? AND ?", (start, end)
    ):
        found.setdefault(source, {})[day] = listed
    return found


def held_between(conn: sqlite3.Connection, start: str, end: str) -> dict[str, dict[str, int]]:
    """Per source, how many stored documents each publication day in [start, end] has."""
    found: dict[str, dict[str, int]] = {}
    for source, day, count in conn.execute(
        "SELECT source, publication_date, COUNT(*) FROM publications "
        "WHERE publication_date BETWEEN ? AND ? GROUP BY source, publication_date",
        (start, end),
    ):
        found.setdefault(source, {})[day] = count
    return found


def recent(conn: sqlite3.Connection, days: int = RECENT_DAYS) -> dict[str, list[LedgerDay]]:
    """Per source with a ledger, its `days` days ending on its newest confirmed day."""
    found = {}
    newest = conn.execute("SELECT source, MAX(day) FROM crawl_ledger GROUP BY source ORDER BY 1")
    for source, last in newest.fetchall():
        first = (date.fromisoformat(last) - timedelta(days=days - 1)).isoformat()
        rows = {
            day: (listed, checked)
            for day, listed, checked in conn.execute(
                "SELECT day, listed, checked_at FROM crawl_ledger "
                "WHERE source = ? AND day BETWEEN ? AND ?",
                (source, first, last),
            )
        }
        held = held_between(conn, first, last).get(source, {})
        found[source] = []
        for day in days_between(first, last):
            listed, checked = rows.get(day, (None, None))
            found[source].append(LedgerDay(day, listed, held.get(day, 0), checked))
    return found


def days_between(start: str, end: str) -> list[str]:
    """Every ISO day from `start` to `end` inclusive."""
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
