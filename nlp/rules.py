"""Rule files: the domain knowledge of the tagger, kept as data.

Enters: the JSON-lines files in `nlp/patterns/` (one rule per line, each with an `id`), checked
against `nlp/schema.py` when loaded.
Leaves: `RuleSet`, the rules grouped by the file family that consumes them (or `RuleError`,
a `ValueError` naming file and line; a file that is not UTF-8 is a `ValueError` naming it), and
`rules_version`, a short hash that changes whenever a rule, a threshold, the character table of
`nlp/fold.py` or the code version changes.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nlp.fold import fold_version
from nlp.schema import Located, RuleError, validate
from regwatch.jsonl import data_text

CODE_VERSION = "9"  # 3: fields read plain (nlp/fold.py); 4: RINs with an en dash; 5: ECCN ranges;
# 6: dockets with en dashes; 7: an ECCN joined to a word (3A090-controlled); 8: ECCN chains;
# 9: lists of ECCN paragraphs (3A090.a, .b and .c)
PATTERNS_DIR = Path(__file__).with_name("patterns")
# File family (the file name before the first "_" or ".") -> RuleSet attribute.
FAMILIES = ("tags", "fields", "terms", "negatives", "context", "identifiers", "countries", "dates")


@dataclass(slots=True)
class RuleSet:
    """All rules, by family; each value is a list of plain dicts as stored on disk."""

    tags: list[dict[str, Any]] = field(default_factory=list)
    fields: list[dict[str, Any]] = field(default_factory=list)
    terms: list[dict[str, Any]] = field(default_factory=list)
    negatives: list[dict[str, Any]] = field(default_factory=list)
    context: list[dict[str, Any]] = field(default_factory=list)
    identifiers: list[dict[str, Any]] = field(default_factory=list)
    countries: list[dict[str, Any]] = field(default_factory=list)
    dates: list[dict[str, Any]] = field(default_factory=list)


def load_rules(directory: Path = PATTERNS_DIR) -> RuleSet:
    """Read and check every `*.jsonl` rule file of `directory`; `RuleError` on a bad rule."""
    located = []
    for path in sorted(directory.glob("*.jsonl")):
        family = path.stem.split("_")[0]
        if family not in FAMILIES:
            raise RuleError(f"{path.name}: unknown rule family {family!r}")
        located += [Located(family, path.name, n, rule) for n, rule in _numbered(path)]
    validate(located)
    rules = RuleSet()
    for item in located:
        getattr(rules, item.family).append(item.rule)
    return rules


@functools.lru_cache(maxsize=1)
def country_names() -> dict[str, str]:
    """Every name and alias of `countries.jsonl`, in lower case, → the name the tagger extracts
    (`"russian federation"` → `Russia`, `"prc"` → `China`)."""
    return {
        alias.lower(): country["name"]
        for country in load_rules().countries
        for alias in (country["name"], *country.get("aliases", ()))
    }


def primary_tags(rules: RuleSet | None = None) -> tuple[str, ...]:
    """The names of the primary tags (`"primary": true` in `tags.jsonl`), in file order."""
    return tuple(tag["name"] for tag in (rules or load_rules()).tags if tag.get("primary"))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Parse a JSON-lines rule file (as saved with a pipeline); every object must carry an `id`."""
    return [rule for _, rule in _numbered(path)]


def _numbered(path: Path) -> list[tuple[int, dict[str, Any]]]:
    rules = []
    for number, line in enumerate(data_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rule = json.loads(line)
        except json.JSONDecodeError as error:
            raise RuleError(f"{path.name} line {number}: {error.msg}") from None
        if not isinstance(rule, dict) or not rule.get("id"):
            raise RuleError(f"{path.name} line {number}: a rule needs an 'id'")
        rules.append((number, rule))
    return rules


def write_jsonl(path: Path, rules: list[dict[str, Any]]) -> None:
    """Write rules one JSON object a line (the stdlib keeps float weights exact)."""
    lines = (json.dumps(rule, ensure_ascii=False) + "\n" for rule in rules)
    path.write_text("".join(lines), encoding="utf-8")


def rules_version(rules: RuleSet, thresholds: dict[str, float]) -> str:
    """`<code version>+<hash of every rule, threshold and the character table of nlp.fold>`: a new
    value means re-tag documents."""
    content = json.dumps(
        [asdict(rules), thresholds, fold_version()], sort_keys=True, ensure_ascii=False
    )
    return f"{CODE_VERSION}+{hashlib.sha256(content.encode()).hexdigest()[:12]}"
