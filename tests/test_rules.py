"""Rule files are checked when loaded: a bad rule is one error naming its file and line.

Enters: copies of nlp/patterns in tmp_path with one synthetic bad rule file added
(`terms_synthetic-bad.jsonl` and the like; the family is the name before the first "_").
Leaves: pass/fail.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nlp.rules import PATTERNS_DIR, load_rules
from nlp.schema import RuleError

GOOD_TERM = {"id": "synthetic.term", "weights": {"ai": 0.5}, "phrases": ["synthetic phrase"]}


@pytest.fixture
def patterns(tmp_path: Path) -> Path:
    directory = tmp_path / "patterns"
    shutil.copytree(PATTERNS_DIR, directory, ignore=shutil.ignore_patterns("*.md"))
    return directory


def write(directory: Path, name: str, *rules: dict | str) -> None:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rules]
    (directory / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_shipped_rules_load() -> None:
    rules = load_rules()
    assert rules.tags and rules.terms and rules.negatives


@pytest.mark.parametrize(
    ("name", "rules", "message"),
    [
        (
            "terms_synthetic-bad.jsonl",
            [GOOD_TERM, {**GOOD_TERM, "id": "synthetic.two", "phrase": ["typo"]}],
            "terms_synthetic-bad.jsonl line 2: unknown key 'phrase' in a terms rule",
        ),
        (
            "terms_synthetic-bad.jsonl",
            [GOOD_TERM, "", {"weights": {"ai": 0.5}, "phrases": ["x"]}],
            "terms_synthetic-bad.jsonl line 3: a rule needs an 'id'",
        ),
        (
            "terms_synthetic-bad.jsonl",
            [{**GOOD_TERM, "id": "ai.term.artificial_intelligence"}],
            "terms_synthetic-bad.jsonl line 1: duplicate rule id 'ai.term.artificial_intelligence' "
            "(first in terms_ai.jsonl line 1)",
        ),
        (
            "terms_synthetic-bad.jsonl",
            [{**GOOD_TERM, "weights": {"robotics": 0.5}}],
            "terms_synthetic-bad.jsonl line 1: unknown tag 'robotics'",
        ),
        (
            "terms_synthetic-bad.jsonl",
            [{**GOOD_TERM, "weights": {"ai": 1.5}}],
            "terms_synthetic-bad.jsonl line 1: 'weights' has an invalid value: {'ai': 1.5}",
        ),
        (
            "terms_synthetic-bad.jsonl",
            [{"id": "synthetic.term", "weights": {"ai": 0.5}}],
            "terms_synthetic-bad.jsonl line 1: a rule needs 'phrases', 'orth', 'patterns', "
            "'listed' or 'cited'",
        ),
        (
            "negatives_synthetic-bad.jsonl",
            [{"id": "neg.synthetic", "suppresses": ["ai.term.nothing"], "phrases": ["x"]}],
            "negatives_synthetic-bad.jsonl line 1: 'suppresses' names unknown rule "
            "'ai.term.nothing'",
        ),
        (
            "negatives_synthetic-bad.jsonl",
            [
                {
                    "id": "neg.synthetic",
                    "listed": {"rules": ["ai.term.ai_acronym"], "min_separators": 3, "reach": 4},
                    "spares_fields": ["headline"],
                }
            ],
            "negatives_synthetic-bad.jsonl line 1: unknown field 'headline'",
        ),
        (
            "fields_synthetic-bad.jsonl",
            [{"id": "field.synthetic", "field": "summary", "factor": 1.0}],
            "fields_synthetic-bad.jsonl line 1: unknown document field 'summary'",
        ),
        (
            "context_synthetic-bad.jsonl",
            [{"id": "ctx.synthetic", "entity": "patents", "weights": {"ai": 0.5}}],
            "context_synthetic-bad.jsonl line 1: unknown entity type 'patents'",
        ),
        (
            "dates_synthetic-bad.jsonl",
            [{"id": "date.synthetic", "slot": "expires_on", "cue": "expires"}],
            "dates_synthetic-bad.jsonl line 1: 'slot' has an invalid value: 'expires_on'",
        ),
        (
            "identifiers_synthetic-bad.jsonl",
            [{"id": "id.synthetic", "entity": "patents", "regex": "(unclosed"}],
            "identifiers_synthetic-bad.jsonl line 1: 'regex' has an invalid value: '(unclosed'",
        ),
        (
            "terms_synthetic-bad.jsonl",
            [{**GOOD_TERM, "phrases": ["   "]}],
            "terms_synthetic-bad.jsonl line 1: 'phrases' has an invalid value: ['   ']",
        ),
        (
            "fields_synthetic-bad.jsonl",
            [{"id": "field.synthetic", "field": "topics", "factor": 5}],
            "fields_synthetic-bad.jsonl line 1: 'factor' has an invalid value: 5",
        ),
        (
            "context_synthetic-bad.jsonl",
            [{"id": "ctx.synthetic", "entity": "cfr", "parts": [774, 730], "weights": {"ai": 0.5}}],
            "context_synthetic-bad.jsonl line 1: 'parts' has an invalid value: [774, 730]",
        ),
        (
            "dates_synthetic-bad.jsonl",
            [{"id": "date.synthetic", "slot": "effective_on", "regex": "effective at once"}],
            "dates_synthetic-bad.jsonl line 1: a date rule with 'regex' needs 'value_from' and "
            "'requires_text'",
        ),
        (
            "dates_synthetic-bad.jsonl",
            [
                {
                    "id": "date.synthetic",
                    "slot": "effective_on",
                    "regex": "effective at signing",
                    "value_from": "signing_date",
                    "requires_text": ["signing"],
                }
            ],
            "dates_synthetic-bad.jsonl line 1: 'value_from' has an invalid value: 'signing_date'",
        ),
        (
            "identifiers_synthetic-bad.jsonl",
            [{"id": "id.synthetic", "entity": "license_exceptions", "regex": "License [A-Z]{3}"}],
            "identifiers_synthetic-bad.jsonl line 1: a license_exceptions rule's 'regex' needs a "
            "group (?P<list>…)",
        ),
        (
            "identifiers_synthetic-bad.jsonl",
            [{"id": "id.synthetic", "entity": "cfr", "regex": "CFR \\d+"}],
            "identifiers_synthetic-bad.jsonl line 1: a cfr rule's 'regex' needs a group "
            "(?P<part>…)",
        ),
        (
            "terms_synthetic-bad.jsonl",
            [GOOD_TERM, "{not json"],
            "terms_synthetic-bad.jsonl line 2: Expecting property name enclosed in double quotes",
        ),
        (
            "rules_synthetic-bad.jsonl",
            [GOOD_TERM],
            "rules_synthetic-bad.jsonl: unknown rule family 'rules'",
        ),
    ],
)
def test_a_bad_rule_is_an_error_naming_file_and_line(
    patterns: Path, name: str, rules: list, message: str
) -> None:
    write(patterns, name, *rules)
    with pytest.raises(RuleError) as raised:
        load_rules(patterns)
    assert str(raised.value) == message


def test_a_rule_file_that_is_not_utf8_is_named(patterns: Path) -> None:
    (patterns / "terms_synthetic-bad.jsonl").write_bytes(b'{"id": "synthetic.\xff"}\n')
    with pytest.raises(ValueError) as raised:
        load_rules(patterns)
    assert str(raised.value) == "terms_synthetic-bad.jsonl: not UTF-8 (byte 19)"


def test_a_good_synthetic_rule_loads(patterns: Path) -> None:
    write(patterns, "terms_synthetic-good.jsonl", GOOD_TERM)
    assert "synthetic.term" in {rule["id"] for rule in load_rules(patterns).terms}


def test_no_rule_names_a_company_or_copies_a_title_phrase() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in PATTERNS_DIR.glob("*.jsonl"))
    for copied in ("Nvidia", "NVIDIA", "automate the analysis of geospatial imagery"):
        assert copied not in text
