"""eCFR section XML → labelled paragraphs, and the readable diff of two versions of a section.

Enters: the body of `full/{date}/title-N.xml?part=…&section=…` (GPO eCFR XML: `DIV8 TYPE="SECTION"`
or `DIV9 TYPE="APPENDIX"` holding `HEAD`, `P`, `FP`, headings `HD1`-`HD3` and table `ROW`s of
`ENT` cells; ecfr.md §1; comments skipped), parsed without DTDs, entities or network access.
Leaves: `paragraphs`: `(label, text)` per block of the section or appendix asked for (the `DIV8` or
`DIV9` whose `N` is its identifier) in reading order, whitespace normalised, `label`
the paragraph designation path such as `(a)(2)(i)` worked out from the leading markers (`(a)`,
`(1)`, `(i)`, `(A)`, then italic levels), `""` before the first one; `diff`: the changed paragraphs
(difflib on the normalised texts) as `{"label", "old", "new", "old_excerpt", "new_excerpt"}` with
the full label (`§ 744.23(a)(2)`) and short excerpts around the changed words, plus a unified
diff of the whole section; `Unreadable` for a body that is not such XML or holds another section.
"""

from __future__ import annotations

import difflib
import re
from itertools import zip_longest
from typing import Any

from lxml import etree

BLOCKS = {"HEAD", "P", "FP", "HD1", "HD2", "HD3", "ROW"}
SECTION_TAGS = {"DIV8", "DIV9"}
MARKER = re.compile(r"\(([a-z]{1,2}|[0-9]{1,3}|[ivxl]{1,6}|[A-Z]{1,2})\)\s*")
HEADING = re.compile(r"[^()]{1,150}?\.\s+(?=\()")  # `General prohibitions. ` before a marker
ROMAN = re.compile(r"[ivxl]{1,6}")
# Paragraph levels of the CFR, outermost first: (a), (1), (i), (A), italic (1), italic (i).
LEVELS = ("lower", "digit", "roman", "upper", "digit", "roman")
CONTEXT_WORDS = 8
EXCERPT_CHARS = 400
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_pis=True
)


class Unreadable(ValueError):
    """A body that is not a section of eCFR XML."""


def paragraphs(xml: bytes, identifier: str) -> list[tuple[str, str]]:
    """The blocks of section (or appendix) `identifier` as (label, text); `Unreadable` if the XML
    holds no such section: not eCFR XML, or another section's text."""
    try:
        root = etree.fromstring(xml, parser=_PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise Unreadable(f"not XML ({exc})") from None
    if root is None:
        raise Unreadable("an empty XML document")
    section = _section(root, identifier)
    found, stack = [], []
    for element in section.iter(*BLOCKS):
        text = " | ".join(_text(cell) for cell in _cells(element))
        if not text:
            continue
        if element.tag == "P":
            stack = _advance(stack, _markers(text))
        found.append(("".join(f"({m})" for m in stack), text))
    return found


def _section(root: Any, identifier: str) -> Any:
    """The `DIV8`/`DIV9` whose `N` is `identifier`."""
    held = {" ".join((div.get("N") or "").split()): div for div in root.iter(*SECTION_TAGS)}
    if not held:
        raise Unreadable("no DIV8 section or DIV9 appendix in the XML")
    if identifier not in held:
        names = ", ".join(list(held)[:3]) + (", …" if len(held) > 3 else "")
        raise Unreadable(f"the XML holds no section or appendix {identifier} (it holds {names})")
    return held[identifier]


def _cells(element: Any) -> list[Any]:
    """A `ROW`'s cells (its child elements: a comment has no text tag), else the block itself."""
    if element.tag != "ROW":
        return [element]
    return [cell for cell in element if isinstance(cell.tag, str)]


def _text(element: Any) -> str:
    return " ".join("".join(element.itertext()).split())


def _markers(text: str) -> list[str]:
    """The paragraph markers a text starts with, also after a paragraph heading.

    `(b)(1) Text` → ["b", "1"]; `(a) General prohibitions. (1) You may not` → ["a", "1"].
    """
    found, at = [], 0
    while match := MARKER.match(text, at) or (found and _after_heading(text, at)):
        found.append(match.group(1))
        at = match.end()
    return found


def _after_heading(text: str, at: int) -> re.Match[str] | None:
    heading = HEADING.match(text, at)
    return MARKER.match(text, heading.end()) if heading else None


def _advance(stack: list[str], markers: list[str]) -> list[str]:
    """The designation path after a paragraph starting with `markers`."""
    for marker in markers:
        level = _level(stack, marker)
        if level is not None:
            stack = [*stack[:level], marker]
    return stack


def _level(stack: list[str], marker: str) -> int | None:
    """Which level `marker` belongs to: continuing an open level, else opening the next one."""
    fits = [n for n, kind in enumerate(LEVELS) if _kind_fits(kind, marker)]
    for n in sorted(fits, reverse=True):  # the next marker of an open level, innermost first
        if n < len(stack) and _successor(LEVELS[n], stack[n]) == marker:
            return n
    for n in fits:  # the first marker of the level below the current one
        if n == len(stack) and marker == _first(LEVELS[n]):
            return n
    return next((n for n in fits if n <= len(stack)), None)


def _kind_fits(kind: str, marker: str) -> bool:
    return {
        "lower": marker.isalpha() and marker.islower(),
        "digit": marker.isdigit(),
        "roman": bool(ROMAN.fullmatch(marker)),
        "upper": marker.isalpha() and marker.isupper(),
    }[kind]


def _first(kind: str) -> str:
    return {"lower": "a", "digit": "1", "roman": "i", "upper": "A"}[kind]


def _successor(kind: str, marker: str) -> str:
    if kind == "digit":
        return str(int(marker) + 1) if marker.isdigit() else ""
    if kind == "roman":
        value = _from_roman(marker)
        return _to_roman(value + 1) if value else ""
    if len(marker) == 1 and marker not in "zZ":
        return chr(ord(marker) + 1)
    return marker[0] * (len(marker) + 1) if marker in "zZ" else ""


ROMANS = (("l", 50), ("xl", 40), ("x", 10), ("ix", 9), ("v", 5), ("iv", 4), ("i", 1))


def _to_roman(value: int) -> str:
    out = ""
    for letters, amount in ROMANS:
        while value >= amount:
            out, value = out + letters, value - amount
    return out


def _from_roman(marker: str) -> int:
    value = 0
    for n, letter in enumerate(marker):
        amount = dict(ROMANS)[letter] if letter in "ivxl" else 0
        following = dict(ROMANS).get(marker[n + 1], 0) if n + 1 < len(marker) else 0
        value += -amount if amount < following else amount
    return value if _to_roman(value) == marker else 0


def diff(
    name: str, old: list[tuple[str, str]], new: list[tuple[str, str]], dates: tuple[str, str]
) -> tuple[list[dict[str, Any]], str]:
    """The changed paragraphs (labelled `name` + designation) and a unified diff of the section."""
    old_texts, new_texts = [t for _, t in old], [t for _, t in new]
    matcher = difflib.SequenceMatcher(None, old_texts, new_texts, autojunk=False)
    changes = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        for before, after in zip_longest(old[i1:i2], new[j1:j2]):
            label = (after or before)[0]
            changes.append(_change(_join(name, label), before, after))
    unified = difflib.unified_diff(
        old_texts, new_texts, f"{name} ({dates[0]})", f"{name} ({dates[1]})", lineterm="", n=1
    )
    return changes, "\n".join(unified)


def _join(name: str, label: str) -> str:
    """`§ 744.23` + `(a)(2)` → `§ 744.23(a)(2)`; an appendix's name and a label get a space."""
    return name + label if name.startswith("§") else f"{name} {label}".rstrip()


def _change(
    label: str, before: tuple[str, str] | None, after: tuple[str, str] | None
) -> dict[str, Any]:
    old, new = before[1] if before else None, after[1] if after else None
    old_excerpt, new_excerpt = excerpts(old or "", new or "")
    return {
        "label": label,
        "old": old,
        "new": new,
        "old_excerpt": old_excerpt if old is not None else None,
        "new_excerpt": new_excerpt if new is not None else None,
    }


def excerpts(old: str, new: str) -> tuple[str, str]:
    """The changed words of two paragraph texts with `CONTEXT_WORDS` around them, `…` for cuts."""
    a, b = old.split(), new.split()
    opcodes = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    changed = [op for op in opcodes if op[0] != "equal"]
    if not changed:
        return _cut(a, 0, len(a)), _cut(b, 0, len(b))
    a1, b1 = changed[0][1], changed[0][3]
    a2, b2 = changed[-1][2], changed[-1][4]
    return _cut(a, a1, a2), _cut(b, b1, b2)


def _cut(words: list[str], start: int, end: int) -> str:
    first, last = max(0, start - CONTEXT_WORDS), min(len(words), end + CONTEXT_WORDS)
    text, cut_end = " ".join(words[first:last]), last < len(words)
    if len(text) > EXCERPT_CHARS:
        text, cut_end = text[: EXCERPT_CHARS - 1].rsplit(" ", 1)[0], True
    return ("…" if first else "") + text + ("…" if cut_end else "")
