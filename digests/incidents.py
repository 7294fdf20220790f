"""Loud when something may be missed: which sources are in trouble, and telling the ops routes.

Enters: each source's crawl history (`archive.CrawlRecord`), "now", the schedule's time zone and
the limits (`health.max_silence_hours`, counted on publication days only — weekdays that are not
US federal holidays (the `holidays` package, observed days included) — and
`health.max_failed_crawls`); for delivery, an open `archive.Archive`, the ops routes' Apprise URLs
and the alert `Policy`.
Leaves: `problems(...)`, `{(source, kind): detail}` with kind `silence` (no successful crawl for
too long) or `failures` (the newest N crawls all failed); `notify(...)`, which sends each
incident opening and clearing not yet sent to each ops route (one message each, text made inert,
an e-mail's Subject `subject_line`; a route that fails is not tried again in the same call),
records the ones delivered and returns (sent, failed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from digests.alerts import Policy, send_text
from digests.chat import inert
from regwatch.inert import one_line

NOTICE_DAYS = 7  # an incident event not delivered within this many days is no longer news
PUBLICATION_DAYS = range(5)  # Monday to Friday: the Federal Register publishes on weekdays…
FEDERAL_HOLIDAYS = holidays.US()  # …except federal holidays (observed days included)
KIND_TEXT = {"silence": "no successful crawl", "failures": "failing crawls"}


def problems(
    records: Sequence[Any],
    now: datetime,
    timezone: str,
    max_silence_hours: float,
    max_failed: int,
) -> dict[tuple[str, str], str]:
    """The problems found in the sources' crawl histories at `now`."""
    found = {}
    for record in records:
        since = _time(record.last_ok or record.first_started)
        hours = publication_hours(since, now, ZoneInfo(timezone))
        if hours >= max_silence_hours:
            last = (
                f"last success {record.last_ok}"
                if record.last_ok
                else f"never succeeded since the first crawl {record.first_started}"
            )
            found[(record.source, "silence")] = (
                f"no successful crawl for {hours:.0f} hours of publication days ({last})"
            )
        newest = record.recent[:max_failed]
        if len(newest) == max_failed and not any(ok for ok, _ in newest):
            error = next((error for _, error in newest if error), "no error recorded")
            found[(record.source, "failures")] = (
                f"the last {max_failed} crawls failed (newest error: {error})"
            )
    return found


def publication_hours(start: datetime, end: datetime, zone: ZoneInfo) -> float:
    """Hours between `start` and `end` that fall on a publication day in `zone`."""
    total = timedelta()
    moment = start.astimezone(zone)
    end = end.astimezone(zone)
    while moment < end:
        midnight = datetime.combine(moment.date() + timedelta(days=1), datetime.min.time(), zone)
        stop = min(midnight, end)
        if publication_day(moment.date()):
            total += stop.astimezone(UTC) - moment.astimezone(UTC)  # right across DST
        moment = stop
    return total.total_seconds() / 3600


def publication_day(day: date) -> bool:
    """Does the Federal Register publish on `day` (a weekday, not a federal holiday)?"""
    return day.weekday() in PUBLICATION_DAYS and day not in FEDERAL_HOLIDAYS


def message(incident: Any, event: str) -> str:
    """The ops message for an incident's opening or clearing (one short paragraph, inert)."""
    source, detail = inert(incident.source), inert(incident.detail)
    if event == "opened":
        return (
            f"regwatch: {source}: {detail}. Publications may be missed until it recovers "
            f"(incident opened {incident.opened_at})."
        )
    return (
        f"regwatch: {source} recovered: {KIND_TEXT[incident.kind]} cleared at "
        f"{incident.closed_at} (opened {incident.opened_at}: {detail})."
    )


def subject_line(incident: Any, event: str) -> str:
    """An ops e-mail's Subject: `regwatch: <source> failing` or `regwatch: <source> recovered`."""
    state = "failing" if event == "opened" else "recovered"
    return one_line(f"regwatch: {incident.source} {state}")


def notify(archive: Any, urls: Mapping[str, str], policy: Policy, now: datetime) -> tuple[int, int]:
    """Send every incident event the ops routes in `urls` were not told of; (sent, failed).

    A route that fails once is not tried again in the same call (its other events count as
    failed, for the next call): each try of a route that is down waits out its timeout.
    """
    sent = failed = 0
    down: set[str] = set()
    for notice in archive.unsent_notices(list(urls), now - timedelta(days=NOTICE_DAYS)):
        if notice.route in down:
            failed += 1
            continue
        key = f"regwatch-incident-{notice.incident.id}-{notice.event}"
        text = message(notice.incident, notice.event)
        line = subject_line(notice.incident, notice.event)
        outcome, _ = send_text(urls[notice.route], text, key, policy, line)
        if outcome == "failed":  # a "maybe" (sent, answer lost) counts as told: never twice
            failed += 1
            down.add(notice.route)
            continue
        archive.notice_sent([notice], now)
        sent += 1
    return sent, failed


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
