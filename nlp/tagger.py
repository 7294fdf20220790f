"""The tagger the rest of regwatch calls: documents in, tags with evidence out.

Enters: documents as dicts with the Federal Register API's field names (JSON lines for
`tag_jsonl`), optional per-tag thresholds. A text longer than spaCy's `max_length` (the body of a
large rule runs to millions of characters) is tokenized in pieces of about `PIECE_CHARS` cut at
paragraph or sentence ends and joined into one Doc, so every offset points into the original
field and a match is never cut at a piece boundary.
Leaves: `TagResult` per document (tags, scores, evidence, entities, dates); `tag_each` gives a
`TagFailure` (the reason, one line) in place of a document that cannot be tagged; `tag_jsonl`
writes one JSON line per good input line and returns the lines it rejected, by number.
spaCy is imported only when a pipeline is built or loaded.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nlp.document import DocState, document_text, split_text
from nlp.rules import PATTERNS_DIR, RuleSet, load_rules, rules_version
from regwatch.jsonl import LineError, file_lines, parse_lines, read_objects
from regwatch.outfiles import replaceable, replacing

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

EXTRACTOR, TAGGER = "regwatch_extractor", "regwatch_tagger"
PIECE_CHARS = 100_000
REASON_CHARS = 200


@dataclass(frozen=True, slots=True)
class TagFailure:
    """A document the tagger could not tag, and why (one line)."""

    reason: str

    @classmethod
    def from_exception(cls, error: Exception) -> TagFailure:
        text = " ".join(str(error).split())
        reason = f"{type(error).__name__}: {text}" if text else type(error).__name__
        return cls(reason if len(reason) <= REASON_CHARS else reason[: REASON_CHARS - 1] + "…")


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

    def tag_each(self, documents: list[dict[str, Any]]) -> list[TagResult | TagFailure]:
        """Tag a batch; if the batch fails, tag its documents one by one so only a bad one fails."""
        try:
            return list(self.tag_many(documents))
        except Exception:
            return [self._tag_or_fail(document) for document in documents]

    def _tag_or_fail(self, document: dict[str, Any]) -> TagResult | TagFailure:
        try:
            return self.tag(document)
        except Exception as error:
            return TagFailure.from_exception(error)

    def _docs(self, documents: Iterable[dict[str, Any]]) -> Iterator[Doc]:
        for document in documents:
            doc_text = document_text(document, self._fields)
            doc = self._make_doc(doc_text.text)
            doc._.regwatch = DocState(doc_text)
            yield doc

    def _make_doc(self, text: str) -> Doc:
        """Tokenize `text`, in pieces when it is longer than the pipeline's `max_length`."""
        if len(text) <= self.nlp.max_length:
            return self.nlp.make_doc(text)
        from spacy.tokens import Doc

        size = min(PIECE_CHARS, self.nlp.max_length)
        pieces = [self.nlp.make_doc(piece) for piece in split_text(text, size)]
        return Doc.from_docs(pieces, ensure_whitespace=False)

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


@dataclass(frozen=True, slots=True)
class TagFileResult:
    """What `tag_jsonl` did: lines tagged, and (line number, reason) for each line rejected."""

    tagged: int
    rejected: list[tuple[int, str]]


def read_documents(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) per non-blank line; ValueError("line N: reason") on a bad line."""
    return read_objects(path)


def tag_jsonl(
    input_path: str | Path,
    output_path: str | Path,
    tagger: Tagger | None = None,
    chunk_size: int = 2048,
) -> TagFileResult:
    """Tag every good line of `input_path` into `output_path`; reject the others by number.

    A line that is not a JSON object, or a document the tagger fails on, is left out of the
    output and listed in `rejected`. `output_path` naming the input file itself (by any spelling
    or link) is refused with ValueError before anything is read, and so is one that is not a
    regular file (a named pipe, a device) or may not be written (`outfiles.replaceable`). The
    output (a link's target) is written to a temporary file and renamed at the end, so an
    interrupted run leaves no partial output.
    """
    if _same_file(Path(input_path), Path(output_path)):
        raise ValueError(f"output {output_path} is the input file itself; choose another path")
    output = replaceable(Path(output_path))  # a link's target; never a pipe, device or read-only
    tagger = tagger or load_tagger()
    tagged, rejected = 0, []
    with replacing(output, encoding="utf-8") as out:
        for chunk in _chunks(parse_lines(file_lines(input_path, "tag")), chunk_size):
            good = [(n, r) for n, r in chunk if not isinstance(r, LineError)]
            rejected += [(n, r.reason) for n, r in chunk if isinstance(r, LineError)]
            results = tagger.tag_each([record for _, record in good])
            for (number, record), result in zip(good, results, strict=True):
                if isinstance(result, TagFailure):
                    rejected.append((number, result.reason))
                    continue
                out.write(json.dumps(_output_line(record, result), ensure_ascii=False) + "\n")
                tagged += 1
    return TagFileResult(tagged, sorted(rejected))


def _same_file(first: Path, second: Path) -> bool:
    """Do two paths name one file (same spelling once resolved, a symlink or a hard link)?"""
    if os.path.realpath(first) == os.path.realpath(second):
        return True
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False


def _output_line(record: dict[str, Any], result: TagResult) -> dict[str, Any]:
    return {
        "document_number": record.get("document_number"),
        "title": record.get("title"),
        **result.to_dict(),
    }


def _chunks(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
