"""One publication as a digest shows it, the same for every format.

Enters: a publication dict from the archive's digest reads (stored fields, tag result, `late`,
`sent_version`). Leaves: `Item`, plain values only: a one-line title, a link only when the URL is
http(s) (anything else is shown as text), agency names, type, date, tags, a "why" sentence per tag
with the rule ids apart for small print, key entities, tagger dates, the PDF link of the raw record
when it is http(s), the late / changed markers, `related`: the linked press releases or Federal
Register documents (title, link only when http(s), source id, date), the watch-list hits
(`watch_hits`: item, matched text, field, quoted sentence), what the rule did to the screening
lists (`screening`, "adds N parties in M countries; …") and the EAR paragraphs it changed
(`section_changes`: "§ 744.23(a)(2): old → new" with both eCFR versions linked, http(s) only),
when the publication dict carries them (`Archive.rule_context`). A screening-list party that
touched the watch-list (its alert payload, `Archive.screening_watch_hits`) becomes a `PartyItem`:
what happened to it on which list, the day, the rule it cites (linked when stored, http(s) only)
and its watch-list hits. Nothing here escapes: templates do, per format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nlp.rules import primary_tags
from regwatch.inert import http_url, one_line

PRIMARY = primary_tags()
ENTITY_KINDS = {
    "eccns": "ECCNs",
    "cfr": "CFR",
    "countries": "countries",
    "country_groups": "country groups",
    "license_exceptions": "license exceptions",
    "rins": "RINs",
    "entity_names": "entities named",
}
DATE_SLOTS = {
    "comments_close_on": "comments close",
    "effective_on": "effective",
    "compliance_on": "compliance by",
    "meeting_on": "meeting",
}
FIELD_WORDS = {
    "title": "the title says",
    "abstract": "the abstract mentions",
    "action": "the action reads",
    "agencies": "the issuing agency is",
    "cfr_references": "it amends",
    "topics": "its topics include",
    "dates": "its dates mention",
    "body": "the full text mentions",
}
MAX_QUOTES = 3
MAX_ENTITIES = 8


@dataclass(frozen=True)
class Why:
    """Why one tag was given: a sentence for a person and the rules behind it."""

    tag: str
    label: str
    sentence: str
    rules: list[str]


@dataclass(frozen=True)
class Related:
    """A press release or document linked to the item."""

    title: str
    url: str | None
    source_id: str
    publication_date: str


@dataclass(frozen=True)
class WatchLine:
    """One watched item a publication touches, and the sentence where it stands."""

    item: str
    matched: str
    field: str
    quote: str


@dataclass(frozen=True)
class SectionLine:
    """One changed EAR paragraph under the rule that changed it."""

    label: str
    old: str
    new: str
    old_date: str
    new_date: str
    old_url: str | None
    new_url: str | None


@dataclass(frozen=True)
class Item:
    """A publication in a digest."""

    id: int
    version: int
    source_id: str
    title: str
    url: str | None
    url_text: str | None
    agencies: list[str]
    type: str
    publication_date: str
    tags: list[str]
    why: list[Why]
    entities: list[tuple[str, list[str]]]
    dates: list[tuple[str, str]]
    pdf_url: str | None
    late: bool
    withdrawn_at: str | None
    sent_version: int | None
    related: list[Related] = field(default_factory=list)
    watch: list[WatchLine] = field(default_factory=list)
    screening: str | None = None
    section_changes: tuple[SectionLine, ...] = ()

    @property
    def primary(self) -> frozenset[str]:
        return frozenset(self.tags) & frozenset(PRIMARY)


@dataclass(frozen=True)
class PartyItem:
    """A screening-list party that touched the watch-list (added to, changed on or removed from a
    list)."""

    title: str  # "ACME Ltd (China) added to the Entity List"
    url: str | None  # the rule its notice cites, when stored
    day: str
    screening: str | None  # "cites 89 FR 12345"
    watch: list[WatchLine]


def party_item(payload: dict[str, Any]) -> PartyItem:
    """The digest view of one screening-list party's alert payload."""
    return PartyItem(
        title=one_line(payload.get("title")) or "(unnamed party)",
        url=http_url(one_line(payload.get("url"))),
        day=one_line(payload.get("publication_date")),
        screening=one_line(payload.get("screening")) or None,
        watch=_watch_lines(payload.get("watch")),
    )


def _watch_lines(hits: Any) -> list[WatchLine]:
    return [
        WatchLine(*(one_line(hit.get(k)) for k in ("item", "matched", "field", "quote")))
        for hit in hits or []
        if isinstance(hit, dict)
    ]


def item(pub: dict[str, Any]) -> Item:
    """The digest view of one publication."""
    url = one_line(pub.get("url"))
    return Item(
        id=pub["id"],
        version=pub["version"],
        source_id=one_line(pub["source_id"]),
        title=one_line(pub["title"]) or "(untitled)",
        url=http_url(url),
        url_text=None if http_url(url) else url,
        agencies=[
            one_line(a.get("name") or a.get("raw_name"))
            for a in pub.get("agencies") or []
            if isinstance(a, dict) and (a.get("name") or a.get("raw_name"))
        ],
        type=one_line(pub.get("type")) or "Document",
        publication_date=pub["publication_date"],
        tags=list(pub.get("tags") or []),
        why=[
            reason
            for tag in pub.get("tags") or []
            if (reason := why(tag, (pub.get("evidence") or {}).get(tag) or []))
        ],
        entities=entities(pub.get("entities") or {}),
        dates=[
            (DATE_SLOTS[slot], value)
            for slot, value in (pub.get("tag_dates") or {}).items()
            if slot in DATE_SLOTS and isinstance(value, str)
        ],
        pdf_url=_pdf(pub.get("raw")),
        late=bool(pub.get("late")),
        withdrawn_at=one_line(pub.get("withdrawn_at")) or None,
        sent_version=pub.get("sent_version"),
        related=[
            Related(
                one_line(r.get("title")) or "(untitled)",
                http_url(one_line(r.get("url"))),
                one_line(r.get("source_id")),
                one_line(r.get("publication_date")),
            )
            for r in pub.get("related") or []
            if isinstance(r, dict)
        ],
        watch=_watch_lines(pub.get("watch_hits")),
        screening=one_line(pub.get("screening")) or None,
        section_changes=tuple(section_line(line) for line in pub.get("section_changes") or ()),
    )


def section_line(line: dict[str, Any]) -> SectionLine:
    """A changed paragraph: `(added)` / `(removed)` for a paragraph only one version has."""
    return SectionLine(
        label=one_line(line.get("label")),
        old=one_line(line.get("old")) or "(added)",
        new=one_line(line.get("new")) or "(removed)",
        old_date=one_line(line.get("old_date")),
        new_date=one_line(line.get("new_date")),
        old_url=http_url(one_line(line.get("old_url"))),
        new_url=http_url(one_line(line.get("new_url"))),
    )


def tag_label(tag: str) -> str:
    """`ai` → `AI`, `export_control` → `export control`."""
    return "AI" if tag == "ai" else tag.replace("_", " ")


def why(tag: str, hits: list[dict[str, Any]]) -> Why | None:
    """`Export control: the title says “Export Controls”; the abstract mentions “EAR”.`"""
    support = [h for h in hits if isinstance(h, dict) and h.get("effect") == "support"]
    if not support:
        return None
    by_field: dict[str, list[str]] = {}
    for hit in support:
        quotes = by_field.setdefault(str(hit.get("field")), [])
        text = one_line(hit.get("text"))
        if text and text not in quotes and len(quotes) < MAX_QUOTES:
            quotes.append(text)
    clauses = [
        f"{FIELD_WORDS.get(field, f'its {field} mention')} {_quoted(quotes)}"
        for field, quotes in by_field.items()
        if quotes
    ]
    label = tag_label(tag)
    sentence = f"{label[0].upper()}{label[1:]} because {'; '.join(clauses)}."
    rules = list(dict.fromkeys(str(h.get("rule")) for h in support if h.get("rule")))
    return Why(tag, label, sentence, rules)


def _quoted(quotes: list[str]) -> str:
    marked = [f"“{q}”" for q in quotes]
    return marked[0] if len(marked) == 1 else f"{', '.join(marked[:-1])} and {marked[-1]}"


def entities(found: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """Key entities in a fixed order: (label, distinct values)."""
    shown = []
    for kind, label in ENTITY_KINDS.items():
        values = [one_line(m.get("value") or m.get("text")) for m in found.get(kind) or [] if m]
        values = list(dict.fromkeys(v for v in values if v))[:MAX_ENTITIES]
        if values:
            shown.append((label, values))
    return shown


def _pdf(raw: Any) -> str | None:
    url = one_line(raw.get("pdf_url")) if isinstance(raw, dict) else ""
    return http_url(url)
