"""Rule hits -> tag scores, tags and evidence. Pure Python; no spaCy.

Enters: `Hit`s (a rule that fired: term matches found by the matcher, context rules satisfied
by extracted entities, negative rules) and a `RuleBook` built from the rule files.
Leaves: `Scored`: a score in [0, 1] per tag, the tags that pass, and the evidence per tag.

How a score is made (the same words are in `patterns/README.md`):
1. Each positive rule counts once, at its strongest hit: contribution = rule weight for the
   tag x field factor (`fields.jsonl`) x the hit's scale (1, except for CFR context rules with
   `share`: the fraction of the document's CFR references the rule covers). Repeating a term
   adds nothing.
2. A negative rule that fired (a) vetoes the positive rules it `suppresses` (ids, or prefixes
   ending in `*`), which stay in the evidence marked `suppressed`, and (b) multiplies the score
   of each tag in its `weights` by (1 - weight). A hit carrying `vetoed_by` (a mention the
   matcher found to be one item of a long list) does not count; a rule left with only such
   hits is suppressed by that negative rule.
3. Score = noisy-or of the contributions, 1 - prod(1 - c), times the negative factors.
4. Rules with `requires` (tags) count only when those tags pass without them (a second pass):
   "advanced computing" says AI only inside an export-control document.
5. A tag passes at score >= threshold; a tag with `parents` also needs one parent to pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Hit:
    """One firing of one rule; offsets are inside `field` (None for API fields)."""

    rule: str
    field: str
    text: str
    start: int | None = None
    end: int | None = None
    scale: float = 1.0
    vetoed_by: str | None = None


@dataclass(slots=True)
class Scored:
    scores: dict[str, float]
    tags: list[str]
    evidence: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


class RuleBook:
    """Rule weights, tag definitions and field factors, indexed for scoring."""

    def __init__(self, tags, fields, positives, negatives, thresholds=None):
        self.tags = {t["name"]: t for t in tags}
        self.thresholds = {n: float(t.get("threshold", 0.5)) for n, t in self.tags.items()}
        self.thresholds.update(thresholds or {})
        self.factors = {f["field"]: float(f["factor"]) for f in fields}
        self.positives = {r["id"]: r for r in positives}
        self.negatives = {r["id"]: r for r in negatives}
        self._silent = _score([], self)

    def silent(self) -> Scored:
        """The result of a document where no rule fired (most documents): computed once."""
        return Scored(dict(self._silent.scores), list(self._silent.tags))

    def primary(self) -> list[str]:
        return [n for n, t in self.tags.items() if t.get("primary")]

    def factor(self, field_name: str) -> float:
        return self.factors.get(field_name, 1.0)

    def strength(self, hit: Hit) -> float:
        """How much a hit of weight 1 counts: its field factor times its scale."""
        return self.factor(hit.field) * hit.scale


def score(hits: list[Hit], book: RuleBook) -> Scored:
    """Combine the hits of one document into scores, tags and evidence."""
    return _score(hits, book) if hits else book.silent()


def _score(hits: list[Hit], book: RuleBook) -> Scored:
    negatives = _first_per_rule(h for h in hits if h.rule in book.negatives)
    positives = [h for h in hits if h.rule in book.positives]
    best = _best_per_rule((h for h in positives if not h.vetoed_by), book)
    vetoed = _best_per_rule((h for h in positives if h.vetoed_by and h.rule not in best), book)
    suppressed = _suppressed(negatives, best, book)
    suppressed.update({rule: hit.vetoed_by for rule, hit in vetoed.items()})
    best.update(vetoed)
    damp = _damping(negatives, book)
    active = [r for r in best if r not in suppressed and not book.positives[r].get("requires")]
    first = _noisy_or(active, best, book, damp)
    passing = {t for t, s in first.items() if s >= book.thresholds[t]}
    gated = [r for r in best if r not in suppressed and book.positives[r].get("requires")]
    met = [r for r in gated if set(book.positives[r]["requires"]) <= passing]
    scores = _noisy_or(active + met, best, book, damp)
    tags = _passing(scores, book)
    evidence = _evidence(best, negatives, suppressed, set(gated) - set(met), book)
    return Scored({t: round(scores[t], 4) for t in book.tags}, tags, evidence)


def _first_per_rule(hits) -> dict[str, Hit]:
    first: dict[str, Hit] = {}
    for hit in hits:
        first.setdefault(hit.rule, hit)
    return first


def _best_per_rule(hits, book: RuleBook) -> dict[str, Hit]:
    best: dict[str, Hit] = {}
    for hit in hits:
        if hit.rule not in best or book.strength(hit) > book.strength(best[hit.rule]):
            best[hit.rule] = hit
    return best


def _suppressed(negatives: dict[str, Hit], best: dict[str, Hit], book: RuleBook) -> dict:
    """Fired positive rule id -> id of the negative rule that vetoes it."""
    vetoed: dict[str, str] = {}
    for neg in negatives:
        for target in book.negatives[neg].get("suppresses", []):
            for rule in best:
                if rule == target or (target.endswith("*") and rule.startswith(target[:-1])):
                    vetoed.setdefault(rule, neg)
    return vetoed


def _damping(negatives: dict[str, Hit], book: RuleBook) -> dict[str, float]:
    damp = dict.fromkeys(book.tags, 1.0)
    for neg in negatives:
        for tag, weight in book.negatives[neg].get("weights", {}).items():
            damp[tag] *= 1.0 - weight
    return damp


def _noisy_or(rules, best, book: RuleBook, damp) -> dict[str, float]:
    keep = dict.fromkeys(book.tags, 1.0)
    for rule in rules:
        factor = book.strength(best[rule])
        for tag, weight in book.positives[rule]["weights"].items():
            keep[tag] *= 1.0 - weight * factor
    return {tag: (1.0 - keep[tag]) * damp[tag] for tag in book.tags}


def _passing(scores: dict[str, float], book: RuleBook) -> list[str]:
    above = {t for t, s in scores.items() if s >= book.thresholds[t]}
    return [
        name
        for name, tag in book.tags.items()
        if name in above and (not tag.get("parents") or above & set(tag["parents"]))
    ]


def _evidence(best, negatives, suppressed, unmet, book: RuleBook) -> dict[str, list[dict]]:
    evidence: dict[str, list[dict[str, Any]]] = {}
    for rule, hit in best.items():
        effect = "suppressed" if rule in suppressed else "unmet" if rule in unmet else "support"
        for tag, weight in book.positives[rule]["weights"].items():
            item = _item(hit, round(weight * book.strength(hit), 4), effect)
            if rule in suppressed:
                item["suppressed_by"] = suppressed[rule]
            if rule in unmet:
                item["requires"] = book.positives[rule]["requires"]
            evidence.setdefault(tag, []).append(item)
    for rule, hit in negatives.items():
        negative = book.negatives[rule]
        for tag in _negative_tags(rule, negative, suppressed, book):
            item = _item(hit, negative.get("weights", {}).get(tag), "negative")
            evidence.setdefault(tag, []).append(item)
    return {tag: evidence[tag] for tag in book.tags if tag in evidence}


def _negative_tags(rule, negative, suppressed, book: RuleBook) -> set[str]:
    tags = set(negative.get("weights", {}))
    for target, by in suppressed.items():
        if by == rule:
            tags.update(book.positives[target]["weights"])
    return tags


def _item(hit: Hit, weight: float | None, effect: str) -> dict[str, Any]:
    return {
        "rule": hit.rule,
        "text": hit.text,
        "field": hit.field,
        "start": hit.start,
        "end": hit.end,
        "weight": weight,
        "effect": effect,
    }
