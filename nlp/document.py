"""Federal-Register-shaped documents -> the text the pipeline reads, plus its metadata.

Enters: one document as a dict with the Federal Register API's field names and the field rules of
`patterns/fields.jsonl` (which fields are read, in which order). Nothing in a document is trusted:
any field may be missing, None or of the wrong type. A text field that holds a number is read as
that number's text, a list as its items joined with "; "; anything else (objects, booleans) is
ignored. `agencies` may be API objects, plain strings or one string; `cfr_references` keep only
objects with a `title` of at most three digits 0-9 and a `part`; identifier lists keep their
string and number items.
Each field is read in its plain form (`nlp.fold`: soft hyphens and zero-width characters removed,
no-break spaces, typographic hyphens and full-width forms read as plain ones); what is found in it
is quoted and located in the field as the document has it.
Leaves: `DocumentText`: one string with every field laid end to end (whole: nothing is cut), the
character span of each field inside it, the fields whose plain form differs, and the metadata
(CFR references, dates, identifiers) the components need; `DocumentText.quote` turns a span of
the string into (field, offsets inside the field, text) as the document has them; `split_text`,
the pieces a text longer than spaCy's `max_length` is tokenized in; `DocState`, what the pipeline
components write for one document (held by `doc._.regwatch`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from nlp.fold import Folded, fold

FIELD_SEPARATOR = "\n\n"
TITLE_DIGITS = 3  # a CFR title is 1 to 50: a longer number (or "²", a digit but not 0-9) is junk


class Quote(NamedTuple):
    """A span as the document has it: its field, offsets inside that field, and its text."""

    field: str
    start: int
    end: int
    text: str


@dataclass(slots=True)
class DocumentText:
    """The concatenated plain text of a document, where each field sits in it, and the fields
    whose plain form differs from what the document holds (by name)."""

    text: str
    fields: list[tuple[str, int, int]]
    meta: dict[str, Any] = field(default_factory=dict)
    folded: dict[str, Folded] = field(default_factory=dict)

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

    def quote(self, start: int, end: int) -> Quote:
        """text[start:end] (lying in the field holding `start`) as the document has it."""
        name, offset = self.field_at(start)
        start, end = start - offset, end - offset
        folded = self.folded.get(name)
        if folded is None:
            return Quote(name, start, end, self.text[offset + start : offset + end])
        start, end = folded.source_span(start, end)
        return Quote(name, start, end, folded.source[start:end])

    def text_span(self, name: str, start: int, end: int) -> tuple[int, int]:
        """Where [start, end) of field `name`, as the document has it, lies in `text`."""
        begin = next(b for n, b, _ in self.fields if n == name)
        folded = self.folded.get(name)
        if folded is not None:
            start, end = folded.plain_span(start, end)
        return begin + start, begin + end


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
    """Lay the plain form of the fields named by `field_rules` end to end; keep the metadata the
    rules need."""
    if not isinstance(document, dict):
        raise TypeError(f"a document must be a JSON object, not {type(document).__name__}")
    values: list[str] = []
    spans: list[tuple[str, int, int]] = []
    folded: dict[str, Folded] = {}
    offset = 0
    for rule in field_rules:
        name = rule["field"]
        read = fold(field_value(document, name))
        value = read.plain
        if value:
            values.append(value)
            spans.append((name, offset, offset + len(value)))
            offset += len(value) + len(FIELD_SEPARATOR)
        if value is not read.source:
            folded[name] = read
    text = FIELD_SEPARATOR.join(values)
    return DocumentText(text, spans, document_meta(document), folded)


def field_value(document: dict[str, Any], name: str) -> str:
    """One field as plain text; list fields (agencies, topics) are joined with '; '."""
    value = document.get(name)
    if name == "agencies":
        agencies = value if isinstance(value, list) else [value]
        return "; ".join(filter(None, map(agency_name, agencies)))
    if isinstance(value, list):
        return "; ".join(filter(None, (_text(v).strip() for v in value)))
    return _text(value)


def agency_name(agency: Any) -> str:
    """An agency object's name (or its slug spelled out), or a plain string as given."""
    if isinstance(agency, dict):
        keys = ("name", "raw_name", "slug")
        name = next(filter(None, (_text(agency.get(k)) for k in keys)), "")
    else:
        name = agency if isinstance(agency, str) else ""
    return name.replace("-", " ") if "-" in name and " " not in name else name.strip()


def document_meta(document: dict[str, Any]) -> dict[str, Any]:
    """The structured API fields the extractor turns into entities and dates."""
    return {
        "cfr_references": _cfr_references(document.get("cfr_references")),
        "regulation_id_numbers": _strings(document.get("regulation_id_numbers")),
        "docket_ids": _strings(document.get("docket_ids")),
        "publication_date": _date(document.get("publication_date")),
        "effective_on": _date(document.get("effective_on")),
        "comments_close_on": _date(document.get("comments_close_on")),
    }


def split_text(text: str, size: int) -> list[str]:
    """Cut `text` into pieces of at most `size` characters that join back to it exactly.

    Each cut falls after the last paragraph break ("\n\n") in the second half of the window,
    else after the last sentence end (". "), else after the last whitespace, else at `size`
    (a text with no whitespace at all), so a cut never falls inside a word the tokenizer reads.
    """
    pieces = []
    start = 0
    while len(text) - start > size:
        window = text[start : start + size]
        cut = next(
            (at + len(mark) for mark in _CUTS if (at := window.rfind(mark, size // 2)) >= 0),
            size,
        )
        pieces.append(window[:cut])
        start += cut
    pieces.append(text[start:])
    return pieces


_CUTS = ("\n\n", ". ", "\n", " ")


def _text(value: Any) -> str:
    """A scalar as text: a string as given, a number spelled out; anything else is ignored."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _strings(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [text for v in items if (text := _text(v).strip())]


def _date(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _cfr_references(value: Any) -> list[dict[str, Any]]:
    """API CFR references as `{"title": int, "part": str}`; anything else is left out."""
    references = []
    for ref in value if isinstance(value, list) else []:
        if not isinstance(ref, dict):
            continue
        title, part = _text(ref.get("title")).strip(), _text(ref.get("part")).strip()
        if title.isascii() and title.isdigit() and len(title) <= TITLE_DIGITS and part:
            references.append({"title": int(title), "part": part})
    return references
