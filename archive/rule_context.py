"""What a rule did beyond its own text: its screening-list joins and the EAR sections it changed.

Enters: an open connection and a publication id (or publication dicts to annotate).
Leaves: `rule_context`: `{"screening": "adds N parties in M countries; K already on other
screening lists" or None, "section_changes": [{"label", "old", "new", "old_date", "new_date",
"old_url", "new_url", "substantive"}, …]}`, one line per changed paragraph of every eCFR change
linked to the rule (excerpts, not whole paragraphs; at most `MAX_LINES`), for digests, alerts and
`regwatch show`; `annotate`, the same merged into document dicts (alert payloads).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from archive.screening import screening_summary
from archive.sections import section_changes

MAX_LINES = 10


def rule_context(conn: sqlite3.Connection, publication_id: int) -> dict[str, Any]:
    """The screening sentence and the section-change lines of one publication."""
    summary = screening_summary(conn, publication_id)
    lines = [
        {
            "label": paragraph["label"],
            "old": paragraph["old_excerpt"],
            "new": paragraph["new_excerpt"],
            "old_date": found["old_date"],
            "new_date": found["new_date"],
            "old_url": found["old_url"],
            "new_url": found["new_url"],
            "substantive": found["substantive"],
        }
        for found in section_changes(conn, publication_id)
        for paragraph in found["changes"]
    ]
    sentence = summary.sentence if summary else None
    return {"screening": sentence, "section_changes": lines[:MAX_LINES]}


def annotate(conn: sqlite3.Connection, docs: Iterable[dict[str, Any]]) -> None:
    """Add `screening` and `section_changes` to each document dict (keyed by its `id`)."""
    for doc in docs:
        doc.update(rule_context(conn, doc["id"]))
