"""Feeds a user subscribes to: an Atom feed per alert route and one calendar of key dates.

Enters: an open `archive.Archive` (read only), the route names, an output folder and the first
day the calendar covers.
Leaves: `<dir>/<route>.atom` (feedgen; one entry per document the route was alerted about, its
newest alert, id `tag:…:<route>/<source>/<document>` so an update replaces the entry) and
`<dir>/dates.ics` (icalendar; one all-day event per comment deadline, effective or compliance
date, UID `<document>-<kind>@regwatch`, SEQUENCE the document's version, so a calendar client
updates an event instead of adding a second one), each replaced whole (`outfiles.replace_file`).
Titles are one plain line (`one_line`), the entry's HTML plain text (the digest environment's
`template_value`), whatever the source sent. Output is deterministic: every timestamp comes from
the archive, never from the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from feedgen.feed import FeedGenerator
from icalendar import Calendar, Event

from digests.chat import DATE_LABELS, change_label
from digests.render import render_template
from regwatch.inert import markdown_url, one_line
from regwatch.outfiles import replace_file

FEED_ID = "tag:regwatch.invalid,2026:alerts/"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CALENDAR = "dates.ics"


def write_feeds(archive: Any, routes: Sequence[str], out_dir: Path, since: date) -> list[Path]:
    """Write every route's Atom feed and the calendar; return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for route in routes:
        path = out_dir / f"{route}.atom"
        replace_file(path, atom(route, archive.feed_entries(route)))
        paths.append(path)
    path = out_dir / CALENDAR
    replace_file(path, calendar(archive.upcoming_dates(since.isoformat())))
    return [*paths, path]


def atom(route: str, entries: Sequence[dict[str, Any]]) -> bytes:
    """The Atom document of one route's alerts (entries newest first)."""
    feed = FeedGenerator()
    feed.id(FEED_ID + quote(route))
    feed.title(f"regwatch alerts: {route}")
    feed.author({"name": "regwatch"})
    feed.updated(max((_time(e["queued_at"]) for e in entries), default=EPOCH))
    for entry in entries:
        item = feed.add_entry(order="append")
        item.id(
            f"{FEED_ID}{quote(route)}/{quote(entry['source'])}/{quote(entry['document_number'])}"
        )
        label = change_label(entry)
        item.title(one_line(f"{label}: {entry['title']}" if label else entry["title"]))
        item.updated(_time(entry["queued_at"]))
        url = markdown_url(entry.get("url"))
        if url:
            item.link(href=url)
        item.content(
            render_template("alert.html", entry=entry, label=label, labels=DATE_LABELS), type="html"
        )
    return feed.atom_str(pretty=True)


def calendar(events: Sequence[dict[str, Any]]) -> bytes:
    """The iCalendar document of key dates (all-day events)."""
    cal = Calendar.new(prodid="-//regwatch//key dates//EN", uid="regwatch-key-dates")
    for event in events:
        day = date.fromisoformat(event["date"])
        label = DATE_LABELS[event["kind"]].capitalize()
        item = Event.new(
            uid=f"{event['document_number']}-{event['kind']}@regwatch",
            start=day,
            end=day + timedelta(days=1) if day < date.max else None,  # an all-day DTSTART alone
            # lasts one day (RFC 5545 3.6.1): 9999-12-31 has no next day
            summary=one_line(f"{label}: {event['title']}"),
            stamp=_time(event["updated_at"]),
        )
        item.add("sequence", event["version"])
        url = markdown_url(event.get("url"))
        if url:
            item.add("url", url)
            item.add("description", url)
        cal.add_component(item)
    return cal.to_ical()


def _time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp).astimezone(UTC)
