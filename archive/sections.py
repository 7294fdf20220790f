"""eCFR section changes: stored diffs of EAR sections, and their link to the amending rule.

Enters: `SectionChange` items from the `ecfr` spider (one section or appendix, its text before and
after one version date, the labelled paragraph changes and a unified diff); a publication id or a
change id for the links.
Leaves: rows in `ecfr_changes` (one per title, identifier and new version date: storing the same
change again writes nothing), a `StoreResult`, and the links, computed when read so that a rule
crawled after its eCFR change is still found: a change is linked to the Federal Register
publications whose effective date (the `effective_on` field, else the tagger's effective date,
else the publication date) is the change's `amendment_date` and whose CFR references
(`cfr_references`, or the tagger's extracted CFR citations) name its title and part. When several
publications qualify, those whose extracted citations name the section itself win. Candidates are
the publications of the year before to the month after the amendment date.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from archive.db import transaction, utc_now
from archive.rows import loaded, tag_result
from archive.store import StoreResult

FR_SOURCE = "federal_register"
# A rule is published up to a year before it takes effect, or (interim final rules) shortly after.
PUBLISHED_BEFORE_DAYS, PUBLISHED_AFTER_DAYS = 366, 31
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass(frozen=True, slots=True)
class SectionChange:
    """One eCFR version of a section or appendix against the text in force the day before.

    `changes` holds `{"label", "old", "new", "old_excerpt", "new_excerpt"}` per changed paragraph
    (`old` or `new` None for an added or removed paragraph); `label` is e.g. `§ 744.23(a)(2)`.
    """

    title: int
    part: str
    identifier: str
    kind: str
    name: str
    old_date: str
    new_date: str
    amendment_date: str
    issue_date: str
    substantive: bool
    removed: bool
    old_text: str
    new_text: str
    diff: str
    changes: list[dict[str, Any]] = field(default_factory=list)
    old_url: str | None = None
    new_url: str | None = None


COLUMNS = (
    "title",
    "part",
    "identifier",
    "kind",
    "name",
    "old_date",
    "new_date",
    "amendment_date",
    "issue_date",
    "substantive",
    "removed",
    "old_text",
    "new_text",
    "diff",
    "changes",
    "old_url",
    "new_url",
)


def store_changes(conn: sqlite3.Connection, changes: Sequence[SectionChange]) -> StoreResult:
    """Store section changes in one transaction; one already stored is left as it is."""
    rows = [
        tuple(
            _json(getattr(c, name)) if name == "changes" else getattr(c, name) for name in COLUMNS
        )
        for c in changes
    ]
    marks = ", ".join("?" * (len(COLUMNS) + 1))
    with transaction(conn):
        before = conn.total_changes
        conn.executemany(
            f"INSERT INTO ecfr_changes ({', '.join(COLUMNS)}, stored_at) VALUES ({marks}) "
            "ON CONFLICT (title, identifier, new_date) DO NOTHING",
            [(*row, utc_now()) for row in rows],
        )
        inserted = conn.total_changes - before
    return StoreResult(inserted=inserted, unchanged=len(rows) - inserted)


def change(conn: sqlite3.Connection, change_id: int) -> dict[str, Any] | None:
    """One stored change as a dict (`changes` decoded), or None."""
    row = conn.execute("SELECT * FROM ecfr_changes WHERE id = ?", (change_id,)).fetchone()
    return _change(row) if row else None


def amending_publications(conn: sqlite3.Connection, change_id: int) -> list[int]:
    """Ids of the Federal Register publications that made the change `change_id`, best first."""
    found = change(conn, change_id)
    if found is None:
        return []
    candidates = conn.execute(
        "SELECT p.id, p.publication_date, p.effective_on, p.cfr_references, t.result "
        "FROM publications p LEFT JOIN tag_results t ON t.publication_id = p.id "
        "WHERE p.source = ? AND p.publication_date BETWEEN ? AND ? ORDER BY p.id",
        (FR_SOURCE, *_window(found["amendment_date"])),
    )
    scored = [(score, row["id"]) for row in candidates if (score := _score(found, row))]
    best = max((score for score, _ in scored), default=0)
    return [pid for score, pid in scored if score == best]


def section_changes(conn: sqlite3.Connection, publication_id: int) -> list[dict[str, Any]]:
    """The stored eCFR changes the publication `publication_id` made, by section."""
    row = conn.execute(
        "SELECT p.id, p.source, p.publication_date, p.effective_on, p.cfr_references, t.result "
        "FROM publications p LEFT JOIN tag_results t ON t.publication_id = p.id WHERE p.id = ?",
        (publication_id,),
    ).fetchone()
    if row is None or row["source"] != FR_SOURCE:
        return []
    parts = _parts(row)
    day = _effective(row)
    if not parts or day is None:
        return []
    marks = ", ".join("?" * len(parts))
    found = conn.execute(
        f"SELECT id FROM ecfr_changes WHERE amendment_date = ? AND part IN ({marks}) "
        "ORDER BY part, identifier, new_date",
        (day, *sorted(parts)),
    )
    ids = [r[0] for r in found]
    return [change(conn, cid) for cid in ids if publication_id in amending_publications(conn, cid)]


def _window(day: str) -> tuple[str, str]:
    """Publication dates a rule effective on `day` can have."""
    effective = date.fromisoformat(day)
    before, after = timedelta(days=PUBLISHED_BEFORE_DAYS), timedelta(days=PUBLISHED_AFTER_DAYS)
    return (effective - before).isoformat(), (effective + after).isoformat()


def _score(found: dict[str, Any], row: sqlite3.Row) -> int:
    """2: the rule cites the section; 1: the part; 0: no match (or another effective date)."""
    if _effective(row) != found["amendment_date"] or found["part"] not in _parts(row):
        return 0
    cited = {m.get("value") for m in _entities(row).get("cfr") or () if isinstance(m, dict)}
    section = found["identifier"]
    return 2 if {f"§ {section}", f"{found['title']} CFR {section}"} & cited else 1


def _effective(row: sqlite3.Row) -> str | None:
    """The day a rule took effect: `effective_on`, the tagger's effective date, or publication."""
    tagged = _result(row).get("dates") or {}
    return row["effective_on"] or tagged.get("effective_on") or row["publication_date"]


def _parts(row: sqlite3.Row) -> set[str]:
    """CFR parts of title 15 the rule names (API references and extracted citations)."""
    parts = {
        str(ref.get("part"))
        for ref in loaded(row["cfr_references"], list) or ()
        if isinstance(ref, dict) and str(ref.get("title")) == "15" and ref.get("part")
    }
    for mention in _entities(row).get("cfr") or ():
        if isinstance(mention, dict) and mention.get("title") in (15, None) and mention.get("part"):
            parts.add(str(mention["part"]))
    return parts


def _entities(row: sqlite3.Row) -> dict[str, Any]:
    return _result(row).get("entities") or {}


def _result(row: sqlite3.Row) -> dict[str, Any]:
    return tag_result(row["result"]) or {}


def _change(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    data["changes"] = json.loads(data["changes"])
    data["substantive"], data["removed"] = bool(data["substantive"]), bool(data["removed"])
    return data
