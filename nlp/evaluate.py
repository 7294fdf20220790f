"""Precision, recall and F1 per primary tag against hand labels, tagger beside a keyword baseline.

Enters: a JSON-lines file of documents carrying the label keys `ai`, `export_control` and
`borderline` (data/fr_labeled_dev.jsonl has that shape), and optionally a Tagger.
Leaves: `EvalReport` with figures for each system (tagger, baseline) on two subsets
(`non_borderline`: records with borderline == false; `all`), the tagger's misses, and
`to_dict()` / `format_text()` renderings.

The baseline is the plain keyword search the tagger must beat: title or abstract contains
"artificial intelligence" -> ai; contains "export" -> export_control (case-insensitive).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nlp.tagger import Tagger, load_tagger, read_documents

TAGS = ("ai", "export_control")
LABEL_KEYS = (*TAGS, "borderline")
SUBSETS = ("non_borderline", "all")
BASELINE_KEYWORDS = {"ai": "artificial intelligence", "export_control": "export"}


@dataclass(slots=True)
class Figures:
    """Counts and ratios of one system on one tag and subset."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, predicted: bool, gold: bool) -> None:
        if predicted and gold:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif gold:
            self.fn += 1
        else:
            self.tn += 1

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


@dataclass(slots=True)
class EvalReport:
    """figures[system][subset][tag] plus the tagger's misses."""

    path: str
    documents: int = 0
    borderline: int = 0
    figures: dict[str, dict[str, dict[str, Figures]]] = field(default_factory=dict)
    misses: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        figures = {
            system: {s: {t: f.to_dict() for t, f in tags.items()} for s, tags in subsets.items()}
            for system, subsets in self.figures.items()
        }
        return {
            "path": self.path,
            "documents": self.documents,
            "borderline": self.borderline,
            "figures": figures,
            "misses": self.misses,
        }

    def format_text(self) -> str:
        lines = [
            f"{self.path}: {self.documents} documents, {self.borderline} borderline",
            f"{'tag':<16}{'subset':<16}{'tagger P / R / F1':<26}{'baseline P / R / F1':<26}",
        ]
        for tag in TAGS:
            for subset in SUBSETS:
                cells = [_cell(self.figures[s][subset][tag]) for s in ("tagger", "baseline")]
                lines.append(f"{tag:<16}{subset:<16}{cells[0]:<26}{cells[1]:<26}")
        lines.append(f"tagger misses ({len(self.misses)}):")
        lines += [_miss_line(m) for m in self.misses] or ["  none"]
        return "\n".join(lines)


def evaluate_file(path: str | Path, tagger: Tagger | None = None) -> EvalReport:
    """Score the tagger and the keyword baseline on a labelled JSON-lines file."""
    records = [_labelled(number, record) for number, record in read_documents(path)]
    tagger = tagger or load_tagger()
    report = EvalReport(str(path), len(records), sum(bool(r["borderline"]) for r in records))
    report.figures = {
        s: {sub: {t: Figures() for t in TAGS} for sub in SUBSETS} for s in ("tagger", "baseline")
    }
    for record, result in zip(records, tagger.tag_many(records), strict=True):
        predicted = {"tagger": set(result.tags), "baseline": baseline_tags(record)}
        for tag in TAGS:
            gold = bool(record[tag])
            for system, tags in predicted.items():
                for subset in _subsets(record):
                    report.figures[system][subset][tag].add(tag in tags, gold)
            if (tag in predicted["tagger"]) != gold:
                report.misses.append(_miss(record, tag, gold, result.scores.get(tag, 0.0)))
    return report


def baseline_tags(record: dict[str, Any]) -> set[str]:
    """Keyword baseline: a keyword in title or abstract, case-insensitive."""
    text = f"{record.get('title') or ''} {record.get('abstract') or ''}".lower()
    return {tag for tag, keyword in BASELINE_KEYWORDS.items() if keyword in text}


def _labelled(number: int, record: dict[str, Any]) -> dict[str, Any]:
    missing = [k for k in LABEL_KEYS if not isinstance(record.get(k), bool)]
    if missing:
        raise ValueError(f"line {number}: missing or non-boolean label {', '.join(missing)}")
    return record


def _subsets(record: dict[str, Any]) -> tuple[str, ...]:
    return ("all",) if record["borderline"] else SUBSETS


def _miss(record: dict[str, Any], tag: str, gold: bool, score: float) -> dict[str, Any]:
    return {
        "kind": "false_negative" if gold else "false_positive",
        "tag": tag,
        "document_number": record.get("document_number"),
        "title": record.get("title"),
        "borderline": bool(record["borderline"]),
        "score": score,
    }


def _cell(figures: Figures) -> str:
    return f"{figures.precision:.2f} / {figures.recall:.2f} / {figures.f1:.2f}"


def _miss_line(miss: dict[str, Any]) -> str:
    kind = "FN" if miss["kind"] == "false_negative" else "FP"
    border = " [borderline]" if miss["borderline"] else ""
    return (
        f"  {kind} {miss['tag']:<15}{miss['document_number'] or '-':<12}"
        f"score {miss['score']:.2f}{border}  {miss['title']}"
    )
