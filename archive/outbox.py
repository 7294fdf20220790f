"""The alert outbox: which documents each chat route must hear about, and what became of each alert.

Enters: route filters as plain data (`RouteFilter`, built by the tag step from the configuration),
tag results inside `tagging.store_tags`' transaction, and delivery outcomes from
`digests/alerts.py`.
Leaves: rows in `alert_routes` (when a route was first seen), `alert_seen` (a fingerprint of each
document's title, abstract, tags and key dates as last tagged) and `alert_outbox` (one row per
route, publication and version with a payload snapshot (with the rule's screening-list joins and
EAR section changes as stored when the alert is written), a state — pending, sent, failed or maybe —
attempts, the next attempt time and the last error), plus `Alert` rows to deliver and counts.
A route asking for watch-list hits (`watch`) is sent every due document touching the watch-list,
whatever its filters say; the payload's `watch` lists the hits (item, matched text, quote).

When an alert is written: a document tagged for the first time is "new"; one whose fingerprint
changed is "updated"; so is a document tagged for the first time whose record family (`family`: a
public-inspection filing and the document it becomes when published) already alerted the route —
a rule is alerted once, at its earliest sighting, and its publication is a change.
A new document alerts a route only if it was first stored after the route
was added AND after its source's first successful crawl ended (that crawl, and anything stored
before it, is a backfill that alerts nobody). An update alerts a route if the document changed
after the route was added. Publication dates play no part. A public-inspection filing withdrawn
after it was alerted is one more "updated" alert (`withdrawn_at` in its payload) to each route
told of it, and so is one listed again after that (`relisted_at`). A screening-list party of a
snapshot's delta touching the watch-list is an alert that names no publication (`publication_id`
NULL; its `version` is the snapshot), to `watch` routes added before the snapshot was fetched,
once per route, party and snapshot. A stored agencies, source-record or tag-result cell that
cannot be read (damaged or hand-edited) reads as empty: it stops no other document's alert.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from archive.agencies import agency_keys, keyword
from archive.db import MARKS, rows_in, stamp, transaction, utc_now
from archive.links import RELATED, decode
from archive.rows import loaded, stored_json, tag_result
from archive.rule_context import rule_context
from archive.screening import ScreeningParty, citations, publications_citing

KEY_DATES = ("comments_close_on", "effective_on", "compliance_on")
STATES = ("pending", "sent", "failed", "maybe")
WHY_PER_TAG = 3
WATCH_PER_ALERT = 3


@dataclass(frozen=True, slots=True)
class RouteFilter:
    """Which tagged documents a route wants; empty filters accept every tagged document."""

    name: str
    tags: tuple[str, ...] = ()
    sub_tags: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()
    min_score: float = 0.0
    words: tuple[str, ...] = ()
    watch: bool = False  # also every document touching the watch-list, marked as such

    def passes(self, doc: dict[str, Any], result: dict[str, Any]) -> bool:
        """Does the document (`title`, `abstract`, `agencies`) with this tag result pass?"""
        tags = set(result.get("tags") or ())
        if not tags or not _any_of(self.tags, tags) or not _any_of(self.sub_tags, tags):
            return False
        scores = result.get("scores") or {}
        wanted = (*self.tags, *self.sub_tags) or tuple(tags)
        if max((scores.get(tag) or 0.0) for tag in wanted) < self.min_score:
            return False
        return self._agency_matches(doc) and self._words_match(doc)

    def _agency_matches(self, doc: dict[str, Any]) -> bool:
        if not self.agencies:
            return True
        names = {
            keyword(agency.get(part) or "")
            for agency in doc.get("agencies") or ()
            for part in ("name", "slug", "raw_name")
        }
        return any(key in names for agency in self.agencies for key in agency_keys(agency))

    def _words_match(self, doc: dict[str, Any]) -> bool:
        if not self.words:
            return True
        pattern = r"\b(?:" + "|".join(re.escape(word) for word in self.words) + r")\b"
        text = f"{doc.get('title') or ''}\n{doc.get('abstract') or ''}"
        return re.search(pattern, text, re.IGNORECASE) is not None


@dataclass(frozen=True, slots=True)
class Alert:
    """One outbox row."""

    id: int
    route: str
    publication_id: int
    version: int
    key: str
    kind: str
    payload: dict[str, Any] | None  # None: the stored payload cannot be read (damaged)
    state: str
    attempts: int
    next_attempt_at: str
    last_error: str | None
    created_at: str
    sent_at: str | None


@dataclass(frozen=True, slots=True)
class RouteCounts:
    """Alerts of one route by state, and when the last one was sent."""

    pending: int = 0
    sent: int = 0
    failed: int = 0
    maybe: int = 0
    last_sent_at: str | None = None


def _any_of(wanted: Sequence[str], tags: set[str]) -> bool:
    return not wanted or bool(tags.intersection(wanted))


def register_routes(conn: sqlite3.Connection, names: Iterable[str]) -> dict[str, str]:
    """Record routes not seen before as added now; return every route's `added_at`."""
    now = utc_now()
    with transaction(conn):
        conn.executemany(
            "INSERT INTO alert_routes (name, added_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(name, now) for name in names],
        )
    return dict(conn.execute("SELECT name, added_at FROM alert_routes"))


def enqueue(
    conn: sqlite3.Connection,
    tagged: Sequence[tuple[int, dict[str, Any]]],
    routes: Sequence[RouteFilter],
    now: str,
    watch_hits: Mapping[int, Sequence[dict[str, Any]]] | None = None,
) -> int:
    """Inside the caller's transaction: note each document's fingerprint, write due alerts.

    A route with `watch` also takes documents with `watch_hits` that its filters refuse; its
    alert carries the hits. Returns how many outbox rows were written.
    """
    watch_hits = watch_hits or {}
    docs = _documents(conn, [pid for pid, _ in tagged])
    seen = _fingerprints(conn, list(docs))
    added = dict(conn.execute("SELECT name, added_at FROM alert_routes"))
    live = _live_since(conn)
    rows = []
    queued: set[tuple[str, str]] = set()  # (route, family) alerted in this call
    for pid, result in tagged:
        doc = docs[pid]
        mark = _fingerprint(doc, result)
        if seen.get(pid) == mark:
            continue
        kind = "new" if pid not in seen else "updated"
        conn.execute(
            "INSERT INTO alert_seen (publication_id, fingerprint) VALUES (?, ?) "
            "ON CONFLICT (publication_id) DO UPDATE SET fingerprint = excluded.fingerprint",
            (pid, mark),
        )
        hits = watch_hits.get(pid) or ()
        for route in routes:
            since = added.get(route.name)
            marked = hits if route.watch else ()
            if not since or not (marked or route.passes(doc, result)):
                continue
            known = (route.name, doc["family"]) in queued or _family_alerted(conn, route.name, doc)
            sighting = "updated" if kind == "updated" or known else "new"
            if _due(sighting, doc, since, live.get(doc["source"])):
                rows.append(
                    _row(route.name, _with_context(conn, doc), result, sighting, now, marked)
                )
                queued.add((route.name, doc["family"]))
    return _insert(conn, rows)


def enqueue_watch(
    conn: sqlite3.Connection,
    found: Mapping[int, tuple[dict[str, Any], Sequence[dict[str, Any]]]],
    routes: Sequence[RouteFilter],
    now: str,
) -> int:
    """Inside the caller's transaction: a watch-list alert per document (id → (tag result,
    hits)) for each route with `watch`, unless that route already has an alert for the
    document's version. Returns how many outbox rows were written."""
    docs = _documents(conn, list(found))
    rows = [
        _row(route.name, _with_context(conn, docs[pid]), result, "new", now, hits)
        for pid, (result, hits) in found.items()
        for route in routes
        if route.watch and hits and pid in docs
    ]
    return _insert(conn, rows)


def enqueue_withdrawn(
    conn: sqlite3.Connection, pids: Sequence[int], now: str, *, relisted: bool = False
) -> int:
    """Inside the caller's transaction: every route already alerted about one of these filings,
    now withdrawn from public inspection (`relisted`: listed again after a withdrawal), gets an
    "updated" alert saying so (its new version; `relisted_at` in the payload)."""
    docs = _documents(conn, list(pids))
    rows = []
    for pid, doc in docs.items():
        found = conn.execute("SELECT result FROM tag_results WHERE publication_id = ?", (pid,))
        result = _result((found.fetchone() or [None])[0])
        told = conn.execute(
            "SELECT DISTINCT route FROM alert_outbox WHERE publication_id = ?", (pid,)
        )
        doc = _with_context(conn, doc) | ({"relisted_at": now} if relisted else {})
        rows += [_row(route, doc, result, "updated", now) for (route,) in told]
    return _insert(conn, rows)


VERBS = {"added": "added to", "changed": "changed on", "removed": "removed from"}


def enqueue_screening(
    conn: sqlite3.Connection,
    snapshot: dict[str, Any],
    found: Sequence[tuple[ScreeningParty, str]],
    routes: Sequence[str],
    now: str,
) -> int:
    """Inside the caller's transaction: a watch-list alert per screening-list party of a
    snapshot's delta that touches the watch-list (party → its `party_payload`), for each of
    `routes` added before the snapshot was fetched. The alert names no publication. Returns how
    many outbox rows were written."""
    added = dict(conn.execute("SELECT name, added_at FROM alert_routes"))
    wanted = [route for route in routes if added.get(route, now) <= snapshot["fetched_at"]]
    rows = []
    for party, payload in found:
        for route in wanted:
            key = hashlib.sha256(
                f"{route}\0{snapshot['source']}\0{party.record_id}\0{party.snapshot_id}".encode()
            ).hexdigest()
            rows.append(
                (route, None, party.snapshot_id, f"rw-{key[:32]}", "new", payload, now, now)
            )
    return _insert(conn, rows)


def party_payload(
    conn: sqlite3.Connection,
    snapshot: dict[str, Any],
    party: ScreeningParty,
    hits: Sequence[dict[str, Any]],
) -> str:
    """The message, feed and digest snapshot (JSON) of one screening-list party touching the
    watch-list (its hits); it links the rule the party's notice cites when that rule is stored."""
    notices = citations(party.federal_register_notice)
    rule = None
    if notices and (ids := publications_citing(conn, notices[0])):
        rule = conn.execute("SELECT url FROM publications WHERE id = ?", (ids[0],)).fetchone()
    countries = ", ".join(party.countries)
    day = (snapshot["published_at"] or snapshot["fetched_at"])[:10]
    payload = {
        "kind": "new",
        "source": snapshot["source"],
        "document_number": party.record_id,
        "version": party.snapshot_id,
        "title": f"{party.name}{f' ({countries})' if countries else ''} "
        f"{VERBS.get(party.kind, party.kind)} the {party.list_name}",
        "url": rule["url"] if rule else None,
        "pdf_url": None,
        "type": "Screening list entry",
        "agencies": [],
        "publication_date": day,
        "tags": [],
        "dates": {},
        "why": {},
        "related": [],
        "screening": f"cites {', '.join(notices)}" if notices else None,
        "section_changes": [],
        "watch": [
            {name: hit.get(name) for name in ("kind", "item", "matched", "field", "quote")}
            for hit in hits[:WATCH_PER_ALERT]
        ],
    }
    return json.dumps(payload, ensure_ascii=False, sort_keys=True)


def _family_alerted(conn: sqlite3.Connection, route: str, doc: dict[str, Any]) -> bool:
    """Has another record of the document's family been alerted to `route`?"""
    if not doc["family"]:
        return False
    found = conn.execute(
        "SELECT 1 FROM alert_outbox o JOIN publications p ON p.id = o.publication_id "
        "WHERE o.route = ? AND p.family = ? AND p.id != ? LIMIT 1",
        (route, doc["family"], doc["id"]),
    )
    return found.fetchone() is not None


def backfill(conn: sqlite3.Connection, routes: Sequence[RouteFilter], stored_since: str) -> int:
    """Queue "new" alerts for tagged documents first stored on or after `stored_since`."""
    now = utc_now()
    with transaction(conn):
        found = conn.execute(
            f"SELECT {DOC_COLUMNS}, t.result FROM publications p "
            "JOIN tag_results t ON t.publication_id = p.id WHERE p.first_seen >= ? ORDER BY p.id",
            (stored_since,),
        ).fetchall()
        rows = []
        for row in found:
            doc, result = _doc(row), _result(row["result"])
            wanted = [r for r in routes if r.passes(doc, result)]
            rows += [_row(r.name, _with_context(conn, doc), result, "new", now) for r in wanted]
        return _insert(conn, rows)


DOC_COLUMNS = (
    "p.id, p.source, p.source_id, p.url, p.title, p.type, p.agencies, p.publication_date, "
    "p.abstract, p.version, p.first_seen, p.updated_at, p.family, p.withdrawn_at, p.raw"
) + f", {RELATED} AS related"


def _documents(conn: sqlite3.Connection, pids: list[int]) -> dict[int, dict[str, Any]]:
    sql = f"SELECT {DOC_COLUMNS} FROM publications p WHERE p.id IN ({MARKS})"
    return {row["id"]: _doc(row) for row in rows_in(conn, sql, pids)}


def _doc(row: sqlite3.Row) -> dict[str, Any]:
    """A document as alerts read it; a stored `agencies` or `raw` that cannot be read (a damaged
    or hand-edited cell) reads as empty, so the alert says what can be read."""
    doc = {key: row[key] for key in row.keys() if key not in ("raw", "result")}  # noqa: SIM118
    doc["agencies"] = stored_json("agencies", row["agencies"]) or []
    doc["pdf_url"] = (stored_json("raw", row["raw"]) or {}).get("pdf_url")
    doc["related"] = [
        {key: link[key] for key in ("source", "source_id", "title", "url", "publication_date")}
        for link in decode(row["related"])
    ]
    return doc


def _result(stored: str | None) -> dict[str, Any]:
    """A stored tag result; {} (no tags: alerts no route) for one that cannot be read."""
    return tag_result(stored) or {}


def _with_context(conn: sqlite3.Connection, doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` with its screening-list joins and EAR section changes (looked up once)."""
    if "screening" not in doc:
        doc.update(rule_context(conn, doc["id"]))
    return doc


def _fingerprints(conn: sqlite3.Connection, pids: list[int]) -> dict[int, str]:
    sql = f"SELECT publication_id, fingerprint FROM alert_seen WHERE publication_id IN ({MARKS})"
    return dict(rows_in(conn, sql, pids))


def _fingerprint(doc: dict[str, Any], result: dict[str, Any]) -> str:
    seen = [doc["title"], doc["abstract"], sorted(result.get("tags") or ()), _key_dates(result)]
    return hashlib.sha256(json.dumps(seen, sort_keys=True).encode()).hexdigest()


def _key_dates(result: dict[str, Any]) -> dict[str, str]:
    dates = result.get("dates") or {}
    return {kind: dates[kind] for kind in KEY_DATES if dates.get(kind)}


def _live_since(conn: sqlite3.Connection) -> dict[str, str]:
    """Per source, the end of its first successful crawl (rounded up to the next second)."""
    ends = conn.execute(
        "SELECT source, MIN(finished_at) FROM crawl_log WHERE ok = 1 GROUP BY source"
    )
    return {
        source: stamp(datetime.fromisoformat(end) + timedelta(seconds=1)) for source, end in ends
    }


def _due(kind: str, doc: dict[str, Any], route_added: str, live_since: str | None) -> bool:
    if kind == "updated":
        return doc["updated_at"] >= route_added
    return live_since is not None and doc["first_seen"] >= max(route_added, live_since)


def _row(
    route: str,
    doc: dict[str, Any],
    result: dict[str, Any],
    kind: str,
    now: str,
    watch_hits: Sequence[dict[str, Any]] = (),
) -> tuple:
    """One outbox row; `doc` carries its rule context (`_with_context`)."""
    key = hashlib.sha256(
        f"{route}\0{doc['source']}\0{doc['source_id']}\0{doc['version']}".encode()
    ).hexdigest()
    payload = _payload(doc, result, kind)
    if watch_hits:
        payload["watch"] = [
            {name: hit.get(name) for name in ("kind", "item", "matched", "field", "quote")}
            for hit in watch_hits[:WATCH_PER_ALERT]
        ]
    payload = json.dumps(payload, ensure_ascii=False, sort_keys=True)
    return (route, doc["id"], doc["version"], f"rw-{key[:32]}", kind, payload, now, now)


def _payload(doc: dict[str, Any], result: dict[str, Any], kind: str) -> dict[str, Any]:
    """The snapshot a message and a feed entry are made from."""
    evidence = result.get("evidence") or {}
    why = {}
    for tag in result.get("tags") or ():
        found = [(e.get("text"), e.get("field")) for e in evidence.get(tag) or () if _support(e)]
        if found:
            why[tag] = [list(pair) for pair in dict.fromkeys(found)][:WHY_PER_TAG]
    return {
        "kind": kind,
        "source": doc["source"],
        "document_number": doc["source_id"],
        "version": doc["version"],
        "title": doc["title"],
        "url": doc["url"],
        "pdf_url": doc["pdf_url"],
        "type": doc["type"],
        "agencies": [a.get("name") or a.get("raw_name") or "" for a in doc["agencies"]],
        "publication_date": doc["publication_date"],
        "tags": list(result.get("tags") or ()),
        "dates": _key_dates(result),
        "why": why,
        "related": doc.get("related") or [],
        "screening": doc.get("screening"),
        "section_changes": doc.get("section_changes") or [],
        "withdrawn_at": doc.get("withdrawn_at"),
        "relisted_at": doc.get("relisted_at"),
    }


def _support(evidence: Any) -> bool:
    return isinstance(evidence, dict) and evidence.get("effect", "support") == "support"


def _insert(conn: sqlite3.Connection, rows: list[tuple]) -> int:
    before = conn.total_changes
    conn.executemany(
        "INSERT INTO alert_outbox (route, publication_id, version, idempotency_key, kind, payload, "
        "next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        rows,
    )
    return conn.total_changes - before


def due(conn: sqlite3.Connection, states: Sequence[str], now: str) -> list[Alert]:
    """Alerts in `states` whose next attempt time has come, oldest first."""
    marks = ", ".join("?" * len(states))
    found = conn.execute(
        f"SELECT * FROM alert_outbox WHERE state IN ({marks}) AND next_attempt_at <= ? ORDER BY id",
        (*states, now),
    )
    return [_alert(row) for row in found]


def retry_failed(conn: sqlite3.Connection, routes: Sequence[str], now: str) -> int:
    """Give the failed alerts of `routes` their attempts back: pending and due at `now` (a
    route down longer than its attempts last loses nothing a person sends again); how many."""
    if not routes:
        return 0
    marks = ", ".join("?" * len(routes))
    with transaction(conn):
        return conn.execute(
            "UPDATE alert_outbox SET state = 'pending', attempts = 0, next_attempt_at = ? "
            f"WHERE state = 'failed' AND route IN ({marks})",
            (now, *routes),
        ).rowcount


def pending(conn: sqlite3.Connection) -> list[Alert]:
    """Every pending alert, due or not, oldest first (what a dry run shows)."""
    return [_alert(r) for r in conn.execute("SELECT * FROM alert_outbox WHERE state = 'pending'")]


def _alert(row: sqlite3.Row) -> Alert:
    return Alert(
        row["id"],
        row["route"],
        row["publication_id"],
        row["version"],
        row["idempotency_key"],
        row["kind"],
        loaded(row["payload"], dict),
        row["state"],
        row["attempts"],
        row["next_attempt_at"],
        row["last_error"],
        row["created_at"],
        row["sent_at"],
    )


def claim(conn: sqlite3.Connection, alert: Alert, states: Sequence[str], retry_at: str) -> bool:
    """Count an attempt and push the next one to `retry_at` before sending; False if taken."""
    marks = ", ".join("?" * len(states))
    with transaction(conn):
        found = conn.execute(
            "UPDATE alert_outbox SET attempts = attempts + 1, next_attempt_at = ? "
            f"WHERE id = ? AND attempts = ? AND state IN ({marks}) RETURNING id",
            (retry_at, alert.id, alert.attempts, *states),
        ).fetchone()
    return found is not None


def finish(conn: sqlite3.Connection, alert_id: int, state: str, error: str | None = None) -> None:
    """Record an attempt's outcome: `sent` (with the time), or pending/failed/maybe and why."""
    if state not in STATES:
        raise ValueError(f"unknown alert state {state!r}")
    with transaction(conn):
        conn.execute(
            "UPDATE alert_outbox SET state = ?, last_error = ?, sent_at = ? WHERE id = ?",
            (state, error, utc_now() if state == "sent" else None, alert_id),
        )


def counts(conn: sqlite3.Connection) -> dict[str, RouteCounts]:
    """Per route (every route ever seen), alerts by state and the last send time."""
    by_route: dict[str, dict[str, Any]] = {
        name: {} for (name,) in conn.execute("SELECT name FROM alert_routes ORDER BY name")
    }
    for route, state, count, last in conn.execute(
        "SELECT route, state, COUNT(*), MAX(sent_at) FROM alert_outbox GROUP BY route, state"
    ):
        by_route.setdefault(route, {})[state] = count
        if state == "sent":
            by_route[route]["last_sent_at"] = last
    return {route: RouteCounts(**values) for route, values in sorted(by_route.items())}
