"""What a rule file may say: the keys of each family, their types and what they may refer to.

Enters: every rule read from `nlp/patterns/*.jsonl`, each with its file name and line number.
Leaves: nothing on success; `RuleError` ("<file> line N: <reason>", a `ValueError`) on the first
rule that has an unknown key, lacks a required one, holds a value of the wrong type, or names a
tag, field, entity type, slot, regex group or rule that does not exist. Ids are unique across all
files.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nlp.extract import GROUPS

# The document fields `nlp/document.py` can read (Federal Register API names, plus "text" for a
# plain string given to the pipeline).
DOCUMENT_FIELDS = frozenset(
    {"title", "type", "agencies", "action", "dates", "abstract", "topics", "body"}
    | {"cfr_references", "text"}
)
# Entity types not produced by an identifier rule: API fields, and countries (countries.jsonl).
OTHER_ENTITIES = frozenset({"cfr", "rins", "dockets", "countries"})
DATE_SLOTS = frozenset({"effective_on", "comments_close_on", "compliance_on", "meeting_on", None})
# The API dates a relative date rule ("effective upon publication") may take its value from.
DATE_SOURCES = frozenset({"publication_date", "effective_on", "comments_close_on"})


class RuleError(ValueError):
    """A rule file says something the tagger cannot use; the message names file and line."""


@dataclass(frozen=True, slots=True)
class Located:
    """One rule as read, with where it was read from."""

    family: str
    file: str
    line: int
    rule: dict[str, Any]

    def error(self, reason: str) -> RuleError:
        return RuleError(f"{self.file} line {self.line}: {reason}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)


def _fraction(value: Any) -> bool:
    return _is_number(value) and 0 <= value <= 1


def _weights(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(map(_fraction, value.values()))


def _regex(value: Any) -> bool:
    try:
        return isinstance(value, str) and bool(re.compile(value))
    except re.error:
        return False


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _parts(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(map(_positive_int, value))
        and value[0] <= value[1]
    )


def _patterns(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(p, list) and p and all(isinstance(t, dict) for t in p) for p in value
    )


def _listed(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == {"rules", "min_separators", "reach"}
        and _strings(value["rules"])
        and _positive_int(value["min_separators"])
        and _positive_int(value["reach"])
    )


def _cited(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == {"rules", "min_citations", "reach"}
        and _strings(value["rules"])
        and _positive_int(value["min_citations"])
        and _positive_int(value["reach"])
    )


Check = Callable[[Any], bool]
TEXT: Check = lambda v: isinstance(v, str) and bool(v)  # noqa: E731
FLAG: Check = lambda v: isinstance(v, bool)  # noqa: E731
NOTE = {"note": TEXT}
MATCHING = {"phrases": _strings, "orth": _strings, "patterns": _patterns}

# family -> (required keys, {key: type check})
FAMILIES: dict[str, tuple[set[str], dict[str, Check]]] = {
    "tags": (
        {"name"},
        {
            "name": TEXT,
            "primary": FLAG,
            "threshold": _fraction,
            "parents": _strings,
            "gates_entities": _strings,
            "description": TEXT,
        },
    ),
    "fields": ({"field", "factor"}, {"field": TEXT, "factor": _fraction, "text": FLAG}),
    "terms": (
        {"weights"},
        {**MATCHING, "weights": _weights, "requires": _strings, **NOTE},
    ),
    "negatives": (
        set(),
        {
            **MATCHING,
            "suppresses": _strings,
            "weights": _weights,
            "listed": _listed,
            "cited": _cited,
            "spares_fields": _strings,
            **NOTE,
        },
    ),
    "context": (
        {"entity", "weights"},
        {
            "entity": TEXT,
            "title": _positive_int,
            "parts": _parts,
            "prefixes": _strings,
            "weights": _weights,
            "share": FLAG,
            **NOTE,
        },
    ),
    "identifiers": (
        {"entity", "regex"},
        {"entity": TEXT, "regex": _regex, "requires_text": _strings, "values": _strings, **NOTE},
    ),
    "countries": ({"name", "aliases"}, {"name": TEXT, "aliases": _strings, "ambiguous": FLAG}),
    "dates": (
        {"slot"},
        {
            "slot": lambda v: v in DATE_SLOTS,
            "cue": _regex,
            "regex": _regex,
            "value_from": lambda v: v in DATE_SOURCES,
            "requires_text": _strings,
            **NOTE,
        },
    ),
}


def validate(rules: list[Located]) -> None:
    """Check every rule's keys and types, then every reference between rules."""
    seen: dict[str, Located] = {}
    for item in rules:
        _check_keys(item)
        rule_id = item.rule["id"]
        if rule_id in seen:
            first = seen[rule_id]
            where = f"{first.file} line {first.line}"
            raise item.error(f"duplicate rule id {rule_id!r} (first in {where})")
        seen[rule_id] = item
    _check_references(rules)


def _check_keys(item: Located) -> None:
    required, checks = FAMILIES[item.family]
    rule = item.rule
    if not isinstance(rule.get("id"), str) or not rule["id"]:
        raise item.error("a rule needs an 'id'")
    for key in rule:
        if key != "id" and key not in checks:
            raise item.error(f"unknown key {key!r} in a {item.family} rule")
    for key in sorted(required - set(rule)):
        raise item.error(f"a {item.family} rule needs {key!r}")
    for key, value in rule.items():
        if key != "id" and not checks[key](value):
            raise item.error(f"{key!r} has an invalid value: {value!r}")
    if item.family in ("terms", "negatives") and _matches_nothing(rule):
        raise item.error("a rule needs 'phrases', 'orth', 'patterns', 'listed' or 'cited'")
    if item.family == "dates":
        _check_date(item)
    if item.family == "identifiers":
        _check_groups(item)


def _check_date(item: Located) -> None:
    rule = item.rule
    if ("cue" in rule) == ("regex" in rule):
        raise item.error("a date rule needs either 'cue' or 'regex'")
    if "regex" in rule and not {"value_from", "requires_text"} <= set(rule):
        raise item.error("a date rule with 'regex' needs 'value_from' and 'requires_text'")


def _check_groups(item: Located) -> None:
    """The named groups the entity's normaliser reads (`extract.GROUPS`) are in the regex."""
    entity, groups = item.rule["entity"], re.compile(item.rule["regex"]).groupindex
    for group in GROUPS.get(entity, ()):
        if group not in groups:
            raise item.error(f"a {entity} rule's 'regex' needs a group (?P<{group}>…)")


def _matches_nothing(rule: dict[str, Any]) -> bool:
    return not any(rule.get(key) for key in (*MATCHING, "listed", "cited"))


def _check_references(rules: list[Located]) -> None:
    by_family: dict[str, list[Located]] = {}
    for item in rules:
        by_family.setdefault(item.family, []).append(item)
    tags = {i.rule["name"] for i in by_family.get("tags", [])}
    fields = {i.rule["field"] for i in by_family.get("fields", [])}
    entities = OTHER_ENTITIES | {i.rule["entity"] for i in by_family.get("identifiers", [])}
    positives = {i.rule["id"] for f in ("terms", "context") for i in by_family.get(f, [])}
    for item in rules:
        _refer(item, tags, fields, entities, positives)


def _refer(item: Located, tags: set, fields: set, entities: set, positives: set) -> None:
    rule = item.rule
    _known(item, "tag", [*rule.get("weights", {}), *rule.get("requires", [])], tags)
    if item.family == "tags":
        _known(item, "tag", rule.get("parents", []), tags)
        _known(item, "entity type", rule.get("gates_entities", []), entities)
    if item.family == "fields":
        _known(item, "document field", [rule["field"]], DOCUMENT_FIELDS)
    _known(item, "field", rule.get("spares_fields", []), fields)
    if item.family == "context":
        _known(item, "entity type", [rule["entity"]], entities)
    for key in ("listed", "cited"):
        _known(item, "rule", rule.get(key, {}).get("rules", []), positives)
    for target in rule.get("suppresses", []):
        if not any(_aims_at(target, rule_id) for rule_id in positives):
            raise item.error(f"'suppresses' names unknown rule {target!r}")


def _aims_at(target: str, rule_id: str) -> bool:
    """Does a `suppresses` entry (an id, or a prefix ending in `*`) name this rule?"""
    return rule_id == target or (target.endswith("*") and rule_id.startswith(target[:-1]))


def _known(item: Located, kind: str, names: list[str], known: set) -> None:
    for name in names:
        if name not in known:
            raise item.error(f"unknown {kind} {name!r}")
