"""Watched counterparty names found in text: normalised, prefiltered by token, scored by rapidfuzz.

Enters: the name rules of `patterns/watch/names.jsonl` (legal forms dropped from the end of a name,
leading legal forms such as `OOO`, descriptors such as `Technology` dropped when a legal form
followed them, transliteration variants joined into one spelling, connector words) and the word
list `patterns/watch/common_words.txt`, both checked when loaded (`NameRuleError`: file and line;
a file that is not UTF-8 is a `ValueError` naming it);
then watched names and texts.
Leaves: `NameRules.core(name)`, a name's core tokens (`Shen Zhen OVNS Technology Co., Ltd.` →
`shenzhen ovns`), and `NameIndex.find(text)`: one `NameHit` per watched name and place where a
run of tokens of the text scores at least the threshold with `rapidfuzz.fuzz.ratio` against the
core. Only names holding one of a text token's anchors (each name's two rarest core tokens) are
scored, pair by pair with `process.cpdist`, so 5,000 names do not mean 5,000 comparisons.
Precision rules: every word of the run is capitalised in the text (connectors aside); outside
titles, a capitalised word joined to the run by a space makes it part of a longer, different
name (`Yuhuan Jinko Solar` is not `Jinko Solar`) unless it is a legal form or descriptor; a name
made only of common words (`Target`) matches only where a legal form follows it.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from regwatch.jsonl import data_text

WATCH_DIR = Path(__file__).with_name("patterns") / "watch"
NAMES_FILE = WATCH_DIR / "names.jsonl"
COMMON_FILE = WATCH_DIR / "common_words.txt"
TOKEN = re.compile(r"[^\W_]+|&")
RULE_KEYS = {
    "legal_form": {"tokens"},
    "legal_prefix": {"tokens"},
    "descriptor": {"tokens"},
    "connector": {"tokens"},
    "variant": {"canonical", "variants"},
}
ANCHORS = 2


class NameRuleError(ValueError):
    """A name rule the matcher cannot use; the message names file and line."""


@dataclass(frozen=True, slots=True)
class Token:
    word: str  # lower case, accents removed, transliteration variants joined
    start: int
    end: int
    capital: bool  # written with a capital or a digit first (or a joined variant that was)


@dataclass(frozen=True, slots=True)
class NameHit:
    """Watched name number `name` found at text[start:end] with `score` (0-100)."""

    name: int
    start: int
    end: int
    score: float


@dataclass
class NameRules:
    """The loaded name rules; `core(name)` and `tokens(text)` apply them."""

    legal: set[tuple[str, ...]] = field(default_factory=set)
    prefixes: set[tuple[str, ...]] = field(default_factory=set)
    descriptors: set[tuple[str, ...]] = field(default_factory=set)
    connectors: set[str] = field(default_factory=set)
    variants: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = field(default_factory=dict)
    common: frozenset[str] = frozenset()
    join_words: frozenset[str] = frozenset()  # first words of legal forms and descriptors
    legal_words: frozenset[str] = frozenset()  # every word of legal forms and descriptors
    version: str = ""

    def tokens(self, text: str) -> list[Token]:
        """The text's words with offsets, transliteration variants joined."""
        raw = [
            Token(_fold(m.group()), m.start(), m.end(), not m.group()[0].islower())
            for m in TOKEN.finditer(text)
        ]
        joined, i = [], 0
        while i < len(raw):
            for variant, canonical in self.variants.get(raw[i].word, ()):
                if tuple(t.word for t in raw[i : i + len(variant)]) == variant:
                    last = raw[i + len(variant) - 1]
                    joined += [Token(w, raw[i].start, last.end, raw[i].capital) for w in canonical]
                    i += len(variant)
                    break
            else:
                joined.append(raw[i])
                i += 1
        return joined

    def core(self, name: str) -> tuple[str, ...]:
        """A name's core tokens: leading and trailing legal forms dropped, then one descriptor
        that a legal form followed; the whole name if nothing would be left."""
        words = tuple(t.word for t in self.tokens(name))
        core = _strip_start(words, self.prefixes)
        stripped = _strip_end(core, self.legal)
        if stripped != core:
            stripped = _strip_end(stripped, self.descriptors, once=True)
        return stripped or core or words

    def only_legal(self, name: str) -> bool:
        """Is the name nothing but legal forms, descriptors and connectors (`Co., Ltd.`)?"""
        words = [t.word for t in self.tokens(name)]
        return all(w in self.legal_words or w in self.connectors for w in words)

    def joins(self, token: Token) -> bool:
        """Does this word, next to a name, begin a legal form or descriptor?"""
        return token.word in self.join_words


def _fold(word: str) -> str:
    word = word.lower()
    if word == "&":
        return "and"
    if word.isascii():
        return word
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


def _strip_start(words: tuple[str, ...], entries: set[tuple[str, ...]]) -> tuple[str, ...]:
    changed = True
    while changed and words:
        changed = False
        for entry in sorted(entries, key=len, reverse=True):
            if words[: len(entry)] == entry and len(words) > len(entry):
                words, changed = words[len(entry) :], True
                break
    return words


def _strip_end(
    words: tuple[str, ...], entries: set[tuple[str, ...]], once: bool = False
) -> tuple[str, ...]:
    changed = True
    while changed and words:
        changed = False
        for entry in sorted(entries, key=len, reverse=True):
            if len(words) > len(entry) and words[-len(entry) :] == entry:
                words, changed = words[: -len(entry)], not once
                break
    return words


@cache
def load_name_rules(names: Path = NAMES_FILE, common: Path = COMMON_FILE) -> NameRules:
    """Read and check the name rules and the common-word list."""
    rules = NameRules()
    plain = NameRules()  # splits rule phrases into words without joining variants
    for number, rule in _lines(names):
        _check_rule(rule, names.name, number)
        if rule["kind"] == "variant":
            canonical = tuple(t.word for t in plain.tokens(rule["canonical"]))
            for variant in rule["variants"]:
                words = tuple(t.word for t in plain.tokens(variant))
                rules.variants.setdefault(words[0], []).append((words, canonical))
            continue
        words = tuple(t.word for t in plain.tokens(rule["tokens"]))
        if rule["kind"] == "connector":
            rules.connectors.update(words)
        else:
            {"legal_form": rules.legal, "legal_prefix": rules.prefixes}.get(
                rule["kind"], rules.descriptors
            ).add(words)
    for entries in rules.variants.values():
        entries.sort(key=lambda pair: len(pair[0]), reverse=True)
    words = [w for w in data_text(common).split("\n") if w and w[0] != "#"]
    bad = next((w for w in words if not w.isalpha() or w != w.lower()), None)
    if bad is not None:
        raise NameRuleError(f"{common.name}: {bad!r} is not a lower-case word")
    rules.common = frozenset(words)
    rules.join_words = frozenset(entry[0] for entry in rules.legal | rules.descriptors)
    rules.legal_words = frozenset(w for entry in rules.legal | rules.descriptors for w in entry)
    rules.version = hashlib.sha256(names.read_bytes() + common.read_bytes()).hexdigest()[:12]
    return rules


def _lines(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(data_text(path).splitlines(), start=1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as error:
                raise NameRuleError(f"{path.name} line {number}: {error.msg}") from None


def _check_rule(rule: Any, file: str, number: int) -> None:
    where = f"{file} line {number}"
    if not isinstance(rule, dict) or not isinstance(rule.get("id"), str) or not rule["id"]:
        raise NameRuleError(f"{where}: a rule needs an 'id'")
    keys = RULE_KEYS.get(rule.get("kind"))
    if keys is None:
        raise NameRuleError(f"{where}: kind must be one of {', '.join(RULE_KEYS)}")
    extra = set(rule) - keys - {"id", "kind", "note"}
    if extra or keys - set(rule):
        raise NameRuleError(f"{where}: a {rule['kind']} rule has exactly {', '.join(keys)}")
    texts = [rule[k] for k in keys if k != "variants"] + list(rule.get("variants") or ["x"])
    if not all(isinstance(t, str) and TOKEN.search(t) for t in texts):
        raise NameRuleError(f"{where}: {', '.join(sorted(keys))} must hold words")


class NameIndex:
    """Watched names by anchor token, for finding them in many texts."""

    def __init__(self, rules: NameRules, names: Sequence[str], threshold: float) -> None:
        self.rules = rules
        self.threshold = threshold
        self.cores = [rules.core(name) for name in names]
        self.strings = [" ".join(core) for core in self.cores]
        self.common = [all(w in rules.common or w.isdigit() for w in c) for c in self.cores]
        counts: dict[str, int] = {}
        for core in self.cores:
            for word in set(core):
                counts[word] = counts.get(word, 0) + 1
        self.anchors: dict[str, list[tuple[int, int]]] = {}
        for number, core in enumerate(self.cores):
            ranked = sorted(set(core), key=lambda w: (w in rules.common, counts[w], -len(w), w))
            for word in ranked[:ANCHORS]:
                for position in (i for i, w in enumerate(core) if w == word):
                    self.anchors.setdefault(word, []).append((number, position))

    def find(self, text: str, *, title: bool = False) -> list[NameHit]:
        """Each watched name at its best-scoring place in `text` (titles are Title Case, so a
        capitalised neighbour says nothing there)."""
        tokens = self.rules.tokens(text)
        spans = self._spans(tokens)
        if not spans:
            return []
        words = [t.word for t in tokens]
        windows = [" ".join(words[s : s + n]) for s, n, _ in spans]
        scores = process.cpdist(
            windows,
            [self.strings[name] for _, _, name in spans],
            scorer=fuzz.ratio,
            score_cutoff=self.threshold,
        )
        best: dict[int, NameHit] = {}
        for (start, length, name), score in zip(spans, scores, strict=True):
            if score < self.threshold or name in best and best[name].score >= score:
                continue
            end = start + length
            if self._plausible(tokens, start, end, name, text, title):
                while end < len(tokens) and self._suffix(tokens[end], text, tokens[end - 1].end):
                    end += 1
                best[name] = NameHit(name, tokens[start].start, tokens[end - 1].end, float(score))
        return sorted(best.values(), key=lambda hit: (hit.start, hit.name))

    def _spans(self, tokens: list[Token]) -> list[tuple[int, int, int]]:
        """(first token, token count, name) of every run worth scoring."""
        spans, count, legal = set(), len(tokens), self.rules.join_words
        for i, token in enumerate(tokens):
            for name, position in self.anchors.get(token.word, ()):
                start, size = i - position, len(self.cores[name])
                for length in (size - 1, size, size + 1):
                    end = start + length
                    if length < 1 or start < 0 or end > count:
                        continue
                    if self.common[name] and (end == count or tokens[end].word not in legal):
                        continue  # a name of common words needs its legal form after it
                    spans.add((start, length, name))
        return sorted(spans)

    def _plausible(
        self, tokens: list[Token], start: int, end: int, name: int, text: str, title: bool
    ) -> bool:
        rules = self.rules
        if not all(t.capital or t.word in rules.connectors for t in tokens[start:end]):
            return False
        after = tokens[end] if end < len(tokens) else None
        if self.common[name] and not (after and after.capital and rules.joins(after)):
            return False
        if title:
            return True
        before = tokens[start - 1] if start else None
        if (
            before
            and before.capital
            and _spaced(text, before.end, tokens[start].start)
            and before.word not in rules.connectors
            and (before.word,) not in rules.prefixes
        ):
            return False
        if after and after.capital and _spaced(text, tokens[end - 1].end, after.start):
            return rules.joins(after)
        return True

    def _suffix(self, token: Token, text: str, previous_end: int) -> bool:
        """Is `token` a legal form or descriptor word written right after the name?"""
        gap = text[previous_end : token.start]
        return token.capital and token.word in self.rules.legal_words and not gap.strip(" ,.")


def _spaced(text: str, left: int, right: int) -> bool:
    """Are two words separated by spaces alone (so one name may run across them)?"""
    return text[left:right].isspace()
