"""Screening-list snapshots (the Consolidated Screening List): records by id, deltas, FR joins.

Enters: a `ScreeningSnapshot` (every record of one download, normalised by the `csl` spider); a
publication id or a Federal Register citation for the joins.
Leaves: rows in `screening_snapshots` (one per changed download), `screening_records` (the current
state of every record ever seen, by its `id`; a removed one keeps its row with `removed_snapshot`),
`screening_citations` (each record's `federal_register_notice` citations, in order: the first is
the rule that added it, later ones revised it), `screening_names` (normalised names and alternate
names), `screening_deltas` (added, removed, changed with `{field: [old, new]}`) and
`screening_watch_hits` (the parties of a delta that touched the watch-list, as alerted); a
`SnapshotResult`; and the reads: `screening_summary` (what a rule did to the Entity, Unverified and
Military End-User lists: parties added, their countries, how many are already on another list),
`publications_citing` (citation → stored publications), `delta_parties` (the hook a watch-list
matcher reads: names, alternate names and countries of a delta's records) and
`watch_hits_matched` (the parties that touched the watch-list in a period, for digests).

A download identical to the last stored one writes nothing. The first snapshot is a baseline: its
records are stored without delta rows (nothing was "added" by a rule that day). A download holding
no record of a list that has parties now (a broken upstream export, not every party on it
delisted) is stored for the other lists while that list's parties are kept as listed; the result
names the list (`SnapshotResult.kept`), also when the same download comes again.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from archive.db import transaction, utc_now
from archive.rows import loaded

# The lists whose records carry a Federal Register notice worth joining (csl.md §3).
JOINED_LISTS = ("EL", "MEU", "UVL")
CITATION = re.compile(r"\b(\d{1,3})\s*F\.?\s?R\.?\s*(\d{1,6})\b")
_json = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode


@dataclass(frozen=True, slots=True)
class ScreeningRecord:
    """One list entry, normalised: its `id`, list code and label, names, countries, citations."""

    record_id: str
    list: str
    list_name: str
    name: str
    alt_names: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    federal_register_notice: str | None = None
    record: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ScreeningSnapshot:
    """One download of a screening list: when the source built it, what it used, every record."""

    source: str
    published_at: str | None
    sources_used: list[dict[str, Any]]
    records: tuple[ScreeningRecord, ...]


@dataclass(frozen=True, slots=True)
class SnapshotResult:
    """What storing a snapshot did (`snapshot_id` None: identical to the last one, not stored)."""

    snapshot_id: int | None
    baseline: bool = False
    added: int = 0
    removed: int = 0
    changed: int = 0
    unchanged: int = 0
    kept: tuple[str, ...] = ()  # lists the download lacks: `<list name> (<n> parties)`, kept


@dataclass(frozen=True, slots=True)
class ScreeningSummary:
    """What one Federal Register rule did to the joined lists."""

    citation: str
    parties: int
    countries: tuple[str, ...]
    already_listed: int
    revised: int
    lists: tuple[str, ...]

    @property
    def sentence(self) -> str:
        """`adds 3 parties in 2 countries; 1 already on other screening lists`."""
        text = (
            f"adds {_plural(self.parties, 'party', 'parties')} in "
            f"{_plural(len(self.countries), 'country', 'countries')}; "
            f"{self.already_listed} already on other screening lists"
        )
        revised = f"; revises {_plural(self.revised, 'entry', 'entries')}" if self.revised else ""
        return text + revised


@dataclass(frozen=True, slots=True)
class ScreeningParty:
    """A record of a snapshot's delta, as a watch-list matcher needs it."""

    snapshot_id: int
    kind: str
    record_id: str
    list: str
    list_name: str
    name: str
    alt_names: tuple[str, ...]
    countries: tuple[str, ...]
    federal_register_notice: str | None


def citations(notice: Any) -> list[str]:
    """Every `NN FR NNNN` in a `federal_register_notice` value, normalised, in order."""
    if not isinstance(notice, str):
        return []
    found = (f"{int(vol)} FR {int(page)}" for vol, page in CITATION.findall(notice))
    return list(dict.fromkeys(found))


def name_key(name: str) -> str:
    """A name compared across lists: accents and punctuation dropped, case folded, spaces single."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def record_hash(record: ScreeningRecord) -> str:
    """SHA-256 of the record as received (keys sorted), the list it is on and its id."""
    payload = _json([record.record_id, record.list_name, record.record])
    return hashlib.sha256(payload.encode()).hexdigest()


def store_snapshot(conn: sqlite3.Connection, snap: ScreeningSnapshot) -> SnapshotResult:
    """Store one download and its delta against the current state, in one transaction."""
    hashes = {r.record_id: record_hash(r) for r in snap.records}
    if len(hashes) != len(snap.records):
        raise ValueError(f"{snap.source} snapshot: a record id appears twice")
    digest = hashlib.sha256(_json(sorted(hashes.items())).encode()).hexdigest()
    with transaction(conn):
        missing = _missing_lists(conn, snap)
        kept = tuple(missing.values())
        last = conn.execute(
            "SELECT content_hash FROM screening_snapshots WHERE source = ? "
            "ORDER BY id DESC LIMIT 1",
            (snap.source,),
        ).fetchone()
        if last is not None and last[0] == digest:
            return SnapshotResult(None, unchanged=len(hashes), kept=kept)
        baseline = last is None
        snapshot_id = conn.execute(
            "INSERT INTO screening_snapshots (source, published_at, fetched_at, total, "
            "content_hash, sources_used, baseline) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                snap.source,
                snap.published_at,
                utc_now(),
                len(hashes),
                digest,
                _json(snap.sources_used),
                int(baseline),
            ),
        ).fetchone()[0]
        counts = _apply(conn, snapshot_id, snap.records, hashes, baseline, set(missing))
        conn.execute(
            "UPDATE screening_snapshots SET added = ?, removed = ?, changed = ? WHERE id = ?",
            (counts["added"], counts["removed"], counts["changed"], snapshot_id),
        )
    return SnapshotResult(snapshot_id, baseline, **counts, kept=kept)


def _missing_lists(conn: sqlite3.Connection, snap: ScreeningSnapshot) -> dict[str, str]:
    """`{list code: "<list name> (<n> parties)"}` for each list with parties listed now and no
    record in `snap`: its export broke upstream; read as removals, every party on it would be
    reported delisted."""
    present = {record.list for record in snap.records}
    return {
        code: f"{name} ({held:,} parties)"
        for code, name, held in conn.execute(
            "SELECT list, max(list_name), count(*) FROM screening_records "
            "WHERE removed_snapshot IS NULL GROUP BY list ORDER BY list"
        )
        if code not in present
    }


def _apply(
    conn: sqlite3.Connection,
    snapshot_id: int,
    records: Sequence[ScreeningRecord],
    hashes: dict[str, str],
    baseline: bool,
    kept: set[str],
) -> dict[str, int]:
    """Write the records of a download and its delta; the parties of the lists in `kept` stay as
    they are."""
    stored = {
        row[0]: (row[1], row[2], row[3], row[4])
        for row in conn.execute(
            "SELECT record_id, record_hash, record, removed_snapshot, list FROM screening_records"
        )
    }
    counts = {"added": 0, "removed": 0, "changed": 0, "unchanged": 0}
    deltas = []
    for record in records:
        before = stored.get(record.record_id)
        if before is not None and before[2] is None and before[0] == hashes[record.record_id]:
            counts["unchanged"] += 1
            continue
        if before is None or before[2] is not None:
            kind, fields = "added", {}
        else:
            kind, fields = "changed", changed_fields(json.loads(before[1]), record.record)
        counts[kind] += 1
        deltas.append((snapshot_id, record.record_id, kind, _json(fields)))
        _write_record(conn, snapshot_id, record, hashes[record.record_id], before is not None)
    gone = [
        rid
        for rid, (_, _, removed, listed) in stored.items()
        if removed is None and rid not in hashes and listed not in kept
    ]
    counts["removed"] = len(gone)
    deltas += [(snapshot_id, rid, "removed", "{}") for rid in gone]
    conn.executemany(
        "UPDATE screening_records SET removed_snapshot = ? WHERE record_id = ?",
        [(snapshot_id, rid) for rid in gone],
    )
    if not baseline:
        conn.executemany(
            "INSERT INTO screening_deltas (snapshot_id, record_id, kind, fields) "
            "VALUES (?, ?, ?, ?)",
            deltas,
        )
    return counts


def _write_record(
    conn: sqlite3.Connection, snapshot_id: int, record: ScreeningRecord, digest: str, known: bool
) -> None:
    values = (
        record.list,
        record.list_name,
        record.name,
        _json(list(record.countries)),
        record.federal_register_notice,
        _json(record.record),
        digest,
        snapshot_id,
    )
    if known:
        conn.execute(
            "UPDATE screening_records SET list = ?, list_name = ?, name = ?, countries = ?, "
            "federal_register_notice = ?, record = ?, record_hash = ?, changed_snapshot = ?, "
            "removed_snapshot = NULL WHERE record_id = ?",
            (*values, record.record_id),
        )
    else:
        conn.execute(
            "INSERT INTO screening_records (list, list_name, name, countries, "
            "federal_register_notice, record, record_hash, changed_snapshot, first_snapshot, "
            "record_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*values, snapshot_id, record.record_id),
        )
    for table in ("screening_citations", "screening_names"):
        conn.execute(f"DELETE FROM {table} WHERE record_id = ?", (record.record_id,))
    conn.executemany(
        "INSERT INTO screening_citations (citation, record_id, position) VALUES (?, ?, ?)",
        [(c, record.record_id, n) for n, c in enumerate(citations(record.federal_register_notice))],
    )
    keys = {name_key(n) for n in (record.name, *record.alt_names)} - {""}
    conn.executemany(
        "INSERT INTO screening_names (name_key, record_id) VALUES (?, ?)",
        [(key, record.record_id) for key in sorted(keys)],
    )


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    """Top-level fields whose values differ: `{field: [old, new]}` (absent is null)."""
    return {
        name: [old.get(name), new.get(name)]
        for name in sorted(set(old) | set(new))
        if old.get(name) != new.get(name)
    }


def publication_citation(conn: sqlite3.Connection, publication_id: int) -> str | None:
    """The Federal Register citation of a stored publication (`89 FR 102678`), normalised."""
    row = conn.execute(
        "SELECT citation FROM publications WHERE id = ?", (publication_id,)
    ).fetchone()
    found = citations(row[0]) if row else []
    return found[0] if found else None


def publications_citing(conn: sqlite3.Connection, citation: str) -> list[int]:
    """Ids of stored publications whose `citation` is `citation` (normalised first)."""
    wanted = citations(citation)
    if not wanted:
        return []
    rows = conn.execute(
        "SELECT id FROM publications WHERE citation = ? ORDER BY id",
        (wanted[0],),
    )
    return [row[0] for row in rows]


def screening_summary(conn: sqlite3.Connection, publication_id: int) -> ScreeningSummary | None:
    """What the rule `publication_id` did to the joined lists; None if no record cites it."""
    citation = publication_citation(conn, publication_id)
    if citation is None:
        return None
    marks = ", ".join("?" * len(JOINED_LISTS))
    rows = conn.execute(
        "SELECT r.record_id, r.list, r.countries, c.position, EXISTS ("
        "  SELECT 1 FROM screening_names n JOIN screening_names o ON o.name_key = n.name_key"
        "  JOIN screening_records other ON other.record_id = o.record_id"
        "  WHERE n.record_id = r.record_id AND other.list != r.list"
        "  AND other.removed_snapshot IS NULL) AS elsewhere "
        "FROM screening_citations c JOIN screening_records r ON r.record_id = c.record_id "
        f"WHERE c.citation = ? AND r.list IN ({marks}) ORDER BY r.record_id",
        (citation, *JOINED_LISTS),
    ).fetchall()
    if not rows:
        return None
    added = [row for row in rows if row["position"] == 0]
    countries = sorted({c for row in added for c in json.loads(row["countries"])})
    return ScreeningSummary(
        citation=citation,
        parties=len(added),
        countries=tuple(countries),
        already_listed=sum(bool(row["elsewhere"]) for row in added),
        revised=len(rows) - len(added),
        lists=tuple(sorted({row["list"] for row in rows})),
    )


def latest_snapshot_id(conn: sqlite3.Connection, source: str = "csl") -> int | None:
    """The newest stored snapshot of `source`, or None."""
    row = conn.execute(
        "SELECT MAX(id) FROM screening_snapshots WHERE source = ?", (source,)
    ).fetchone()
    return row[0]


def delta_parties(
    conn: sqlite3.Connection, snapshot_id: int, kinds: Sequence[str] = ("added",)
) -> list[ScreeningParty]:
    """The records of one snapshot's delta of the given kinds, with names and countries."""
    marks = ", ".join("?" * len(kinds))
    rows = conn.execute(
        "SELECT d.kind, r.record_id, r.list, r.list_name, r.name, r.countries, r.record, "
        "r.federal_register_notice FROM screening_deltas d "
        "JOIN screening_records r ON r.record_id = d.record_id "
        f"WHERE d.snapshot_id = ? AND d.kind IN ({marks}) ORDER BY r.list, r.name, r.record_id",
        (snapshot_id, *kinds),
    )
    return [
        ScreeningParty(
            snapshot_id=snapshot_id,
            kind=row["kind"],
            record_id=row["record_id"],
            list=row["list"],
            list_name=row["list_name"],
            name=row["name"],
            alt_names=tuple(_alt_names(json.loads(row["record"]))),
            countries=tuple(json.loads(row["countries"])),
            federal_register_notice=row["federal_register_notice"],
        )
        for row in rows
    ]


def unmatched_snapshots(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Snapshots with a delta (not baselines) never matched against the watch-list, oldest
    first: id, source, published_at, fetched_at."""
    rows = conn.execute(
        "SELECT id, source, published_at, fetched_at FROM screening_snapshots "
        "WHERE watch_matched_at IS NULL AND NOT baseline ORDER BY id"
    )
    return [dict(row) for row in rows]


def mark_watch_matched(
    conn: sqlite3.Connection, snapshot_id: int, at: str, hits: Sequence[tuple[str, str]]
) -> None:
    """Record that a snapshot's delta was matched against the watch-list (never again), and the
    `(record id, payload)` of each party that touched it (what digests list)."""
    conn.execute(
        "UPDATE screening_snapshots SET watch_matched_at = ? WHERE id = ?", (at, snapshot_id)
    )
    conn.executemany(
        "INSERT OR IGNORE INTO screening_watch_hits (snapshot_id, record_id, matched_at, payload) "
        "VALUES (?, ?, ?, ?)",
        [(snapshot_id, record_id, at, payload) for record_id, payload in hits],
    )


def watch_hits_matched(conn: sqlite3.Connection, since: str, until: str) -> list[dict[str, Any]]:
    """The payloads of the parties matched against the watch-list on days `since` to `until`
    (ISO dates, both included), in the order they were matched."""
    after = (date.fromisoformat(until) + timedelta(days=1)).isoformat()
    rows = conn.execute(
        "SELECT payload FROM screening_watch_hits WHERE matched_at >= ? AND matched_at < ? "
        "ORDER BY matched_at, snapshot_id, record_id",
        (since, after),
    )
    found = (loaded(payload, dict) for (payload,) in rows)
    return [hit for hit in found if hit is not None]  # a damaged payload has nothing to show


def snapshot_delta(conn: sqlite3.Connection, snapshot_id: int) -> list[dict[str, Any]]:
    """Every delta row of a snapshot: kind, record id, list, name and changed fields."""
    rows = conn.execute(
        "SELECT d.kind, d.record_id, r.list, r.name, d.fields FROM screening_deltas d "
        "JOIN screening_records r ON r.record_id = d.record_id WHERE d.snapshot_id = ? "
        "ORDER BY d.kind, r.list, r.name, d.record_id",
        (snapshot_id,),
    )
    return [{**dict(row), "fields": json.loads(row["fields"])} for row in rows]


def _alt_names(record: dict[str, Any]) -> list[str]:
    names = record.get("alt_names")
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"
