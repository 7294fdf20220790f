"""The digest log: which digest was sent to which recipient list, and what it contained.

Enters: a list name, a period (`start`, `end`, ISO dates), the subject and recipients of a message
that was accepted by the mail server (`maybe`: the whole message went out and the server never
answered, so it may not have arrived), and its items as `(publication_id, version, kind)` with kind
`new`, `late` or `change`. Leaves: rows in `digests_sent` and `digest_items` (one transaction), and
`SentDigest` records read back: the send of a period, the recipients who got a period's digest
(a send refused for some is recorded with the others; a retry mails only the rest), the first
send of a list (where "late" starts counting), the newest send of every list and the sends whose
stored recipients cannot be read (for `regwatch status`). A recipients cell that is not a JSON list
of addresses (damaged or hand-edited) reads as reaching nobody: that list may get the digest of
that period again, never none, and the send is `damaged`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from archive.db import transaction, utc_now
from archive.rows import loaded

KINDS = ("new", "late", "change")
SELECT = (
    "SELECT d.id, d.list_name, d.period_start, d.period_end, d.sent_at, d.subject, d.recipients, "
    "(SELECT COUNT(*) FROM digest_items i WHERE i.digest_id = d.id) AS items, "
    "d.outcome = 'maybe' AS maybe FROM digests_sent d"
)


@dataclass(frozen=True, slots=True)
class SentDigest:
    """One digest accepted by the mail server for one recipient list."""

    id: int
    list_name: str
    period_start: str
    period_end: str
    sent_at: str
    subject: str
    recipients: list[str]
    items: int
    maybe: bool  # the server never answered the message: it may not have arrived
    damaged: bool = False  # the stored recipients cannot be read: `recipients` is empty


def record_sent(
    conn: sqlite3.Connection,
    list_name: str,
    start: str,
    end: str,
    *,
    subject: str,
    recipients: Sequence[str],
    items: Sequence[tuple[int, int, str]],
    maybe: bool = False,
) -> SentDigest:
    """Record a sent digest and its items in one transaction; return it as stored."""
    bad = [kind for _, _, kind in items if kind not in KINDS]
    if bad:
        raise ValueError(f"digest item kind must be one of {', '.join(KINDS)}, got {bad[0]!r}")
    with transaction(conn):
        digest_id = conn.execute(
            "INSERT INTO digests_sent (list_name, period_start, period_end, sent_at, subject, "
            "recipients, outcome) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                list_name,
                start,
                end,
                utc_now(),
                subject,
                json.dumps(list(recipients)),
                "maybe" if maybe else "sent",
            ),
        ).fetchone()[0]
        conn.executemany(
            "INSERT INTO digest_items (digest_id, publication_id, version, kind) "
            "VALUES (?, ?, ?, ?)",
            [(digest_id, pid, version, kind) for pid, version, kind in items],
        )
    return _one(conn, "WHERE d.id = ?", (digest_id,))


def sent_for_period(
    conn: sqlite3.Connection, list_name: str, start: str, end: str
) -> SentDigest | None:
    """The newest send of this period to `list_name`, or None."""
    return _one(
        conn,
        "WHERE d.list_name = ? AND d.period_start = ? AND d.period_end = ? ORDER BY d.id DESC",
        (list_name, start, end),
    )


def recipients_sent(conn: sqlite3.Connection, list_name: str, start: str, end: str) -> set[str]:
    """Every recipient any send of this period to `list_name` reached."""
    rows = conn.execute(
        "SELECT recipients FROM digests_sent WHERE list_name = ? AND period_start = ? "
        "AND period_end = ?",
        (list_name, start, end),
    )
    return {recipient for (text,) in rows for recipient in _recipients(text) or []}


def first_sent_at(conn: sqlite3.Connection, list_name: str) -> str | None:
    """When `list_name` was first sent a digest (UTC ISO time), or None if never."""
    row = conn.execute(
        "SELECT MIN(sent_at) FROM digests_sent WHERE list_name = ?", (list_name,)
    ).fetchone()
    return row[0]


def last_sent(conn: sqlite3.Connection) -> dict[str, SentDigest]:
    """The newest send of every list that was ever sent one, by list name."""
    rows = conn.execute(
        f"{SELECT} WHERE d.id IN (SELECT MAX(id) FROM digests_sent GROUP BY list_name) "
        "ORDER BY d.list_name"
    )
    return {row[1]: _digest(row) for row in rows}


def damaged_sends(conn: sqlite3.Connection) -> list[SentDigest]:
    """The sends whose stored recipients cannot be read (damaged or hand-edited), oldest first."""
    rows = conn.execute(f"{SELECT} ORDER BY d.id")
    return [digest for digest in map(_digest, rows) if digest.damaged]


def _one(conn: sqlite3.Connection, where: str, args: tuple) -> SentDigest | None:
    row = conn.execute(f"{SELECT} {where} LIMIT 1", args).fetchone()
    return _digest(row) if row else None


def _digest(row: sqlite3.Row | tuple) -> SentDigest:
    values = list(row)
    recipients = _recipients(values[6])
    values[6] = recipients or []
    values[8] = bool(values[8])
    return SentDigest(*values, damaged=recipients is None)


def _recipients(stored: str) -> list[str] | None:
    """The stored JSON list of addresses, or None when it is not one (damaged or hand-edited)."""
    value = loaded(stored, list)
    if value is None or not all(isinstance(address, str) for address in value):
        return None
    return value
