"""Digest periods: an ISO week, N days ending on a date, or the last complete week.

Enters: `2026-W47`, or an end date and a number of days, or "now" and a time zone.
Leaves: `Period(start, end, label)` with ISO dates (both days included) and a label used in file
names and subjects (`2026-W47`, or `2025-01-10-to-2025-01-16`); a malformed week raises
`ValueError` with one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

WEEK = re.compile(r"^([0-9]{4})-W([0-9]{2})$")  # ASCII: `\d` took ٢٠٢٦ into file names


@dataclass(frozen=True)
class Period:
    """Days `start`..`end` (ISO dates, inclusive) and their label."""

    start: str
    end: str
    label: str

    def weeks_back(self, weeks: int) -> str:
        """The Monday `weeks` ISO weeks before the week holding `end`."""
        last = date.fromisoformat(self.end)
        return (last - timedelta(days=last.weekday() + 7 * weeks)).isoformat()

    def after(self, days: int) -> str:
        """The date `days` days after `end`."""
        return (date.fromisoformat(self.end) + timedelta(days=days)).isoformat()


def iso_week(text: str) -> Period:
    """The ISO week `YYYY-Www`, Monday to Sunday."""
    match = WEEK.match(text.strip())
    try:
        if not match:
            raise ValueError
        monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise ValueError(f"week must be an ISO week such as 2026-W47, got {text!r}") from None
    return Period(monday.isoformat(), (monday + timedelta(days=6)).isoformat(), text.strip())


def days_ending(until: str, days: int) -> Period:
    """`days` days ending on `until`; labelled as an ISO week when it is exactly one."""
    end = date.fromisoformat(until)
    start = end - timedelta(days=days - 1)
    if days == 7 and start.weekday() == 0:
        return iso_week(f"{start.isocalendar().year}-W{start.isocalendar().week:02d}")
    return Period(start.isoformat(), end.isoformat(), f"{start}-to-{end}")


def last_complete_week(timezone: str, now: datetime | None = None) -> Period:
    """The newest Monday-to-Sunday week that has ended in `timezone`."""
    today = (now or datetime.now(ZoneInfo(timezone))).astimezone(ZoneInfo(timezone)).date()
    monday = today - timedelta(days=today.weekday() + 7)
    year, week, _ = monday.isocalendar()
    return iso_week(f"{year}-W{week:02d}")
