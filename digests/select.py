"""Which documents a digest holds, for one recipient list and one period.

Enters: an open `archive.Archive` (read only), a `Period`, the list's name and tag filter.
Leaves: `Digest`: the period's tagged publications not yet sent to the list in another period's
digest (each with its screening-list joins and EAR section changes, `Archive.rule_context`), plus
late ones (published before the period, stored after the list's first digest, never sent); those
touching the watch-list first (`watch`: tagged or not, most watched items first, with their hits;
`parties`: the screening-list parties matched against the watch-list in the period),
the others grouped into the sections AI × export control, export control, AI; changes to documents
the list was already sent; the rulemakings (by RIN, else docket) with an event in the period and
a document carrying one of the list's tags, each with its timeline; upcoming dates in the 30 days
after the period; the period's counts (the untagged are counted, not listed); source health;
counts by tag and agency for this and the previous weeks; `sent_items`, what a sent digest
records; and `identity`, the text its e-mail's Message-ID derives from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from digests.counts import CountsTable, counts
from digests.health import Health, health
from digests.items import DATE_SLOTS, PRIMARY, Item, PartyItem, item, party_item
from digests.period import Period
from digests.rulemakings import Moved, moved

UPCOMING_DAYS = 30
UPCOMING_LOOKBACK_DAYS = 365  # deadlines are announced within a year of publication
PREVIOUS_WEEKS = 3
SECTIONS = (
    ("AI × export control", frozenset(PRIMARY)),
    ("Export control", frozenset({"export_control"})),
    ("AI", frozenset({"ai"})),
)
UPCOMING_SLOTS = ("comments_close_on", "effective_on", "compliance_on")
DEFAULT_LIST = "default"


@dataclass(frozen=True)
class Section:
    title: str
    items: list[Item]


@dataclass(frozen=True)
class Upcoming:
    day: str
    what: str
    item: Item


@dataclass(frozen=True)
class Digest:
    """Everything one digest shows."""

    list_name: str
    period: Period
    watch: list[Item]
    sections: list[Section]
    changes: list[Item]
    upcoming: list[Upcoming]
    counts: dict[str, int]
    health: Health
    by_tag: CountsTable
    by_agency: CountsTable
    rulemakings: Moved = field(default_factory=Moved)  # rulemakings with an event in the period
    parties: list[PartyItem] = field(default_factory=list)  # screening-list parties watched
    sent_late: bool = False  # sent by the scheduler after its time (it was not running then)

    @property
    def items(self) -> list[Item]:
        return [*self.watch, *(entry for section in self.sections for entry in section.items)]

    @property
    def late(self) -> int:
        return sum(entry.late for entry in self.items)

    @property
    def untagged(self) -> int:
        """Publications of the period with no primary tag (counted, not listed)."""
        return self.counts["total"] - self.counts["primary"]

    @property
    def tagged(self) -> bool:
        """False when no publication of the period has been tagged yet."""
        return self.counts["tagged"] > 0 or not self.counts["total"]

    @property
    def subject(self) -> str:
        touching = len(self.watch) + len(self.parties)
        parts = [f"{touching} touching your watch-list"] if touching else []
        parts.append(f"{len(self.items) - len(self.watch)} on AI or export control")
        if self.late:
            parts.append(f"{self.late} late")
        if self.changes:
            parts.append(f"{len(self.changes)} changed")
        warning = " (may be incomplete)" if self.health.incomplete else ""
        late = " (sent late)" if self.sent_late else ""
        return f"regwatch digest {self.period.label}: {', '.join(parts)}{warning}{late}"

    @property
    def identity(self) -> str:
        """What the digest reports, as text: its list, period, documents (with versions) and
        screening-list parties; the same when it is sent again, different once corrected."""
        parties = [(p.title, p.day) for p in self.parties]
        return json.dumps(
            [self.list_name, self.period.start, self.period.end, self.sent_items, parties]
        )

    @property
    def sent_items(self) -> list[tuple[int, int, str]]:
        """(publication id, version, kind) for the digest log."""
        listed = [(e.id, e.version, "late" if e.late else "new") for e in self.items]
        return listed + [(e.id, e.version, "change") for e in self.changes]


def build_digest(
    archive: Any,
    period: Period,
    *,
    list_name: str = DEFAULT_LIST,
    tags: tuple[str, ...] | list[str] = (),
) -> Digest:
    """Select the digest of `period` for the list `list_name` (filtered to `tags` if given)."""
    wanted = list(tags) or list(PRIMARY)
    pubs = archive.digest_items(
        list_name, period.start, period.end, wanted, archive.first_digest_at(list_name)
    )
    hits = archive.watch_hits([pub["id"] for pub in pubs])
    found = [item(_in_context(archive, {**pub, "watch_hits": hits.get(pub["id"])})) for pub in pubs]
    watched = sorted((e for e in found if e.watch), key=lambda e: -len({w.item for w in e.watch}))
    found = [entry for entry in found if entry.primary and not entry.watch]
    first_week = period.weeks_back(PREVIOUS_WEEKS)
    by_tag, by_agency = counts(
        archive.tag_agency_rows(first_week, period.end, list(PRIMARY)),
        _weeks(first_week, period.end),
    )
    return Digest(
        list_name=list_name,
        period=period,
        watch=watched,
        parties=[party_item(p) for p in archive.screening_watch_hits(period.start, period.end)],
        sections=[
            Section(title, [entry for entry in found if entry.primary == wanted_tags])
            for title, wanted_tags in SECTIONS
        ],
        changes=[
            item(_in_context(archive, pub))
            for pub in archive.digest_changes(list_name, period.start, period.end)
        ],
        upcoming=_upcoming(archive, period, wanted),
        rulemakings=moved(
            archive.rulemakings_moved(period.start, period.end, wanted, period.end), period
        ),
        counts=archive.period_counts(period.start, period.end, list(PRIMARY), wanted),
        health=health(archive.coverage(period.start, period.end), period, archive.open_incidents()),
        by_tag=by_tag,
        by_agency=by_agency,
    )


def _in_context(archive: Any, pub: dict[str, Any]) -> dict[str, Any]:
    """The publication with its screening-list joins and EAR section changes."""
    return {**pub, **archive.rule_context(pub["id"])}


def _upcoming(archive: Any, period: Period, tags: list[str]) -> list[Upcoming]:
    since = (date.fromisoformat(period.end) - timedelta(days=UPCOMING_LOOKBACK_DAYS)).isoformat()
    until = period.after(UPCOMING_DAYS)
    rows = []
    for pub in archive.upcoming(since, period.end, until, tags):
        entry = item(pub)
        for slot, value in (pub.get("tag_dates") or {}).items():
            if slot in UPCOMING_SLOTS and isinstance(value, str) and period.end < value <= until:
                rows.append(Upcoming(value, DATE_SLOTS[slot], entry))
    return sorted(rows, key=lambda row: (row.day, row.item.title))


def _weeks(first_monday: str, end: str) -> list[str]:
    day, last, weeks = date.fromisoformat(first_monday), date.fromisoformat(end), []
    while day <= last:
        year, week, _ = day.isocalendar()
        weeks.append(f"{year}-W{week:02d}")
        day += timedelta(days=7)
    return weeks
