"""Federal Register API records → `Publication`, every field checked and typed at the boundary.

Enters: one document object as the Federal Register API returns it (`documents.json` results,
single-document bodies, or JSON lines of that shape for `regwatch import`; a public-inspection
record for `publication_from_pi`); crawl and import both come through here. Any field may be null.
Leaves: a `Publication` whose fields all have the types it declares, in the family
`fr:<document number>` (a filing on public inspection and the published document share it), or
`ValueError` naming the first field that cannot be normalised and why (the caller adds the line or
document number).

The rules:
- text fields take a string (stripped; blank means absent) or null; a whole number is written as
  its decimal text (`"title": 1984` → `"1984"`); true/false, fractions, lists and objects reject
  the record. `document_number`, `title` and `publication_date` are required, and a
  `document_number` holding spaces, control characters or bidi controls rejects it (it keys the
  document in every output: calendar UIDs, links, messages, the `show` argument).
- date fields are ISO dates `YYYY-MM-DD` or null.
- `agencies` and `cfr_references` are lists of objects (null means empty). An agency's `name`,
  `raw_name` and `slug` follow the text rule; a CFR reference's `title` is a whole number (digits
  as text accepted) and its `part` follows the text rule.
- `regulation_id_numbers`, `docket_ids` and `topics` are lists of text items; null and blank
  items are dropped.
- a public-inspection record is read as a document: its `docket_numbers` are the `docket_ids`,
  and a filing not yet scheduled (no `publication_date`) is dated by its
  `last_public_inspection_issue`; the record as received stays in `raw`.
"""

from __future__ import annotations

from typing import Any

from archive.records import Publication, iso_date
from regwatch.inert import one_line
from regwatch.jsonl import json_type

SOURCE = "federal_register"
PI_SOURCE = "federal_register_pi"
FAMILY = "fr:{}"  # the record family of a Federal Register document number
# Fields that change on every fetch and say nothing about the document: never part of `raw`.
VOLATILE_FIELDS = ("page_views",)
REQUIRED = ("document_number", "title", "publication_date")
# Publication field ← API field, for the single text fields.
TEXT_FIELDS = {
    "url": "html_url",
    "type": "type",
    "abstract": "abstract",
    "action": "action",
    "dates": "dates",
    "body_text": "body_text",
}
DATE_FIELDS = ("effective_on", "comments_close_on")
STRING_LISTS = ("regulation_id_numbers", "docket_ids", "topics")
AGENCY_NAMES = ("name", "raw_name", "slug")


def publication_from_fr(record: dict[str, Any], source: str = SOURCE) -> Publication:
    """Normalise one Federal-Register-shaped record; raises `ValueError` if it cannot be stored."""
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {json_type(record)}")
    required = {name: _text(record.get(name), name) for name in REQUIRED}
    missing = [name for name, value in required.items() if not value]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    number = required["document_number"]
    if one_line(number) != number or " " in number:
        raise ValueError(
            f"document_number holds spaces or control characters: {ascii(number[:40])}"
        )
    return Publication(
        source=source,
        source_id=required["document_number"],
        title=required["title"],
        publication_date=_date(record, "publication_date"),
        **{name: _text(record.get(key), key) for name, key in TEXT_FIELDS.items()},
        **{name: _date(record, name) for name in DATE_FIELDS},
        **{name: _strings(record, name) for name in STRING_LISTS},
        agencies=[_agency(item, i) for i, item in enumerate(_list(record, "agencies"))],
        cfr_references=[_cfr(item, i) for i, item in enumerate(_list(record, "cfr_references"))],
        raw=_kept(record),
        family=FAMILY.format(required["document_number"]),
    )


def publication_from_pi(record: dict[str, Any], source: str = PI_SOURCE) -> Publication:
    """Normalise one public-inspection record; raises `ValueError` if it cannot be stored."""
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {json_type(record)}")
    shaped = {
        **record,
        "docket_ids": record.get("docket_numbers"),
        "publication_date": record.get("publication_date")
        or record.get("last_public_inspection_issue"),
    }
    publication = publication_from_fr(shaped, source)
    publication.raw = _kept(record)
    return publication


def _kept(record: dict[str, Any]) -> dict[str, Any]:
    """A copy of `record` without its `VOLATILE_FIELDS`, keys in their order."""
    kept = dict(record)
    for name in VOLATILE_FIELDS:
        kept.pop(name, None)
    return kept


def _text(value: Any, label: str) -> str | None:
    """`value` as stripped text (None when null or blank); `ValueError` naming `label` if not."""
    if isinstance(value, str):  # first: nearly every value is
        return value.strip() or None
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"{label} must be text or a whole number, got {json_type(value)}")


def _date(record: dict[str, Any], name: str) -> str | None:
    value = _text(record.get(name), name)
    if value is not None and iso_date(value) is None:
        raise ValueError(f"{name} is not an ISO date (YYYY-MM-DD): {value[:40]!r}")
    return value


def _list(record: dict[str, Any], name: str) -> list[Any]:
    value = record.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{name} must be a list, got {json_type(value)}")
    return value


def _strings(record: dict[str, Any], name: str) -> list[str]:
    texts = []
    for index, value in enumerate(_list(record, name)):  # the label is made for a bad item only
        text = value.strip() if isinstance(value, str) else _text(value, f"{name}[{index}]")
        if text:
            texts.append(text)
    return texts


def _agency(item: Any, index: int) -> dict[str, Any]:
    label = f"agencies[{index}]"
    if not isinstance(item, dict):
        raise ValueError(f"{label} must be an object, got {json_type(item)}")
    names = {key: _text(item[key], f"{label}.{key}") for key in AGENCY_NAMES if key in item}
    return {**item, **names}


def _cfr(item: Any, index: int) -> dict[str, Any]:
    label = f"cfr_references[{index}]"
    if not isinstance(item, dict):
        raise ValueError(f"{label} must be an object, got {json_type(item)}")
    title = _text(item.get("title"), f"{label}.title")
    if title is not None and not (title.isascii() and title.isdigit()):
        raise ValueError(f"{label}.title must be a whole number, got {title[:40]!r}")
    typed = {"title": int(title) if title is not None else None}
    if "part" in item:
        typed["part"] = _text(item["part"], f"{label}.part")
    return {**item, **typed}
