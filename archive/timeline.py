"""One timeline per rulemaking, derived from what the archive stores (no table of its own).

Enters: an open connection, the search index, a publication's source and id (or a period and
tags, for a digest) and `today`, the day after which an event is upcoming.
Leaves: `timeline`: `{"rins", "dockets", "documents", "omitted", "complete", "events"}`. The
rulemaking is every stored document sharing one of the publication's RINs or docket ids (its record
family's included: a public-inspection filing carries no RIN), plus the record families of all of
them. Candidates come from the search index (RINs and dockets are in its text) and are confirmed in
SQLite. At most `MAX_DOCUMENTS` documents are shown, those nearest in date to the publication;
`omitted` counts the others, `complete` is false when the index could not list every candidate.
Each document gives its events: a filing on public inspection (the day filed; withdrawn, if so;
its scheduled publication while no published document of its family is stored), a publication
(`published as` proposed rule, rule, correction, …), the comment deadline, effective and
compliance dates (the stored field, else the tagger's date), and its EAR sections integrated into
the eCFR (`archive.sections`, one event per eCFR issue date). Events are sorted by date, each
naming its document (source, source id, title, url, type), `current` for the publication asked
about, `upcoming` for a date after `today`.
`rulemakings_moved`: the rulemakings (grouped by RIN, else docket) with at least one event in a
period and a document tagged with one of the given tags, each with its timeline, at most
`MAX_RULEMAKINGS` (newest event first) and how many more there were.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from archive.db import MARKS, rows_in
from archive.document import mentioning
from archive.index import SearchIndex
from archive.records import iso_date
from archive.rows import json_cell, loaded, stored_json, tag_result
from archive.sections import amending_publications, section_changes

MAX_DOCUMENTS = 25
CANDIDATES = 1000  # per RIN or docket id; more marks the timeline incomplete
MAX_RULEMAKINGS = 20
MAX_KEYS = 500  # rulemakings examined for one digest period
LOOKBACK_DAYS = 365  # dates fall within a year of publication (as the digest's upcoming dates)
FILED_BEFORE_DAYS = 7  # a filing is on public inspection days before its publication date
PI_SOURCE = "federal_register_pi"
CORRECTION_NUMBER = re.compile(r"C[0-9]+-")  # `C1-2026-16628` corrects 2026-16628
ORDER = (  # events of one day, in the order a rulemaking goes through them
    "filed",
    "withdrawn",
    "scheduled",
    "published",
    "comments_close",
    "effective",
    "compliance",
    "ecfr",
)
DATES = (
    ("comments_close_on", "comments_close", "comments close"),
    ("effective_on", "effective", "effective"),
    ("compliance_on", "compliance", "compliance date"),
)
COLUMNS = (
    "p.id, p.source, p.source_id, p.title, p.url, p.type, p.action, p.publication_date, "
    "p.effective_on, p.comments_close_on, p.regulation_id_numbers, p.docket_ids, p.family, "
    "p.withdrawn_at, p.raw, t.result AS tag_result"
)
SELECT = f"SELECT {COLUMNS} FROM publications p LEFT JOIN tag_results t ON t.publication_id = p.id"


def timeline(
    conn: sqlite3.Connection, index: SearchIndex, source: str, source_id: str, today: str
) -> dict[str, Any] | None:
    """The ordered events of the rulemaking of one publication, or None if it is not stored."""
    sql = f"{SELECT} WHERE p.source = ? AND p.source_id = ?"
    found = conn.execute(sql, (source, source_id)).fetchone()
    return _timeline(conn, _rulemaking(conn, index, found), found, today) if found else None


def rulemakings_moved(
    conn: sqlite3.Connection,
    index: SearchIndex,
    start: str,
    end: str,
    tags: Sequence[str],
    today: str,
) -> dict[str, Any]:
    """`{"rulemakings": [{"key", "title", **timeline}], "omitted": N}` for [start, end]."""
    seen: set[int] = set()
    keys: set[str] = set()
    moved = []
    for row in _by_ids(conn, list(dict.fromkeys(_candidates(conn, start, end)))[:MAX_KEYS]):
        if row["id"] in seen:
            continue
        rulemaking = _rulemaking(conn, index, row)
        seen |= set(rulemaking.members)
        key = _key(rulemaking.rins, rulemaking.dockets)
        if key is None or key in keys or not _tagged(conn, list(rulemaking.members), tags):
            continue
        keys.add(key)
        found = _timeline(conn, rulemaking, row, today)
        inside = [e["date"] for e in found["events"] if start <= e["date"] <= end]
        if inside:
            title = next(e["document"]["title"] for e in reversed(found["events"]))
            moved.append({"key": key, "title": title, "last": max(inside), **found})
    moved.sort(key=lambda r: (r["last"], r["key"]), reverse=True)
    shown = [{k: v for k, v in r.items() if k != "last"} for r in moved[:MAX_RULEMAKINGS]]
    return {"rulemakings": shown, "omitted": len(moved) - len(shown)}


@dataclass(frozen=True, slots=True)
class _Rulemaking:
    """The RINs and dockets of a document's family, and every stored record holding them."""

    rins: list[str]
    dockets: list[str]
    members: dict[int, sqlite3.Row]
    complete: bool


def _rulemaking(conn: sqlite3.Connection, index: SearchIndex, row: sqlite3.Row) -> _Rulemaking:
    family = _family(conn, [row])
    rins = sorted({v for r in family for v in _strings(r["regulation_id_numbers"])})
    dockets = sorted({v for r in family for v in _strings(r["docket_ids"])})
    ids, complete = _holders(conn, index, rins, dockets)
    members = {r["id"]: r for r in _family(conn, [*family, *_by_ids(conn, ids)])}
    return _Rulemaking(rins, dockets, members, complete)


def _timeline(
    conn: sqlite3.Connection, rulemaking: _Rulemaking, row: sqlite3.Row, today: str
) -> dict[str, Any]:
    members = list(rulemaking.members.values())
    shown = _nearest(members, row)
    published = {r["family"] for r in members if r["source"] != PI_SOURCE}
    events = [
        {**event, "current": member["id"] == row["id"] or _same_family(member, row)}
        for member in shown
        for event in _events(conn, member, member["family"] in published, today)
    ]
    events.sort(key=lambda e: (e["date"], ORDER.index(e["kind"]), e["document"]["source_id"]))
    return {
        "rins": rulemaking.rins,
        "dockets": rulemaking.dockets,
        "documents": len(shown),
        "omitted": len(members) - len(shown),
        "complete": rulemaking.complete,
        "events": events,
    }


def _same_family(member: sqlite3.Row, row: sqlite3.Row) -> bool:
    return bool(row["family"]) and member["family"] == row["family"]


def _holders(
    conn: sqlite3.Connection, index: SearchIndex, rins: list[str], dockets: list[str]
) -> tuple[list[int], bool]:
    """Ids of the documents holding one of the RINs or dockets; False if not all were found."""
    if not rins and not dockets:
        return [], True
    if index.problem is not None:
        return [], False
    ids: set[int] = set()
    complete = True
    for value in (*rins, *dockets):
        found = mentioning(index, value, CANDIDATES)
        complete &= len(found) < CANDIDATES
        ids.update(found)
    if not ids:
        return [], complete
    sql = (
        f"SELECT id FROM publications WHERE id IN ({', '.join('?' * len(ids))}) AND ("
        f"EXISTS (SELECT 1 FROM json_each({json_cell('regulation_id_numbers')}) "
        f"WHERE value IN ({_marks(rins)})) "
        f"OR EXISTS (SELECT 1 FROM json_each({json_cell('docket_ids')}) "
        f"WHERE value IN ({_marks(dockets)})))"
    )
    return [r[0] for r in conn.execute(sql, [*ids, *rins, *dockets])], complete


def _marks(values: Sequence[Any]) -> str:
    """`?, ?, ?` for the values (`NULL` for none: matches nothing)."""
    return ", ".join("?" * len(values)) or "NULL"


def _family(conn: sqlite3.Connection, found: Iterable[sqlite3.Row]) -> list[sqlite3.Row]:
    """`found` with every other record of their families."""
    rows = {r["id"]: r for r in found}
    families = sorted({r["family"] for r in rows.values() if r["family"]})
    sql = f"{SELECT} WHERE p.family IN ({MARKS})"
    rows.update((r["id"], r) for r in rows_in(conn, sql, families))
    return list(rows.values())


def _by_ids(conn: sqlite3.Connection, ids: Iterable[int]) -> list[sqlite3.Row]:
    wanted = list(dict.fromkeys(ids))
    found = list(rows_in(conn, f"{SELECT} WHERE p.id IN ({MARKS})", wanted))
    order = {pid: n for n, pid in enumerate(wanted)}
    return sorted(found, key=lambda r: order[r["id"]])


def _nearest(members: list[sqlite3.Row], row: sqlite3.Row) -> list[sqlite3.Row]:
    """At most `MAX_DOCUMENTS` members: `row`'s family first, then the nearest in date (a stored
    date that cannot be read, hand-edited as 2024-02-30, counts as the farthest)."""
    day = iso_date(row["publication_date"])

    def distance(member: sqlite3.Row) -> tuple[bool, int, int]:
        other = iso_date(member["publication_date"])
        apart = abs((other - day).days) if other and day else date.max.toordinal()
        return (not _same_family(member, row) and member["id"] != row["id"], apart, member["id"])

    return sorted(members, key=distance)[:MAX_DOCUMENTS]


def _events(
    conn: sqlite3.Connection, row: sqlite3.Row, published: bool, today: str
) -> list[dict[str, Any]]:
    """The events of one document; a filing whose document is published leaves dates to it."""
    document = {
        "source": row["source"],
        "source_id": row["source_id"],
        "title": row["title"],
        "url": row["url"],
        "type": row["type"],
    }
    raw = stored_json("raw", row["raw"]) or {}
    found: list[tuple[str, str, str]] = []
    if row["source"] == PI_SOURCE:
        found += _filing(row, raw, published)
    else:
        found.append((row["publication_date"], "published", f"published as {_kind(row, raw)}"))
    if row["source"] != PI_SOURCE or not published:
        stored = {
            "effective_on": row["effective_on"],
            "comments_close_on": row["comments_close_on"],
        }
        tagged = (tag_result(row["tag_result"]) or {}).get("dates", {})
        for slot, kind, what in DATES:
            day = stored.get(slot) or tagged.get(slot)
            if iso_date(day):
                found.append((day, kind, what))
    events = [
        {"date": day, "kind": kind, "what": what, "upcoming": day > today, "sections": []}
        for day, kind, what in found
    ]
    return [{**e, "document": document} for e in events + _ecfr(conn, row, today)]


def _filing(row: sqlite3.Row, raw: dict[str, Any], published: bool) -> list[tuple[str, str, str]]:
    """Filed (the day part of `filed_at`), withdrawn, and scheduled while not yet published."""
    filed_at = raw.get("filed_at") if isinstance(raw.get("filed_at"), str) else ""
    issue = raw.get("last_public_inspection_issue")
    day = next(
        (d for d in (filed_at[:10], issue) if iso_date(d)),
        row["publication_date"],
    )
    filing = raw.get("filing_type")
    how = f" ({filing} filing)" if filing in ("regular", "special") else ""
    found = [(day, "filed", f"filed for public inspection{how}")]
    withdrawn = (row["withdrawn_at"] or "")[:10]
    if iso_date(withdrawn):
        found.append((withdrawn, "withdrawn", "withdrawn from public inspection"))
    elif not published:
        found.append((row["publication_date"], "scheduled", "scheduled for publication"))
    return found


def _kind(row: sqlite3.Row, raw: dict[str, Any]) -> str:
    """`correction` (its type, a `correction_of`, an action or a `C1-` number says so), else the
    document type in lower case."""
    action = (row["action"] or "").lower()
    if (
        row["type"] == "Correction"
        or raw.get("correction_of")
        or "correction" in action
        or CORRECTION_NUMBER.match(row["source_id"])
    ):
        return "correction"
    return (row["type"] or "document").lower()


def _ecfr(conn: sqlite3.Connection, row: sqlite3.Row, today: str) -> list[dict[str, Any]]:
    """One event per eCFR issue date on which sections the document amended were integrated."""
    by_day: dict[str, list[dict[str, Any]]] = {}
    for change in section_changes(conn, row["id"]):
        by_day.setdefault(change["issue_date"], []).append(change)
    return [
        {
            "date": day,
            "kind": "ecfr",
            "what": f"in the eCFR ({', '.join(_section(c) for c in changes)})",
            "upcoming": day > today,
            "sections": [
                {"section": _section(c), "in_force": c["new_date"], "url": c["new_url"]}
                for c in changes
            ],
        }
        for day, changes in sorted(by_day.items())
    ]


def _section(change: dict[str, Any]) -> str:
    return f"§ {change['identifier']}" if change["kind"] == "section" else change["identifier"]


def _candidates(conn: sqlite3.Connection, start: str, end: str) -> list[int]:
    """Ids of documents that may have an event in [start, end], newest first."""
    lookback = (date.fromisoformat(start) - timedelta(days=LOOKBACK_DAYS)).isoformat()
    filed_until = (date.fromisoformat(end) + timedelta(days=FILED_BEFORE_DAYS)).isoformat()
    slots = ", ".join("?" * len(DATES))
    sql = (
        "SELECT p.id FROM publications p LEFT JOIN tag_results t ON t.publication_id = p.id "
        "WHERE p.publication_date BETWEEN ? AND ? AND (p.publication_date BETWEEN ? AND ? "
        "OR p.effective_on BETWEEN ? AND ? OR p.comments_close_on BETWEEN ? AND ? "
        "OR substr(p.withdrawn_at, 1, 10) BETWEEN ? AND ? "
        f"OR EXISTS (SELECT 1 FROM json_each({json_cell('t.result')}, '$.dates') "
        f"WHERE key IN ({slots}) AND value BETWEEN ? AND ?)) "
        f"AND (json_array_length({json_cell('p.regulation_id_numbers')}) > 0 "
        f"OR json_array_length({json_cell('p.docket_ids')}) > 0 OR p.source = ?) "
        "ORDER BY p.publication_date DESC, p.id DESC"
    )
    args = [lookback, filed_until, start, filed_until, *(start, end) * 3]
    args += [*(slot for slot, _, _ in DATES), start, end, PI_SOURCE]
    ids = [r[0] for r in conn.execute(sql, args)]
    issued = conn.execute(
        "SELECT id FROM ecfr_changes WHERE issue_date BETWEEN ? AND ? ORDER BY id", (start, end)
    )
    return ids + [pid for (cid,) in issued.fetchall() for pid in amending_publications(conn, cid)]


def _key(rins: list[str], dockets: list[str]) -> str | None:
    """`RIN 0694-AJ99`, else `docket BIS-2024-0001`, else None (not a rulemaking)."""
    if rins:
        return f"RIN {', '.join(rins)}"
    return f"docket {', '.join(dockets)}" if dockets else None


def _tagged(conn: sqlite3.Connection, ids: list[int], tags: Sequence[str]) -> bool:
    if not ids or not tags:
        return False
    sql = (
        f"SELECT 1 FROM publication_tags WHERE tag IN ({', '.join('?' * len(tags))}) "
        f"AND publication_id IN ({', '.join('?' * len(ids))}) LIMIT 1"
    )
    return conn.execute(sql, [*tags, *ids]).fetchone() is not None


def _strings(value: Any) -> list[str]:
    return [v for v in loaded(value, list) or () if isinstance(v, str) and v]
