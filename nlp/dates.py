"""The dates that matter: effective, comment deadline, compliance, meeting.

Enters: `DocumentText` (fields in reading order, API `effective_on` / `comments_close_on` /
`publication_date` in its metadata) and the cue rules of `patterns/dates.jsonl`.
Leaves: `(dates, evidence)`: `dates` maps a slot (`effective_on`, `comments_close_on`,
`compliance_on`, `meeting_on`) to an ISO date; `evidence` lists, per slot, where the value came
from (`source` "api" or the text field, the rule id, the matched text and its offsets).

A text date takes the slot of the nearest cue before it in its sentence (after the previous
date; fields are separate sentences), looking back at most `CUE_REACH` characters, so a sentence
of thousands of dates costs time in proportion to its length; cues whose slot is null
("published on", "issued") mark reference dates and drop them.
API values win over text; the first text date of a slot, in reading order, wins over later ones.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from datetime import datetime
from functools import lru_cache
from typing import Any

from nlp.document import DocumentText

MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
# No leading \b: a pattern that starts with the month alternation scans several times faster.
DATE_RE = re.compile(rf"(?P<month>{MONTHS})\s+(?P<day>\d{{1,2}}),\s+(?P<year>\d{{4}})\b")
# A sentence ends at whitespace after "x." / "x;" / "x:" before a capital, or at newlines. Both
# branches start with one whitespace character, written first so the scan can skip to it.
SENTENCE_END_RE = re.compile(r"\s(?:(?<=[a-z0-9)][.;:]\s)\s*(?=[A-Z])|(?<=\n)\n*)")
API_SLOTS = ("effective_on", "comments_close_on")
CUE_REACH = 1_000  # characters before a date in which its sentence's cue is looked for


class DateFinder:
    """Compiled cue rules; `find(doc_text)` returns `(dates, evidence)`."""

    def __init__(self, rules: list[dict[str, Any]]):
        self.rules = rules
        self._cues = [(r, re.compile(r["cue"], re.I)) for r in rules if "cue" in r]
        self._slot_cues = [(r, pattern) for r, pattern in self._cues if r.get("slot")]
        self._relative = [(r, re.compile(r["regex"], re.I)) for r in rules if "regex" in r]

    def find(self, doc_text: DocumentText) -> tuple[dict[str, str], list[dict[str, Any]]]:
        dates: dict[str, str] = {}
        evidence: list[dict[str, Any]] = []
        for slot in API_SLOTS:
            if doc_text.meta.get(slot):
                dates[slot] = str(doc_text.meta[slot])
                evidence.append({"slot": slot, "value": dates[slot], "source": "api"})
        for found in self._text_dates(doc_text.text, doc_text.meta):
            if doc_text.locate(found["start"], found["end"]) and found["slot"] not in dates:
                field, start, end, quote = doc_text.quote(found["start"], found["end"])
                dates[found["slot"]] = found["value"]
                found.update(text=quote, start=start, end=end)
                evidence.append({**found, "source": field})
        return dates, evidence

    def _text_dates(self, text: str, meta: dict[str, Any]) -> list[dict[str, Any]]:
        found = [
            _found(rule, meta[rule["value_from"]], match)
            for rule, pattern in self._relative
            if meta.get(rule["value_from"]) and any(w in text for w in rule["requires_text"])
            for match in pattern.finditer(text)
        ]
        matches = list(DATE_RE.finditer(text))
        # A break after the last date's first character never starts the sentence of a date.
        last = matches[-1].start() + 1 if matches else 0
        breaks = [m.end() for m in SENTENCE_END_RE.finditer(text, 0, last)]
        sentence_start, previous_end = 0, 0
        for match in matches:
            start = breaks[index - 1] if (index := bisect_right(breaks, match.start())) else 0
            if start != sentence_start:
                sentence_start, previous_end = start, start
            rule = self._nearest_cue(text, sentence_start, previous_end, match.start())
            previous_end = match.end()
            value = _iso(match["month"], match["day"], match["year"])
            if rule and rule.get("slot") and value:
                found.append(_found(rule, value, match))
        return sorted(found, key=lambda f: f["start"])

    def _nearest_cue(self, text: str, sentence: int, previous: int, at: int) -> dict | None:
        """The rule of the last cue in (previous date, at); else in the sentence, non-null only.
        (When the sentence starts at the previous date, the second look could find nothing new.)
        """
        rule = _last_cue(self._cues, text, previous, at)
        if rule is None and sentence != previous:
            rule = _last_cue(self._slot_cues, text, max(sentence, at - CUE_REACH), at)
        return rule


def _last_cue(cues: list, text: str, begin: int, at: int) -> dict[str, Any] | None:
    """The rule of the cue starting last in text[begin:at] (the earlier rule on a tie)."""
    best: tuple[int, dict[str, Any]] | None = None
    for rule, pattern in cues:
        for cue in pattern.finditer(text, begin, at):
            if best is None or cue.start() > best[0]:
                best = (cue.start(), rule)
    return best[1] if best else None


def _found(rule: dict[str, Any], value: str, match: re.Match[str]) -> dict[str, Any]:
    return {
        "slot": rule["slot"],
        "value": value,
        "rule": rule["id"],
        "text": match.group(0),
        "start": match.start(),
        "end": match.end(),
    }


@lru_cache(maxsize=4096)
def _iso(month: str, day: str, year: str) -> str | None:
    """ISO form of a matched date; None for an impossible one ("February 30, 2024")."""
    try:
        return datetime.strptime(f"{month} {day} {year}", "%B %d %Y").date().isoformat()
    except ValueError:
        return None
