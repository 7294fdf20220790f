"""Rulemakings that moved in a digest's period, the same for every format.

Enters: what `Archive.rulemakings_moved` returns (rulemakings grouped by RIN, else docket, each
with its timeline events) and the period. Leaves: `Moved`: `Rulemaking`s of plain, one-line
values, each event marked `in_period` (the events that made it move) or `upcoming` (after the
period), links only when http(s), and how many documents or rulemakings were left out. Nothing here
escapes: templates do, per format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from digests.period import Period
from regwatch.inert import http_url, one_line


@dataclass(frozen=True)
class Event:
    """One dated step of a rulemaking, naming its document."""

    day: str
    what: str
    source_id: str
    title: str
    url: str | None
    in_period: bool
    upcoming: bool


@dataclass(frozen=True)
class Rulemaking:
    """One rulemaking and its compact timeline."""

    key: str
    title: str
    events: list[Event]
    omitted: int
    complete: bool


@dataclass(frozen=True)
class Moved:
    """The digest section: rulemakings shown and how many more moved."""

    rulemakings: list[Rulemaking] = field(default_factory=list)
    omitted: int = 0


def moved(found: dict[str, Any], period: Period) -> Moved:
    """The section for `period` from the archive's rulemakings."""
    return Moved(
        [
            Rulemaking(
                key=one_line(r["key"]),
                title=one_line(r["title"]) or "(untitled)",
                events=[_event(e, period) for e in r["events"]],
                omitted=r["omitted"],
                complete=r["complete"],
            )
            for r in found["rulemakings"]
        ],
        found["omitted"],
    )


def _event(event: dict[str, Any], period: Period) -> Event:
    document = event["document"]
    return Event(
        day=event["date"],
        what=one_line(event["what"]),
        source_id=one_line(document["source_id"]),
        title=one_line(document["title"]) or "(untitled)",
        url=http_url(one_line(document["url"])),
        in_period=period.start <= event["date"] <= period.end,
        upcoming=event["upcoming"],
    )
