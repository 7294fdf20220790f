"""Federal Register API records → `Publication`.

Enters: one document object as the Federal Register API returns it (`documents.json` results,
single-document bodies, or JSON lines of that shape for `regwatch import`).
Leaves: a `Publication` for the archive, or `ValueError` naming what is missing.
"""

from __future__ import annotations

from typing import Any

from archive.records import Publication

SOURCE = "federal_register"
# Fields that change on every fetch and say nothing about the document: never part of `raw`.
VOLATILE_FIELDS = ("page_views",)


def publication_from_fr(record: dict[str, Any], source: str = SOURCE) -> Publication:
    """Normalise one Federal-Register-shaped record; raises `ValueError` if it cannot be stored."""
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    number = _text(record.get("document_number"))
    title = _text(record.get("title"))
    date = _text(record.get("publication_date"))
    missing = [
        k
        for k, v in (("document_number", number), ("title", title), ("publication_date", date))
        if not v
    ]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    return Publication(
        source=source,
        source_id=number,
        title=title,
        publication_date=date,
        url=_text(record.get("html_url")),
        type=_text(record.get("type")),
        agencies=[a for a in record.get("agencies") or [] if isinstance(a, dict)],
        abstract=_text(record.get("abstract")),
        action=_text(record.get("action")),
        dates=_text(record.get("dates")),
        effective_on=_text(record.get("effective_on")),
        comments_close_on=_text(record.get("comments_close_on")),
        cfr_references=[c for c in record.get("cfr_references") or [] if isinstance(c, dict)],
        regulation_id_numbers=_strings(record.get("regulation_id_numbers")),
        docket_ids=_strings(record.get("docket_ids")),
        topics=_strings(record.get("topics")),
        body_text=_text(record.get("body_text")),
        raw={k: v for k, v in record.items() if k not in VOLATILE_FIELDS},
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value or [] if v is not None and str(v).strip()]
