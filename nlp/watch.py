"""A team's watch-list matched against one tagged document: which watched items it touches, where.

Enters: watch items as plain values (`watch_item(kind, value, country, note, origin)` checks and
normalises one: ECCNs with an optional trailing `*`, counterparty names with an optional country,
CFR sections or parts such as `15 CFR 744.23`, license exceptions, country groups such as `D:5`,
free terms), a fuzzy-match threshold, then documents with the Federal Register API's field names
and the tagger's extracted `entities`.
Leaves: `WatchList` (its `fingerprint` changes when an item, the threshold, the name rules, the
character table of `nlp.fold` or `MATCHER_VERSION` change; notes do not count) and, from
`WatchList.match`, hits as plain dicts — `kind`, `item` (the watched value, with its country),
`matched` (what the document says), `field`, `start`, `end` (offsets in that field; None for API
fields), `text`, `quote` (the sentence around it) and `score` — one per watched item and matched
value, in reading order. `WatchError` (a `ValueError` starting with the item's origin, e.g.
`watch.eccns[1]` or `watch.csv line 4`) for a bad item.

Matching: an ECCN matches the document's ECCNs with paragraphs ignored either way (`4A090`
matches `4A090.a`; `4A090.a` matches a mention of `4A090`); `3A090*` matches every ECCN starting
`3A090`. A CFR section matches mentions of that section whatever follows (`744.23` matches
`§ 744.23(a)(2)`; a mention without a title counts unless the document cites the part under
another title); a CFR part matches the part and its sections. License exceptions and country
groups match the extracted ones; a term matches as a phrase, case ignored. A counterparty is
found in the text by `watchnames.NameIndex`; its country, when given, must agree: if the hit's
sentence names countries (else, if the document does), the watched one must be among them.
Names and terms are looked for in the plain form of each field and of each watched value
(`nlp.fold`: soft hyphens and zero-width characters removed, no-break spaces, typographic hyphens
and full-width forms read as plain ones); `matched` is the plain form, `text`, `start`, `end` and
`quote` are those of the field as the document has it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pycountry

from nlp.fold import Folded, fold, fold_version, plain
from nlp.watchnames import NameHit, NameIndex, NameRules, load_name_rules
from regwatch.jsonl import data_file

COUNTRY_CODES = Path(__file__).parent / "patterns" / "watch" / "country_codes.json"
KINDS = ("eccn", "counterparty", "cfr", "license_exception", "country_group", "term")
TEXT_FIELDS = ("title", "action", "abstract", "body")
DEFAULT_THRESHOLD = 90
# Raised when matching finds what it did not before (2: the full text, `body`, is read), so the
# fingerprint changes and the next tag run re-matches the documents of `watch.rematch_days`
# (3: names and terms are found behind invisible and look-alike characters, `nlp.fold`).
MATCHER_VERSION = 3
ECCN = re.compile(r"^[0-9][A-EY][0-9]{3}(?:\.[a-z0-9]{1,3})*$")
ECCN_PREFIX = re.compile(r"^[0-9](?:[A-EY](?:[0-9]{1,3}(?:\.[a-z0-9]{1,3})*)?)?$")
CFR = re.compile(
    r"^(\d{1,2})\s*C\.?F\.?R\.?\s*(?:parts?\s+|§+\s*)?(\d{1,4})(?:\.(\d+[a-z]?))?$", re.I
)
COUNTRY_GROUP = re.compile(r"^[A-E]:[1-6]$")
SENTENCE_END = re.compile(r"[.!?;](?=[\s”\"')\]]*\s+[A-Z(“\"§])")
ABBREVIATIONS = frozenset(
    {"co", "ltd", "inc", "corp", "no", "nos", "u.s", "st", "mr", "ms", "dr", "jr", "e.g", "i.e"}
)
QUOTE_CHARS = 400


class WatchError(ValueError):
    """A watch item that cannot be used; the message starts with where it was given."""


@dataclass(frozen=True, slots=True)
class WatchItem:
    """One watched item, normalised; `origin` says where it was given."""

    kind: str
    value: str
    country: str | None = None
    note: str | None = None
    origin: str = ""

    @property
    def label(self) -> str:
        return f"{self.value} ({self.country})" if self.country else self.value


@cache
def _domain() -> tuple[dict[str, re.Pattern[str]], frozenset[str]]:
    """Countries (name → alias pattern) and known license exceptions, from the tagger's rules."""
    from nlp.rules import load_rules

    rules = load_rules()
    countries = {
        c["name"]: re.compile(r"\b(?:" + "|".join(map(re.escape, c["aliases"])) + r")\b")
        for c in rules.countries
    }
    codes = next(r for r in rules.identifiers if r["entity"] == "license_exceptions")
    return countries, frozenset(codes.get("values", ()))


def watch_item(
    kind: str,
    value: Any,
    country: Any = None,
    note: Any = None,
    origin: str = "watch",
    rules: NameRules | None = None,
) -> WatchItem:
    """Check and normalise one item; `WatchError` naming `origin` if it cannot be used."""
    if kind not in KINDS:
        raise WatchError(f"{origin}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not isinstance(value, str) or not value.strip():
        raise WatchError(f"{origin}: the {kind} is empty")
    text = " ".join(plain(value).split())
    country = country.strip() if isinstance(country, str) and country.strip() else None
    if country is not None and kind != "counterparty":
        raise WatchError(f"{origin}: only a counterparty takes a country")
    checked = _CHECKS[kind](text, rules or load_name_rules())
    if isinstance(checked, str) and checked.startswith("!"):
        raise WatchError(f"{origin}: {kind} {text!r} {checked[1:]}")
    return WatchItem(kind, checked, _country(country, origin), _note(note), origin)


def _eccn(text: str, _: NameRules) -> str:
    wild = text.endswith("*")
    head = text.rstrip("*")
    head = head[:2].upper() + head[2:5] + head[5:].lower()
    if (ECCN_PREFIX if wild else ECCN).match(head):
        return head + ("*" if wild else "")
    return "!is not an ECCN (e.g. 4E091, 4A090.a, or 3A090* for 3A090 and its paragraphs)"


def _cfr(text: str, _: NameRules) -> str:
    found = CFR.match(text)
    if not found:
        return "!is not a CFR part or section (e.g. 15 CFR 744.23 or 15 CFR 744)"
    title, part, section = found.groups()
    return f"{int(title)} CFR {int(part)}" + (f".{section}" if section else "")


def _license_exception(text: str, _: NameRules) -> str:
    code = text.upper()
    return code if code in _domain()[1] else "!is not a known license exception (e.g. STA, ACA)"


def _country_group(text: str, _: NameRules) -> str:
    group = text.upper().replace(" ", "")
    return group if COUNTRY_GROUP.match(group) else "!is not a country group (e.g. D:5, E:1)"


def _counterparty(text: str, rules: NameRules) -> str:
    if rules.only_legal(text):
        return "!is only a legal form: give the name"
    return text


def _term(text: str, _: NameRules) -> str:
    return text if len(text) >= 2 else "!is too short (two characters at least)"


_CHECKS = {
    "eccn": _eccn,
    "counterparty": _counterparty,
    "cfr": _cfr,
    "license_exception": _license_exception,
    "country_group": _country_group,
    "term": _term,
}


def _country(country: str | None, origin: str) -> str | None:
    if country is None:
        return None
    by_lower = {name.lower(): name for name in _domain()[0]}
    if country.lower() not in by_lower:
        raise WatchError(f"{origin}: unknown country {country!r} (use the English short name)")
    return by_lower[country.lower()]


def _note(note: Any) -> str | None:
    return " ".join(note.split()) or None if isinstance(note, str) else None


class WatchList:
    """Compiled watch items; `match(document, entities)` returns the hits of one document."""

    def __init__(
        self,
        items: Sequence[WatchItem],
        threshold: float = DEFAULT_THRESHOLD,
        rules: NameRules | None = None,
    ) -> None:
        self.items = list(dict.fromkeys(items))
        self.threshold = threshold
        rules = rules or load_name_rules()
        self._by_kind = {kind: [i for i in self.items if i.kind == kind] for kind in KINDS}
        self._names = NameIndex(rules, [i.value for i in self._by_kind["counterparty"]], threshold)
        terms = self._by_kind["term"]
        self._terms = _alternation([t.value for t in terms]) if terms else None
        content = [[i.kind, i.value, i.country] for i in self.items]
        versions = [rules.version, fold_version(), MATCHER_VERSION]
        digest = json.dumps([content, threshold, *versions], sort_keys=True)
        self.fingerprint = hashlib.sha256(digest.encode()).hexdigest()[:16]

    def __bool__(self) -> bool:
        return bool(self.items)

    def match(self, document: dict[str, Any], entities: dict[str, Any]) -> list[dict[str, Any]]:
        """The watched items this document touches, with where it says so."""
        if not self.items:
            return []
        entities = entities if isinstance(entities, dict) else {}
        texts = {f: document.get(f) for f in TEXT_FIELDS if isinstance(document.get(f), str)}
        plain = {field: fold(text) for field, text in texts.items()}
        hits = [
            *self._eccns(entities),
            *self._cfr(entities),
            *self._codes("license_exception", entities.get("license_exceptions")),
            *self._codes("country_group", entities.get("country_groups")),
            *self._counterparties(plain, entities),
            *self._term_hits(plain),
        ]
        seen, unique = set(), []
        for hit in hits:
            key = (hit["kind"], hit["item"], hit["matched"])
            if key not in seen:
                seen.add(key)
                unique.append(_quoted(hit, texts))
        order = {field: n for n, field in enumerate(("cfr_references", *TEXT_FIELDS))}
        return sorted(unique, key=lambda h: (order.get(h["field"], 99), h["start"] or 0))

    def match_party(self, names: Sequence[str], countries: Sequence[str]) -> list[dict[str, Any]]:
        """The watched counterparties a screening-list party is (its name or an alternate name,
        matched as in documents); a watched country must be among the party's ISO 3166 codes when
        the list gives any. Hits name the field `listed name` or `alternate name`; the quote is the
        name."""
        codes = {code.upper() for code in countries if isinstance(code, str)}
        hits, seen = [], set()
        for n, name in enumerate(names):
            field = "listed name" if n == 0 else "alternate name"
            read = fold(name)
            for found in self._names.find(read.plain, title=True):
                item = self._by_kind["counterparty"][found.name]
                if item.country and codes and iso_code(item.country) not in codes:
                    continue
                if item.label not in seen:
                    seen.add(item.label)
                    mention = _place(field, read, found.start, found.end)
                    hit = _hit(item, mention, round(found.score, 1))
                    hits.append({**hit, "quote": " ".join(name.split())})
        return hits

    def _eccns(self, entities: dict[str, Any]) -> Iterable[dict[str, Any]]:
        for mention in _mentions(entities.get("eccns")):
            for item in self._by_kind["eccn"]:
                if _eccn_matches(item.value, mention["value"]):
                    yield _hit(item, mention)

    def _cfr(self, entities: dict[str, Any]) -> Iterable[dict[str, Any]]:
        mentions = list(_mentions(entities.get("cfr")))
        cited = {(m.get("title"), str(m.get("part"))) for m in mentions if m.get("title")}
        for mention in mentions:
            for item in self._by_kind["cfr"]:
                if _cfr_matches(item.value, mention, cited):
                    yield _hit(item, mention)

    def _codes(self, kind: str, found: Any) -> Iterable[dict[str, Any]]:
        for mention in _mentions(found):
            for item in self._by_kind[kind]:
                if mention["value"] == item.value:
                    yield _hit(item, mention)

    def _counterparties(
        self, texts: dict[str, Folded], entities: dict[str, Any]
    ) -> Iterable[dict[str, Any]]:
        if not self._by_kind["counterparty"]:
            return
        named = {m["value"] for m in _mentions(entities.get("countries"))}
        for field, text in texts.items():
            for found in self._names.find(text.plain, title=field == "title"):
                item = self._by_kind["counterparty"][found.name]
                mention = _place(field, text, found.start, found.end)
                if item.country and not _country_agrees(item.country, named, text.plain, found):
                    continue
                yield _hit(item, mention, round(found.score, 1))

    def _term_hits(self, texts: dict[str, Folded]) -> Iterable[dict[str, Any]]:
        if self._terms is None:
            return
        for field, text in texts.items():
            for found in self._terms.finditer(text.plain):
                item = self._by_kind["term"][int(found.lastgroup[1:])]
                yield _hit(item, _place(field, text, found.start(), found.end()))


@cache
def iso_code(country: str) -> str | None:
    """The ISO 3166 alpha-2 code of a country as the tagger names it (`China` → `CN`), from
    pycountry, else from `COUNTRY_CODES` (names pycountry does not know); None if unknown."""
    extra = _country_codes()
    if country in extra:
        return extra[country]
    try:
        return pycountry.countries.lookup(country).alpha_2
    except LookupError:
        return None


@cache
def _country_codes() -> dict[str, str]:
    """`COUNTRY_CODES`, checked: an object of country name → two capital letters."""
    codes = data_file(COUNTRY_CODES)
    if not isinstance(codes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and re.fullmatch(r"[A-Z]{2}", v)
        for k, v in codes.items()
    ):
        raise ValueError(f"{COUNTRY_CODES}: expected an object of country name → ISO alpha-2 code")
    return codes


def _alternation(phrases: list[str]) -> re.Pattern[str]:
    """One pattern finding every phrase as whole words, case and spacing ignored; the group
    `t<n>` says which phrase matched."""
    spaced = [r"\s+".join(map(re.escape, phrase.split())) for phrase in phrases]
    groups = [rf"(?P<t{n}>(?<!\w){body}(?!\w))" for n, body in enumerate(spaced)]
    return re.compile("|".join(groups), re.IGNORECASE)


def _country_agrees(country: str, named: set[str], text: str, found: NameHit) -> bool:
    """A watched country agrees unless the hit's sentence, or else the document, names
    countries and not this one."""
    sentence = quote(text, found.start, found.end)
    here = {name for name, pattern in _domain()[0].items() if pattern.search(sentence)}
    return not (here or named) or country in (here or named)


def _mentions(found: Any) -> Iterable[dict[str, Any]]:
    for mention in found if isinstance(found, list) else ():
        if isinstance(mention, dict) and isinstance(mention.get("value"), str):
            yield mention


def _place(field: str, text: Folded, start: int, end: int) -> dict[str, Any]:
    """A match on the plain text: its plain value, and where and how the source has it."""
    begin, stop = text.source_span(start, end)
    return {"value": text.plain[start:end], "text": text.source[begin:stop], "field": field,
            "start": begin, "end": stop}  # fmt: skip


def _hit(item: WatchItem, mention: dict[str, Any], score: float = 100.0) -> dict[str, Any]:
    start, end = mention.get("start"), mention.get("end")
    return {
        "kind": item.kind,
        "item": item.label,
        "matched": " ".join(str(mention["value"]).split()),
        "field": str(mention.get("field") or "text"),
        "start": start if isinstance(start, int) else None,
        "end": end if isinstance(end, int) else None,
        "text": str(mention.get("text") or mention["value"]),
        "score": score,
    }


def _quoted(hit: dict[str, Any], texts: dict[str, str]) -> dict[str, Any]:
    text = texts.get(hit["field"])
    start, end = hit["start"], hit["end"]
    if text is None or start is None or end is None or not 0 <= start < end <= len(text):
        return {**hit, "start": None, "end": None, "quote": f"{hit['field']}: {hit['text']}"}
    return {**hit, "quote": quote(text, start, end)}


def quote(text: str, start: int, end: int) -> str:
    """The sentence holding text[start:end], on one line, cut to about `QUOTE_CHARS` ("…" marks
    a cut)."""
    begin, whole_start = max(0, start - QUOTE_CHARS), start <= QUOTE_CHARS
    for found in SENTENCE_END.finditer(text, begin, start):
        if not _abbreviation(text, found.start()):
            begin, whole_start = found.end(), True
    finish, whole_end = min(len(text), end + QUOTE_CHARS), end + QUOTE_CHARS >= len(text)
    for found in SENTENCE_END.finditer(text, end, finish):
        if not _abbreviation(text, found.start()):
            finish, whole_end = found.start() + 1, True
            break
    if finish - begin > QUOTE_CHARS:
        room = max(0, QUOTE_CHARS - (end - start)) // 2
        if start - begin > room:
            begin, whole_start = start - room, False
        if finish - end > room:
            finish, whole_end = end + room, False
    cut = " ".join(text[begin:finish].split())
    return ("" if whole_start else "…") + cut + ("" if whole_end else "…")


def _abbreviation(text: str, period: int) -> bool:
    if text[period] != ".":
        return False
    word = re.search(r"([\w.]+)$", text[max(0, period - 12) : period])
    return bool(word) and (word.group(1).lower() in ABBREVIATIONS or len(word.group(1)) == 1)


def _eccn_matches(watched: str, eccn: str) -> bool:
    if watched.endswith("*"):
        return eccn.startswith(watched[:-1])
    return eccn == watched or eccn.startswith(watched + ".") or watched.startswith(eccn + ".")


def _cfr_matches(watched: str, mention: dict[str, Any], cited: set[tuple[Any, str]]) -> bool:
    title, number = watched.split(" CFR ")
    part, _, section = number.partition(".")
    value = str(mention["value"])
    found = re.search(r"(\d{1,4})(?:\.(\d+[a-z]?))?$", value)
    if not found or found.group(1) != part:
        return False
    if section and found.group(2) != section:
        return False
    if mention.get("title") is not None:
        return str(mention["title"]) == title
    return not any(part == p and str(t) != title for t, p in cited)
