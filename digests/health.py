"""Source health and coverage for a digest: the rows of its table and the reasons for its banner.

Enters: the archive's `SourceCoverage` per source and the digest `Period`.
Leaves: `Health`: one `SourceRow` per source (newest crawl, newest successful crawl, watermark, lag
behind the period's end, failed crawls within the period), one `DayRow` per day of the period (per
source, the documents the archive holds against those the source listed according to the crawl
ledger; None for a day no completed crawl confirmed), `reasons`: each one line, and any reason
(a failed crawl, a lagging watermark, a day held short of its listed count, a day of the period
never confirmed by a crawl) makes the digest say "this digest may be incomplete", and
`incidents`: the scheduler's open source incidents (a silent or failing source), one line each,
which also make it incomplete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from digests.period import Period
from regwatch.inert import one_line


@dataclass(frozen=True)
class SourceRow:
    source: str
    documents: int
    last_crawl: str
    last_ok: str
    watermark: str
    lag_days: int | None
    failed_in_period: int


@dataclass(frozen=True)
class DayRow:
    day: str
    held: dict[str, int]
    listed: dict[str, int | None]  # None: no completed crawl confirmed the day

    def shown(self, source: str) -> str:
        """The listed cell: the count, "–" if never confirmed."""
        listed = self.listed[source]
        return "–" if listed is None else str(listed)

    def short(self, source: str) -> bool:
        """The archive holds fewer documents than the source listed for the day."""
        listed = self.listed[source]
        return listed is not None and self.held[source] < listed


@dataclass(frozen=True)
class Health:
    sources: list[SourceRow]
    days: list[DayRow]
    reasons: list[str]
    incidents: list[str]

    @property
    def incomplete(self) -> bool:
        return bool(self.reasons or self.incidents)


def health(coverage: list[Any], period: Period, incidents: Sequence[Any] = ()) -> Health:
    """Summarise the archive's coverage of `period` and the open `incidents`."""
    rows, reasons = [], []
    for cov in coverage:
        lag = _lag(cov.watermark, period.end)
        rows.append(
            SourceRow(
                source=cov.source,
                documents=cov.documents,
                last_crawl=_crawl_text(cov.last_crawl),
                last_ok=cov.last_ok.finished_at if cov.last_ok else "never",
                watermark=cov.watermark or "none",
                lag_days=lag,
                failed_in_period=len(cov.failed_in_period),
            )
        )
        reasons.extend(_reasons(cov, lag, period))
    days = [
        DayRow(
            day,
            {cov.source: cov.held.get(day, 0) for cov in coverage},
            {cov.source: cov.listed.get(day) for cov in coverage},
        )
        for day in sorted({day for cov in coverage for day in cov.held})
    ]
    opened = [one_line(f"{i.source}: {i.detail} (open since {i.opened_at})") for i in incidents]
    return Health(rows, days, reasons, opened)


def _reasons(cov: Any, lag: int | None, period: Period) -> list[str]:
    found = []
    if cov.last_crawl is None:
        found.append(f"{cov.source}: no crawl recorded, so its coverage is unknown")
    elif not cov.last_crawl.ok:
        found.append(f"{cov.source}: the newest crawl failed ({cov.last_crawl.finished_at})")
    if cov.failed_in_period:
        count = len(cov.failed_in_period)
        found.append(
            f"{cov.source}: {count} crawl{'s' if count > 1 else ''} failed between "
            f"{period.start} and {period.end}"
        )
    if cov.last_crawl is not None and lag is None:
        found.append(f"{cov.source}: no watermark, nothing was crawled completely")
    elif lag:
        found.append(
            f"{cov.source}: crawled completely only up to {cov.watermark}, "
            f"{lag} day{'s' if lag > 1 else ''} before the period ends"
        )
    if cov.last_crawl is not None:
        found.extend(_ledger_reasons(cov))
    return found


def _ledger_reasons(cov: Any) -> list[str]:
    """A day held short of its listed count; the days no completed crawl confirmed."""
    found = [
        f"{cov.source}: {day} holds {held} of the {cov.listed[day]} documents the source listed"
        for day, held in cov.held.items()
        if cov.listed.get(day) is not None and held < cov.listed[day]
    ]
    unconfirmed = [day for day in cov.held if cov.listed.get(day) is None and cov.keeps_ledger]
    if unconfirmed:
        count = len(unconfirmed)
        found.append(
            f"{cov.source}: {count} day{'s' if count > 1 else ''} never confirmed by a completed "
            f"crawl ({_spans(unconfirmed)})"
        )
    return found


def _spans(days: list[str]) -> str:
    """Sorted ISO days as runs: `2026-11-20..2026-11-22, 2026-11-24`."""
    runs: list[list[date]] = []
    for day in map(date.fromisoformat, sorted(days)):
        if runs and (day - runs[-1][-1]).days == 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(
        run[0].isoformat() if len(run) == 1 else f"{run[0].isoformat()}..{run[-1].isoformat()}"
        for run in runs
    )


def _lag(watermark: str | None, end: str) -> int | None:
    if watermark is None:
        return None
    return max(0, (date.fromisoformat(end) - date.fromisoformat(watermark[:10])).days)


def _crawl_text(run: Any) -> str:
    if run is None:
        return "never"
    return f"{run.finished_at} ({'ok' if run.ok else 'failed'})"
