"""Registered spaCy factories of the regwatch tagger (importing this module registers them).

Enters: a `Doc` made by `spacy.blank("en")`'s tokenizer whose `doc._.regwatch` is a `DocState`
holding the `DocumentText` it was made from (fields in their plain form, metadata); a plain
`nlp("text")` is read as one field named "text", as given. Evidence and mentions quote and locate
what they found in the field as the document has it (`DocumentText.quote`).
Leaves, on the Doc (`doc._.regwatch` is one object):
- `regwatch_extractor`: `doc._.regwatch.entities` ({entity: [mention]}), `.dates`
  ({slot: ISO date}), `.date_evidence`, `doc.spans["regwatch_ids"]`.
- `regwatch_tagger`: `doc.spans["regwatch_terms"]` (one span per term match, label = rule id;
  PhraseMatchers on LOWER and ORTH, a Matcher for raw token patterns; a match that a `listed`
  negative rule finds to be one item of a long list, or a `cited` one finds to name one of several
  cited documents, is marked `vetoed_by`),
  `doc.cats` (score per tag), `doc._.regwatch.tags`, `.evidence`; entity types a
  tag gates (`gates_entities` in tags.jsonl) are dropped when that tag does not pass.
Both components save their rules with the pipeline (`to_disk` / `from_disk`).
"""

from __future__ import annotations

from bisect import bisect_left
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc, Span

from nlp.dates import DateFinder
from nlp.document import DocState, DocumentText
from nlp.extract import Extractor, add_mention
from nlp.rules import read_jsonl, write_jsonl
from nlp.scoring import Hit, RuleBook, score

if not Doc.has_extension("regwatch"):
    Doc.set_extension("regwatch", default=None)


def state_of(doc: Doc) -> DocState:
    """The DocState of a Doc; a Doc made without one reads its whole text as one field."""
    state = doc._.regwatch
    if state is None:
        state = DocState(DocumentText(doc.text, [("text", 0, len(doc.text))], {}))
        doc._.regwatch = state
    return state


class RuleFilesMixin:
    """Save and load a component's rule families as JSON-lines files in its directory."""

    families: tuple[str, ...] = ()

    def rules(self) -> dict[str, list[dict[str, Any]]]:
        return {family: getattr(self, f"_{family}") for family in self.families}

    def to_disk(self, path: str | Path, *, exclude: tuple = ()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for family, rules in self.rules().items():
            write_jsonl(path / f"{family}.jsonl", rules)

    def from_disk(self, path: str | Path, *, exclude: tuple = ()):
        path = Path(path)
        self.add_rules(**{f: read_jsonl(path / f"{f}.jsonl") for f in self.families})
        return self


class RegwatchExtractor(RuleFilesMixin):
    """Identifiers and dates by regular expressions on each field; countries on tokens (ORTH)."""

    families = ("identifiers", "countries", "dates")

    def __init__(self, nlp: Language, name: str, spans_key: str):
        self.name = name
        self.spans_key = spans_key
        self._tokenizer = nlp.tokenizer
        self._vocab = nlp.vocab
        self.add_rules([], [], [])

    def add_rules(self, identifiers: list, countries: list, dates: list) -> None:
        self._identifiers, self._countries, self._dates = identifiers, countries, dates
        self._extractor = Extractor(identifiers)
        self._date_finder = DateFinder(dates)
        self._country_matcher = PhraseMatcher(self._vocab, attr="ORTH")
        for country in countries:
            aliases = [self._tokenizer(alias) for alias in country["aliases"]]
            self._country_matcher.add(country["id"], aliases)
        self._country_of = {self._vocab.strings[c["id"]]: c for c in countries}

    def __call__(self, doc: Doc) -> Doc:
        state = state_of(doc)
        doc_text = state.text
        entities = self._extractor.extract(doc_text)
        self._add_countries(doc, doc_text, entities)
        state.entities = entities
        state.dates, state.date_evidence = self._date_finder.find(doc_text)
        doc.spans[self.spans_key] = [
            span
            for entity, mentions in entities.items()
            for m in mentions
            if m["start"] is not None and (span := _char_span(doc, doc_text, m, entity)) is not None
        ]
        return doc

    def _add_countries(self, doc: Doc, doc_text: DocumentText, entities: dict) -> None:
        for match_id, start, end in self._country_matcher(doc):
            span, country = doc[start:end], self._country_of[match_id]
            field, begin, stop, quote = doc_text.quote(span.start_char, span.end_char)
            mention = {
                "value": country["name"],
                "text": quote,
                "field": field,
                "start": begin,
                "end": stop,
                "rule": country["id"],
            }
            if country.get("ambiguous"):
                mention["ambiguous"] = True
            add_mention(entities, "countries", mention)


class RegwatchTagger(RuleFilesMixin):
    """Term matcher (token patterns on LOWER / ORTH), context rules and the scorer."""

    families = ("tags", "fields", "terms", "negatives", "context")

    def __init__(self, nlp: Language, name: str, thresholds: dict[str, float], spans_key: str):
        self.name = name
        self.spans_key = spans_key
        self.thresholds = thresholds
        self._tokenizer = nlp.tokenizer
        self._vocab = nlp.vocab
        self.add_rules([], [], [], [], [])

    def add_rules(
        self, tags: list, fields: list, terms: list, negatives: list, context: list
    ) -> None:
        self._tags, self._fields, self._terms = tags, fields, terms
        self._negatives, self._context = negatives, context
        self._listings = [n for n in negatives if n.get("listed") or n.get("cited")]
        self.book = RuleBook(tags, fields, terms + context, negatives, self.thresholds)
        self.matchers = self._matchers(terms + negatives)

    def _matchers(self, rules: list[dict[str, Any]]) -> list[Matcher | PhraseMatcher]:
        """PhraseMatchers on LOWER (`phrases`) and ORTH (`orth`); a Matcher for `patterns`."""
        lower = PhraseMatcher(self._vocab, attr="LOWER")
        orth = PhraseMatcher(self._vocab, attr="ORTH")
        tokens = Matcher(self._vocab)
        for rule in rules:
            for matcher, key in ((lower, "phrases"), (orth, "orth")):
                if rule.get(key):
                    matcher.add(rule["id"], [self._tokenizer(p) for p in rule[key]])
            if rule.get("patterns"):
                tokens.add(rule["id"], rule["patterns"])
        return [m for m in (lower, orth, tokens) if len(m)]

    def __call__(self, doc: Doc) -> Doc:
        state = state_of(doc)
        doc_text = state.text
        spans = self._outermost(
            Span(doc, start, end, label=match_id)
            for matcher in self.matchers
            for match_id, start, end in matcher(doc)
        )
        doc.spans[self.spans_key] = spans
        hits = self._term_hits(spans, doc_text)
        if state.entities:
            hits += _context_hits(self._context, state.entities)
        scored = score(hits, self.book)
        doc.cats = scored.scores
        state.tags = scored.tags
        state.evidence = scored.evidence
        state.entities = self._gate_entities(state.entities, scored.tags)
        return doc

    def _term_hits(self, spans: list[Span], doc_text: DocumentText) -> list[Hit]:
        """One Hit per match; a listed match also fires the negative rule that vetoed it.
        A listing rule vetoes only a passing mention: when its matches sit in two or more
        items of lists ("AI governance; AI safety; AI workforce"), none is vetoed."""
        if not spans:
            return []
        layout = _Layout(spans[0].doc)
        listings = [self._listing(span, doc_text, layout) for span in spans]
        items: dict[str, set[int]] = {}
        for listing in filter(None, listings):
            items.setdefault(listing[0], set()).add(listing[1])
        passing = {rule for rule, found in items.items() if len(found) == 1}
        hits = []
        for span, listing in zip(spans, listings, strict=True):
            vetoed_by = listing[0] if listing and listing[0] in passing else None
            hits.append(_term_hit(span, doc_text, vetoed_by))
            if vetoed_by:
                hits.append(_term_hit(span, doc_text, None, vetoed_by))
        return hits

    def _listing(
        self, span: Span, doc_text: DocumentText, layout: _Layout
    ) -> tuple[str, int] | None:
        """(id of the first `listed` or `cited` negative rule that finds this match a passing
        one, the token that starts its item) - one item of a long list ("areas such as
        artificial intelligence, quantum computing, blockchain, ..."), or the name of one of
        several documents a sentence cites."""
        for rule in self._listings:
            kind = "listed" if rule.get("listed") else "cited"
            if span.label_ not in rule[kind]["rules"]:
                continue
            field, _ = doc_text.field_at(span.start_char)
            if field in rule.get("spares_fields", []):
                continue
            item = (_list_item if kind == "listed" else _cited_item)(span, rule[kind], layout)
            if item is not None:
                return rule["id"], item
        return None

    def _outermost(self, spans) -> list[Span]:
        """Drop a positive match inside a longer positive match that speaks for one of its tags:
        "Arms Export Control Act" hides "export control". Negatives hide nothing: they veto
        through `suppresses`, so the vetoed match stays visible in the evidence.
        """
        ordered = sorted(spans, key=lambda s: (s.start, -len(s)))
        kept: list[Span] = []
        reaching: list[Span] = []  # the kept matches that end after the current one starts
        for span in ordered:
            reaching = [k for k in reaching if k.end > span.start]
            if not any(self._shadows(k, span) for k in reaching):
                kept.append(span)
                reaching.append(span)
        return kept

    def _shadows(self, outer: Span, inner: Span) -> bool:
        if not (outer.start <= inner.start and inner.end <= outer.end and len(outer) > len(inner)):
            return False
        tags = self.book.positives.get(inner.label_, {}).get("weights", {})
        return bool(set(self.book.positives.get(outer.label_, {}).get("weights", {})) & set(tags))

    def _gate_entities(self, entities: dict[str, list], tags: list[str]) -> dict[str, list]:
        if not entities:
            return {}
        closed = {
            entity
            for tag in self._tags
            if tag["name"] not in tags
            for entity in tag.get("gates_entities", [])
        }
        any_primary = bool(set(tags) & set(self.book.primary()))
        kept = {
            entity: [m for m in mentions if any_primary or not m.get("ambiguous")]
            for entity, mentions in entities.items()
            if entity not in closed
        }
        return {entity: mentions for entity, mentions in kept.items() if mentions}


def _char_span(doc: Doc, doc_text: DocumentText, mention: dict, label: str) -> Span | None:
    start, end = doc_text.text_span(mention["field"], mention["start"], mention["end"])
    return doc.char_span(start, end, label=label, alignment_mode="expand")


def _term_hit(
    span: Span, doc_text: DocumentText, vetoed_by: str | None, rule: str | None = None
) -> Hit:
    """A term match as a Hit of its own rule, or (with `rule`) of the negative that vetoed it."""
    field, start, end, quote = doc_text.quote(span.start_char, span.end_char)
    return Hit(rule or span.label_, field, quote, start, end, 1.0, vetoed_by)


SENTENCE_ENDS = frozenset({".", "?", "!"})
LIST_SEPARATORS = frozenset({",", ";"})
ITEM_BOUNDS = LIST_SEPARATORS | {":"}


class _Layout:
    """Where one Doc's sentences end, and its list separators, item bounds and FR citations
    ("<volume> FR <page>") lie, as sorted token indices found in one pass on first use, so that
    checking a match costs a few bisections, never a walk over its sentence."""

    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self._found: tuple[list[int], ...] | None = None

    def _indices(self) -> tuple[list[int], ...]:
        if self._found is None:
            ends, separators, bounds, citations = [], [], [], []
            for i, token in enumerate(self.doc):
                text = token.text
                if text in SENTENCE_ENDS or (token.is_space and "\n" in text):
                    ends.append(i)
                if text in ITEM_BOUNDS:
                    bounds.append(i)
                    if text in LIST_SEPARATORS:
                        separators.append(i)
                if text == "FR" and i and _is_citation(self.doc[i - 1 : i + 2]):
                    citations.append(i - 1)
            self._found = ends, separators, bounds, citations
        return self._found

    def sentence(self, span: Span) -> tuple[int, int]:
        """Token bounds of the sentence holding `span` (ends: . ? ! or a line break)."""
        ends = self._indices()[0]
        before, after = bisect_left(ends, span.start), bisect_left(ends, span.end)
        start = ends[before - 1] + 1 if before else 0
        return start, ends[after] if after < len(ends) else len(self.doc)

    def separators(self, start: int, end: int) -> int:
        """How many list separators (commas, semicolons) lie in tokens [start, end)."""
        return _count(self._indices()[1], start, end)

    def item_start(self, span: Span, sentence_start: int) -> int:
        """The token starting the list item that holds `span`: after the last separator or
        colon before it in its sentence."""
        bounds = self._indices()[2]
        before = bisect_left(bounds, span.start)
        return max(sentence_start, bounds[before - 1] + 1) if before else sentence_start

    def citations(self, start: int, end: int) -> int:
        """How many FR citations lie wholly in tokens [start, end)."""
        return _count(self._indices()[3], start, end - 2)

    def next_citation(self, at: int, end: int) -> int | None:
        """The first token of the first FR citation starting at or after `at` and lying wholly
        before `end`; None if there is none."""
        citations = self._indices()[3]
        found = bisect_left(citations, at)
        return citations[found] if found < len(citations) and citations[found] < end - 2 else None


def _count(indices: list[int], start: int, end: int) -> int:
    return bisect_left(indices, end) - bisect_left(indices, start)


def _list_item(span: Span, listed: dict[str, Any], layout: _Layout) -> int | None:
    """If the match is one item of a list - its sentence holds at least `min_separators` commas
    or semicolons, and a separator (or colon) lies within `reach` tokens before or after it -
    the index of the token that starts its item (matches in one item share it); else None."""
    doc, reach = span.doc, int(listed["reach"])
    start, end = layout.sentence(span)
    if layout.separators(start, end) < int(listed["min_separators"]):
        return None
    before = doc[max(start, span.start - reach) : span.start]
    after = doc[span.end : min(end, span.end + reach)]
    if not any(t.text in ITEM_BOUNDS for t in (*before, *after)):
        return None
    return layout.item_start(span, start)


def _cited_item(span: Span, cited: dict[str, Any], layout: _Layout) -> int | None:
    """If the match names a cited document - an FR citation ("90 FR 34203") starts within
    `reach` tokens after it - in a sentence citing at least `min_citations` documents, the index
    of that citation's first token (matches naming one document share it); else None."""
    start, end = layout.sentence(span)
    if layout.citations(start, end) < int(cited["min_citations"]):
        return None
    following = layout.next_citation(span.end, end)
    return (
        following if following is not None and following < span.end + int(cited["reach"]) else None
    )


def _is_citation(tokens: Span) -> bool:
    """Three tokens reading "<volume> FR <page>"."""
    if len(tokens) != 3:
        return False
    volume, journal, page = tokens
    return journal.text == "FR" and volume.is_digit and page.is_digit


def _context_hits(rules: list[dict[str, Any]], entities: dict[str, list]) -> list[Hit]:
    hits = []
    for rule in rules:
        mentions = entities.get(rule["entity"])
        if not mentions:
            continue
        matching = [m for m in mentions if _satisfies(rule, m)]
        if not matching:
            continue
        scale = _share(rule, mentions, matching)
        hits += [
            Hit(rule["id"], m["field"], m["text"], m["start"], m["end"], scale) for m in matching
        ]
    return hits


def _share(rule: dict[str, Any], mentions: list[dict], matching: list[dict]) -> float:
    """With `share`, the fraction of the document's API CFR references that the rule covers:
    an omnibus rule amending twenty parts, one of them 10 CFR 110, is not about export controls.
    """
    if not rule.get("share"):
        return 1.0
    api = [m for m in mentions if m["field"] == "cfr_references"]
    covered = [m for m in matching if m["field"] == "cfr_references"]
    return len(covered) / len(api) if api else 1.0


def _satisfies(rule: dict[str, Any], mention: dict[str, Any]) -> bool:
    """Does an entity mention meet a context rule's constraints (title, parts, prefixes)?"""
    if "title" in rule and mention.get("title") != rule["title"]:
        return False
    if "parts" in rule:
        low, high = rule["parts"]
        part = str(mention.get("part") or "")
        if not part.isdigit() or not low <= int(part) <= high:
            return False
    prefixes = rule.get("prefixes")
    return not prefixes or str(mention["value"]).startswith(tuple(prefixes))


@Language.factory("regwatch_extractor", default_config={"spans_key": "regwatch_ids"})
def make_extractor(nlp: Language, name: str, spans_key: str) -> RegwatchExtractor:
    return RegwatchExtractor(nlp, name, spans_key)


@Language.factory(
    "regwatch_tagger", default_config={"thresholds": {}, "spans_key": "regwatch_terms"}
)
def make_tagger(
    nlp: Language, name: str, thresholds: dict[str, float], spans_key: str
) -> RegwatchTagger:
    return RegwatchTagger(nlp, name, thresholds, spans_key)
