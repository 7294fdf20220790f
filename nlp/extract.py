"""Identifier extraction by regular expressions run over the document text.

Enters: `DocumentText` (fields laid end to end, with the API metadata) and the rules of
`patterns/identifiers.jsonl` (a rule with `requires_text` runs only where one of those literals
occurs). Countries are matched on tokens by the spaCy component and added with `add_mention`.
Leaves: `{entity: [mention, ...]}` where a mention is
`{"value", "text", "field", "start", "end", "rule"}` (`value` read on the plain text, `text` and
the offsets inside the field as the document has them; a match that straddles two fields is
dropped; a RIN or docket is read with hyphens whatever dashes join it; an ECCN range gives both its
ends, `3A090.a-c` 3A090.a and 3A090.c quoting the range, a chain `3A001-3A003-3A005` each of
its ECCNs, and a list `3A090.a, .b and .c` each paragraph in full, quoting `.b` and `.c`), one
mention per
distinct value (the first), in reading order. API fields (`cfr_references`,
`regulation_id_numbers`, `docket_ids`) join the same lists with `field` set to the API field name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from nlp.document import DocumentText

Mention = dict[str, Any]
# En and em dashes, the horizontal bar and the small em dash, read as the hyphen identifiers are
# written with (the plain text folds the other hyphen look-alikes already: `nlp.fold`).
DASHES = str.maketrans(dict.fromkeys("\u2013\u2014\u2015\ufe58", "-"))


class Extractor:
    """Compiled identifier rules; `extract(doc_text)` returns the entities."""

    def __init__(self, identifiers: list[dict[str, Any]]):
        self.identifiers = identifiers
        self._compiled = [
            (
                rule,
                re.compile(rule["regex"]),
                tuple(rule.get("requires_text", ())),
                NORMALISERS.get(rule["entity"], _plain),
            )
            for rule in identifiers
        ]

    def extract(self, doc_text: DocumentText) -> dict[str, list[Mention]]:
        """All entities of one document, API fields first, then text mentions."""
        found: dict[str, list[Mention]] = {}
        for entity, mention in self._api_mentions(doc_text.meta):
            add_mention(found, entity, mention)
        for entity, mention in self._text_mentions(doc_text):
            add_mention(found, entity, mention)
        return found

    def _text_mentions(self, doc_text: DocumentText) -> Iterator[tuple[str, Mention]]:
        text = doc_text.text
        for rule, pattern, literals, normalise in self._compiled:
            if literals and not _any_in(literals, text):
                continue
            for match in pattern.finditer(text):
                if doc_text.locate(match.start(), match.end()) is None:
                    continue
                for mention in normalise(match, rule):
                    field, start, end, quote = doc_text.quote(mention["start"], mention["end"])
                    mention.update(text=quote, start=start, end=end, field=field, rule=rule["id"])
                    yield rule["entity"], mention

    @staticmethod
    def _api_mentions(meta: dict[str, Any]) -> Iterator[tuple[str, Mention]]:
        for ref in meta.get("cfr_references", []):
            value = f"{ref['title']} CFR {ref['part']}"
            yield "cfr", _api(value, "cfr_references", title=ref["title"], part=ref["part"])
        for rin in meta.get("regulation_id_numbers", []):
            yield "rins", _api(rin, "regulation_id_numbers")
        for docket in meta.get("docket_ids", []):
            yield "dockets", _api(docket, "docket_ids")


def _any_in(literals: tuple[str, ...], text: str) -> bool:
    """Cheap pre-check: does one of a rule's `requires_text` literals occur in the text?"""
    return any(map(text.__contains__, literals))


def add_mention(found: dict[str, list[Mention]], entity: str, mention: Mention) -> None:
    """Append a mention unless its value is already listed for that entity."""
    mentions = found.setdefault(entity, [])
    if all(m["value"] != mention["value"] for m in mentions):
        mentions.append(mention)


def _api(value: str, field: str, **extra: Any) -> Mention:
    return {"value": value, "text": value, "field": field, "start": None, "end": None, **extra}


def _mention(value: str, match: re.Match[str], group: int | str) -> Mention:
    return {
        "value": value,
        "text": match.group(group),
        "start": match.start(group),
        "end": match.end(group),
    }


def _part(value: str, match: re.Match[str], group: str, part: re.Match[str]) -> Mention:
    """A mention quoting `part`, a match found inside `group` of `match`."""
    start = match.start(group) + part.start()
    return {"value": value, "text": part.group(), "start": start, "end": start + len(part.group())}


def _span(value: str, match: re.Match[str], first: str, last: str) -> Mention:
    """A mention quoting `match` from its group `first` to its group `last`."""
    start, end = match.start(first), match.end(last)
    return {"value": value, "text": match.string[start:end], "start": start, "end": end}


def _plain(match: re.Match[str], rule: dict[str, Any]) -> list[Mention]:
    """The match (its `value` group if it has one), spaces collapsed and dashes read as hyphens
    (`0694–AJ90` and `BIS–2024–0047` pasted with en dashes: `0694-AJ90`, `BIS-2024-0047`)."""
    group: int | str = "value" if "value" in match.re.groupindex else 0
    value = " ".join(match.group(group).split()).translate(DASHES)
    return [_mention(value, match, group)]


def _cfr(match: re.Match[str], rule: dict[str, Any]) -> list[Mention]:
    title, part, section = (match.groupdict().get(k) for k in ("title", "part", "section"))
    number = f"{part}.{section}" if section else part
    value = f"{title} CFR {number}" if title else ("§ " if section else "part ") + number
    mention = _mention(value, match, 0)
    mention.update(title=int(title) if title else None, part=part)
    return [mention]


def _eccns(match: re.Match[str], rule: dict[str, Any]) -> list[Mention]:
    """An ECCN, both ends of a range (`3A001-3A003`, `3A090.a-c`: 3A090.a and 3A090.c), each
    ECCN of a chain (`3A001-3A003-3A005`), and each paragraph listed after them in full, read on
    the ECCN before it (`3A090.a, .b and c`: 3A090.a, 3A090.b and 3A090.c)."""
    first, last = match.group("first"), match.groupdict().get("last")
    mentions = [_mention(first, match, "first")]
    if last and ECCN.match(last):
        mentions += [_part(eccn.group(), match, "last", eccn) for eccn in ECCN.finditer(last)]
    elif last and (end := _item_range_end(first, last)):
        mentions.append(_span(end, match, "first", "last"))
    for paragraph in PARAGRAPH.finditer(match.groupdict().get("listed") or ""):
        if value := _item_range_end(mentions[-1]["value"], paragraph.group()):
            mentions.append(_part(value, match, "listed", paragraph))
    return mentions


def _item_range_end(first: str, last: str) -> str | None:
    """`3A090.a` to `c` -> `3A090.c`: the end's items replace as many of the first's last items,
    each a letter for a letter, a digit for a digit; None when they cannot."""
    items, ends = first.split("."), last.lstrip(".").split(".")
    kept = len(items) - len(ends)  # items[0] is the ECCN itself, never replaced
    if kept < 1:
        return None
    kinds = (a.isdigit() == b.isdigit() for a, b in zip(items[kept:], ends, strict=True))
    return ".".join(items[:kept] + ends) if all(kinds) else None


def _codes(match: re.Match[str], rule: dict[str, Any]) -> list[Mention]:
    allowed = set(rule.get("values", []))
    base = match.start("list")
    return [
        {
            "value": code.group(0),
            "text": code.group(0),
            "start": base + code.start(),
            "end": base + code.end(),
        }
        for code in re.finditer(r"\b[A-Z]{3}\b", match.group("list"))
        if not allowed or code.group(0) in allowed
    ]


NORMALISERS: dict[str, Callable[[re.Match[str], dict[str, Any]], list[Mention]]] = {
    "cfr": _cfr,
    "eccns": _eccns,
    "license_exceptions": _codes,
}
# The named groups a normaliser reads: the regex of a rule for that entity must define them.
GROUPS = {
    "cfr": ("part",),
    "eccns": ("first",),
    "license_exceptions": ("list",),
}
ECCN = re.compile(r"[0-9][A-EY][0-9]{3}(?:\.[a-z0-9]{1,3})*")
# A paragraph in the `listed` group of an ECCN rule (`.b`, `b`, `b.3`), not a word joining them.
PARAGRAPH = re.compile(r"(?:\.[a-z0-9]{1,3}|(?<![\w.])[a-z](?![a-z0-9]))(?:\.[a-z0-9]{1,3})*")
