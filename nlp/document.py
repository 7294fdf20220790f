"""Federal-Register-shaped documents -> the text the pipeline reads, plus its metadata.

Enters: one document as a dict with the Federal Register API's field names (any may be missing
or None; `agencies` may hold API objects or plain strings) and the field rules of
`patterns/fields.jsonl` (which fields are read, in which order, and how much text of each).
Leaves: `DocumentText`: one string with every field laid end to end, the character span of each
field inside it, and the metadata (CFR references, dates, identifiers) the components need;
`DocState`, what the pipeline components write for one document (held by `doc._.regwatch`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FIELD_SEPARATOR = "\n\n"


@dataclass(slots=True)
class DocumentText:
    """The concatenated text of a document and where each field sits in it."""

    text: str
    fields: list[tuple[str, int, int]]
    meta: dict[str, Any] = field(default_factory=dict)

    def field_at(self, start: int) -> tuple[str, int]:
        """Name of the field holding character `start`, and that field's offset in `text`."""
        for name, begin, end in self.fields:
            if begin <= start < end:
                return name, begin
        return "text", 0

    def locate(self, start: int, end: int) -> tuple[str, int] | None:
        """(field, field offset) of a text span lying inside one field; None if it straddles."""
        for name, begin, stop in self.fields:
            if begin <= start < stop:
                return (name, begin) if end <= stop else None
        return None


@dataclass(slots=True)
class DocState:
    """Per-document results the components leave on the Doc, beside `doc.cats`."""

    text: DocumentText
    entities: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    dates: dict[str, str] = field(default_factory=dict)
    date_evidence: list[dict[str, Any]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    evidence: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def document_text(document: dict[str, Any], field_rules: list[dict[str, Any]]) -> DocumentText:
    """Lay the fields named by `field_rules` end to end; keep the metadata the rules need."""
    values: list[str] = []
    spans: list[tuple[str, int, int]] = []
    offset = 0
    for rule in field_rules:
        name = rule["field"]
        value = document.get(name) and field_value(document, name)[: rule.get("max_chars") or None]
        if value:
            values.append(value)
            spans.append((name, offset, offset + len(value)))
            offset += len(value) + len(FIELD_SEPARATOR)
    return DocumentText(FIELD_SEPARATOR.join(values), spans, document_meta(document))


def field_value(document: dict[str, Any], name: str) -> str:
    """One field as plain text; list fields (agencies, topics) are joined with '; '."""
    value = document.get(name)
    if name == "agencies":
        return "; ".join(agency_name(a) for a in value or [] if agency_name(a))
    if isinstance(value, list):
        return "; ".join(str(v).strip() for v in value if v is not None and str(v).strip())
    return str(value) if value else ""


def agency_name(agency: Any) -> str:
    """An agency object's name (or its slug spelled out), or a plain string as given."""
    if isinstance(agency, dict):
        name = agency.get("name") or agency.get("raw_name") or agency.get("slug") or ""
    else:
        name = str(agency or "")
    return name.replace("-", " ") if "-" in name and " " not in name else name.strip()


def document_meta(document: dict[str, Any]) -> dict[str, Any]:
    """The structured API fields the extractor turns into entities and dates."""
    return {
        "cfr_references": [c for c in document.get("cfr_references") or [] if isinstance(c, dict)],
        "regulation_id_numbers": _strings(document.get("regulation_id_numbers")),
        "docket_ids": _strings(document.get("docket_ids")),
        "publication_date": document.get("publication_date") or None,
        "effective_on": document.get("effective_on") or None,
        "comments_close_on": document.get("comments_close_on") or None,
    }


def _strings(value: Any) -> list[str]:
    return [str(v).strip() for v in value or [] if v is not None and str(v).strip()]
