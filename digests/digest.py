"""Select a digest period from the archive and write it as an HTML file.

Enters: an open `archive.Archive` (read only), the period length in days, an optional end date,
and the primary tags (the tagger's, from `nlp.rules.primary_tags`) that make a publication relevant.
Leaves: a `Digest` (period, relevant tagged publications, the others) and, from `write_digest`,
the path of the rendered HTML file. Until the digest issue lands this is a plain HTML list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from digests.render import render


@dataclass(frozen=True)
class Digest:
    """One period's publications: `relevant` carry a primary tag; `tagged` is False if none are."""

    start: str
    end: str
    relevant: list[dict[str, Any]]
    others: list[dict[str, Any]]
    tagged: bool

    @property
    def total(self) -> int:
        return len(self.relevant) + len(self.others)


def build_digest(
    archive: Any, *, days: int, primary: Sequence[str], until: str | None = None
) -> Digest:
    """Collect the `days` days ending on `until` (default: the newest stored publication date);
    a publication carrying one of the `primary` tags is relevant."""
    end = until or _newest_date(archive) or date.today().isoformat()
    start = (date.fromisoformat(end) - timedelta(days=days - 1)).isoformat()
    relevant, others = [], []
    for row in archive.publications(since=start, until=end):
        (relevant if set(row["tags"] or ()) & set(primary) else others).append(row)
    tagged = any(row["tags"] is not None for row in relevant + others)
    return Digest(start, end, relevant, others, tagged)


def write_digest(digest: Digest, output_dir: Path) -> Path:
    """Render `digest` to `<output_dir>/digest-<start>-to-<end>.html` and return that path."""
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / f"digest-{digest.start}-to-{digest.end}.html"
    path.write_text(render("digest.html", digest=digest), encoding="utf-8")
    return path


def _newest_date(archive: Any) -> str | None:
    newest = archive.publications(limit=1)
    return newest[0]["publication_date"] if newest else None
