"""One document (as `Archive.document` returns it) → the lines `regwatch show` prints.

Enters: the document dict (stored fields, tags with evidence, entities, dates, links, screening
lists and EAR section changes, versions, the rulemaking's timeline, related documents). Leaves:
plain text lines, each value of a one-line field on one line (`one_line`: a line break in a
title or an agency name would print a line of its own, read as metadata; the abstract keeps its
lines); the caller makes them inert for the terminal. `damaged_line`: what to say of
stored values that could not be read (shown empty), with what rewrites each, or None.
"""

from __future__ import annotations

from typing import Any

from regwatch.inert import one_line

DATE_FIELDS = ("publication_date", "effective_on", "comments_close_on")
EVIDENCE_SHOWN = 5
# What rewrites a damaged stored value: tag result and versions by name, any other (a stored list,
# the source record `raw`) storing the document again (`archive.store`).
REMEDIES = {
    "tag result": "`regwatch tag --retag` the tag result",
    "versions": "restore regwatch.db from a backup for the versions",
}
STORED_AGAIN = "importing or crawling the document again rewrites {}"


def damaged_line(doc: dict[str, Any]) -> str | None:
    """One line naming the document's stored values that could not be read, with the remedy."""
    if not doc.get("damaged"):
        return None
    stored = [name for name in doc["damaged"] if name not in REMEDIES]
    remedies = [STORED_AGAIN.format(", ".join(stored))] if stored else []
    remedies += [REMEDIES[name] for name in doc["damaged"] if name in REMEDIES]
    return (
        f"{doc['source']} {doc['source_id']}: stored {', '.join(doc['damaged'])} cannot be read "
        f"(damaged); the rest is shown: {'; '.join(remedies)}"
    )


def document_lines(doc: dict[str, Any]) -> list[str]:
    """Header, metadata, tags with evidence, entities, dates, links, versions, timeline,
    related."""
    agencies = "; ".join(a.get("name") or a.get("raw_name") or "?" for a in doc["agencies"])
    lines = [
        one_line(doc["title"]),
        one_line(
            f"{doc['source']} {doc['source_id']} · {doc['type'] or 'no type'} · "
            f"{agencies or 'no agency'}"
        ),
    ]
    lines += [one_line(f"{name}: {doc[name]}") for name in DATE_FIELDS if doc.get(name)]
    for name in ("action", "dates", "citation"):
        if doc.get(name):
            lines.append(one_line(f"{name}: {doc[name]}"))
    for name in ("regulation_id_numbers", "docket_ids", "topics"):
        if doc.get(name):
            lines.append(one_line(f"{name.replace('_', ' ')}: {', '.join(map(str, doc[name]))}"))
    cfr = [f"{r.get('title')} CFR {r.get('part')}" for r in doc.get("cfr_references") or []]
    if cfr:
        lines.append(one_line(f"CFR: {', '.join(cfr)}"))
    if doc.get("abstract"):
        lines += ["", doc["abstract"]]
    lines += ["", *_tag_lines(doc)]
    lines += _section("entities", _entity_lines(doc["entities"]))
    lines += _section("dates found", [f"{k}: {v}" for k, v in doc["extracted_dates"].items()])
    lines += _section("links", doc["links"])
    lines += _section("screening lists", [doc["screening"]] if doc.get("screening") else [])
    lines += _section("EAR sections changed", [_change(c) for c in doc.get("section_changes", [])])
    lines += _section(
        "versions",
        [
            f"{v['version']} recorded {v['recorded_at']}: "
            + (f"changed {', '.join(v['changed'])}" if v["changed"] else "first seen")
            for v in doc["versions"]
        ],
    )
    lines += _section("timeline", timeline_lines(doc["timeline"]))
    lines += _section(
        "related",
        [
            f"{r['publication_date']} {r['source_id']} {r['title']} ({'; '.join(r['why'])})"
            for r in doc["related"]
        ],
    )
    return lines


def _change(change: dict[str, Any]) -> str:
    """`§ 744.23(a)(2): old → new (eCFR 2023-11-17 → 2024-12-05)` and the new version's link."""
    old, new = change.get("old") or "(added)", change.get("new") or "(removed)"
    dates = f"eCFR {change.get('old_date')} → {change.get('new_date')}"
    link = f" {change['new_url']}" if change.get("new_url") else ""
    return f"{change.get('label')}: {old} → {new} ({dates}){link}"


def timeline_lines(timeline: dict[str, Any]) -> list[str]:
    """`2024-12-05 published as rule: 2024-28270 Title (this document)`, one line per event,
    then how many documents of the rulemaking were left out."""
    keys = [f"RIN {v}" for v in timeline["rins"]] + [f"docket {v}" for v in timeline["dockets"]]
    lines = [f"rulemaking: {', '.join(keys)}"] if keys else []
    for event in timeline["events"]:
        document = event["document"]
        lines.append(
            f"{event['date']} {event['what']}{' (upcoming)' if event['upcoming'] else ''}: "
            f"{document['source_id']} {document['title']}"
            + (" (this document)" if event["current"] else "")
        )
    return lines + left_out(timeline)


def left_out(timeline: dict[str, Any]) -> list[str]:
    """What the timeline leaves out: documents beyond its cap, candidates the index missed."""
    lines = []
    if timeline["omitted"]:
        lines.append(f"{timeline['omitted']} more documents of this rulemaking are not shown")
    if not timeline["complete"]:
        lines.append("the search index did not list every document of this rulemaking")
    return lines


def _tag_lines(doc: dict[str, Any]) -> list[str]:
    if not doc["tagged_by"]:
        return ["not tagged yet"]
    if not doc["tags"]:
        return [f"no tags (model {doc['tagged_by']}, {doc['tagged_at']})"]
    lines = [f"tags (model {doc['tagged_by']}, {doc['tagged_at']}):"]
    for tag in doc["tags"]:
        score = "" if tag["score"] is None else f" {tag['score']:.2f}"
        lines.append(f"  {one_line(tag['tag'])}{score}")
        for hit in tag["evidence"][:EVIDENCE_SHOWN]:
            lines.append(
                "    "
                + one_line(
                    f"{hit.get('effect', 'support')} {hit.get('rule')}: "
                    f'"{hit.get("text")}" in {hit.get("field")}'
                )
            )
    return lines


def _entity_lines(entities: dict[str, list[dict[str, Any]]]) -> list[str]:
    return [
        f"{kind}: {', '.join(dict.fromkeys(str(m.get('value')) for m in mentions))}"
        for kind, mentions in sorted(entities.items())
        if mentions
    ]


def _section(title: str, lines: list[str]) -> list[str]:
    return ["", f"{title}:", *(f"  {one_line(line)}" for line in lines)] if lines else []
