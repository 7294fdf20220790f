"""The tagger the rest of regwatch calls: documents in, tags with evidence out.

Enters: documents as dicts with the Federal Register API's field names (JSON lines for
`tag_jsonl`), optional per-tag thresholds.
Leaves: `TagResult` per document (tags, scores, evidence, entities, dates); `tag_jsonl` writes
one JSON line per input line. spaCy is imported only when a pipeline is built or loaded.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nlp.document import DocState, document_text
from nlp.rules import PATTERNS_DIR, RuleSet, load_rules, rules_version
from regwatch.jsonl import read_objects

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

EXTRACTOR, TAGGER = "regwatch_extractor", "regwatch_tagger"


@dataclass(slots=True)
class TagResult:
    """What the tagger says about one document."""

    tags: list[str]
    scores: dict[str, float]
    evidence: dict[str, Any]
    entities: dict[str, Any]
    dates: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: Doc) -> TagResult:
        state = doc._.regwatch
        evidence = dict(state.evidence)
        if state.date_evidence:
            evidence["dates"] = state.date_evidence
        return cls(
            tags=list(state.tags),
            scores=dict(doc.cats),
            evidence=evidence,
            entities=dict(state.entities),
            dates=dict(state.dates),
        )


class Tagger:
    """A built or loaded pipeline plus the field rules that turn documents into its input."""

    def __init__(self, nlp: Language):
        self.nlp = nlp
        self._fields = [f for f in nlp.get_pipe(TAGGER).rules()["fields"] if f.get("text", True)]
        self.version = rules_version(pipeline_rules(nlp), nlp.get_pipe(TAGGER).book.thresholds)

    def tag(self, document: dict[str, Any]) -> TagResult:
        return next(self.tag_many([document]))

    def tag_many(
        self, documents: Iterable[dict[str, Any]], batch_size: int = 256
    ) -> Iterator[TagResult]:
        for doc in self.nlp.pipe(self._docs(documents), batch_size=batch_size):
            yield TagResult.from_doc(doc)

    def _docs(self, documents: Iterable[dict[str, Any]]) -> Iterator[Doc]:
        for document in documents:
            doc_text = document_text(document, self._fields)
            doc = self.nlp.make_doc(doc_text.text)
            doc._.regwatch = DocState(doc_text)
            yield doc

    def to_disk(self, path: str | Path) -> None:
        self.nlp.to_disk(path)


def build_pipeline(
    rules: RuleSet | None = None, thresholds: dict[str, float] | None = None
) -> Language:
    """spacy.blank("en") + extractor + tagger, filled with `rules` (default: nlp/patterns)."""
    import spacy

    import nlp.components  # noqa: F401  (registers the factories)

    rules = rules or load_rules(PATTERNS_DIR)
    pipeline = spacy.blank("en")
    pipeline.add_pipe(EXTRACTOR).add_rules(rules.identifiers, rules.countries, rules.dates)
    tagger = pipeline.add_pipe(TAGGER, config={"thresholds": thresholds or {}})
    tagger.add_rules(rules.tags, rules.fields, rules.terms, rules.negatives, rules.context)
    return pipeline


def pipeline_rules(pipeline: Language) -> RuleSet:
    """The RuleSet held by a pipeline's components (what `version` is computed from)."""
    parts = {**pipeline.get_pipe(EXTRACTOR).rules(), **pipeline.get_pipe(TAGGER).rules()}
    return RuleSet(**parts)


def load_tagger(
    thresholds: dict[str, float] | None = None, path: str | Path | None = None
) -> Tagger:
    """A Tagger from the rule files, or from a pipeline saved with `Tagger.to_disk(path)`."""
    if path is None:
        return Tagger(build_pipeline(thresholds=thresholds))
    import spacy

    import nlp.components  # noqa: F401

    overrides = {f"components.{TAGGER}.thresholds": thresholds} if thresholds else {}
    return Tagger(spacy.load(path, config=overrides))


def read_documents(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) per non-blank line; ValueError("line N: reason") on a bad line."""
    return read_objects(path)


def tag_jsonl(
    input_path: str | Path,
    output_path: str | Path,
    tagger: Tagger | None = None,
    chunk_size: int = 2048,
) -> int:
    """Tag every line of `input_path` into `output_path`; returns the count.

    The output is written to a temporary file and renamed at the end, so a bad input line
    (ValueError "line N: reason") leaves no partial output behind.
    """
    tagger = tagger or load_tagger()
    output = Path(output_path)
    handle, temporary = tempfile.mkstemp(dir=output.parent, suffix=".tmp")
    count = 0
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            for chunk in _chunks((r for _, r in read_documents(input_path)), chunk_size):
                for record, result in zip(chunk, tagger.tag_many(chunk), strict=True):
                    out.write(json.dumps(_output_line(record, result), ensure_ascii=False) + "\n")
                count += len(chunk)
        os.replace(temporary, output)
    except BaseException:
        os.unlink(temporary)
        raise
    return count


def _output_line(record: dict[str, Any], result: TagResult) -> dict[str, Any]:
    return {
        "document_number": record.get("document_number"),
        "title": record.get("title"),
        **result.to_dict(),
    }


def _chunks(records: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
