"""The digest's small table of counts: publications by tag and by agency, per ISO week.

Enters: `(publication_date, primary tags, agency names)` rows for the digest's weeks and the
previous ones. Leaves: `CountsTable` (week labels as columns, plain int rows) for `by tag`
(AI × export control, export control, AI, no primary tag) and `by agency` (the agencies with the
most tagged publications, each name on one line: `one_line`), built with pandas.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from regwatch.inert import one_line

TOP_AGENCIES = 8
TAG_ROWS = ("AI × export control", "export control", "AI", "no primary tag")


@dataclass(frozen=True)
class CountsTable:
    """Rows of counts under week columns."""

    weeks: list[str]
    rows: list[tuple[str, list[int]]]


def counts(
    rows: list[tuple[str, list[str], list[str]]], weeks: list[str]
) -> tuple[CountsTable, CountsTable]:
    """The by-tag and by-agency tables over `weeks` (labels like `2026-W47`, oldest first)."""
    frame = pd.DataFrame(
        [(day, tags, [one_line(name) for name in names]) for day, tags, names in rows],
        columns=["day", "tags", "agencies"],
    )
    iso = pd.to_datetime(frame["day"], format="%Y-%m-%d").dt.isocalendar()
    frame["week"] = iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)
    frame["group"] = [_group(tags) for tags in frame["tags"]]
    by_tag = _table(frame, "group", weeks, list(TAG_ROWS))
    tagged = frame[frame["group"] != TAG_ROWS[-1]].explode("agencies").dropna(subset=["agencies"])
    top = tagged["agencies"].value_counts().sort_index().sort_values(ascending=False, kind="stable")
    by_agency = _table(tagged, "agencies", weeks, list(top.index[:TOP_AGENCIES]))
    return by_tag, by_agency


def _table(frame: pd.DataFrame, column: str, weeks: list[str], order: list[str]) -> CountsTable:
    grid = (
        pd.crosstab(frame[column], frame["week"])
        .reindex(index=order, columns=weeks, fill_value=0)
        .fillna(0)
        .astype(int)
    )
    return CountsTable(weeks, [(str(name), grid.loc[name].tolist()) for name in grid.index])


def _group(tags: list[str]) -> str:
    present = set(tags)
    if {"ai", "export_control"} <= present:
        return TAG_ROWS[0]
    if "export_control" in present:
        return TAG_ROWS[1]
    return TAG_ROWS[2] if "ai" in present else TAG_ROWS[3]
