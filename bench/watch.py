"""Watch-list matching speed: 5,000 counterparties and 500 ECCN patterns against 10,000 documents.

Enters: `--input` the real Federal Register abstracts (default
../shared/data/fr_abstracts_2020_2026.jsonl.gz), `--count` documents (default 10,000, spread
evenly over the file), `--names` (5,000) and `--eccns` (500).
Leaves: on stdout, how the watch-list was made, the documents/s of `WatchList.match` (best of
two passes after a warm-up, entities from the real tagger computed beforehand and not timed) and
its ratio to the goal (>= 1,000 documents/s), and how many documents and hits it found.

The counterparties are real: every distinct organisation name ending in a legal form that the
tagger's `id.entity_name` rule finds in the whole file (a fifth given the country China), topped
up, if the file holds fewer, with names made of two real name words and a legal form (said so
in the output). The ECCN patterns are every category × product group × a spread of numbers,
every other one a `*` wildcard.

Run: .venv/bin/python bench/watch.py [--input FILE] [--count N]
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from regwatch.jsonl import read_objects  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "fr_abstracts_2020_2026.jsonl.gz"
GOAL = 1_000


def real_names(records: list[dict], wanted: int) -> tuple[list[str], int]:
    """Distinct organisation names from the texts (the tagger's own rule), topped up to `wanted`
    with made-up combinations of their words; returns the names and how many are real."""
    from nlp.rules import load_rules
    from nlp.watchnames import load_name_rules

    legal = load_name_rules().only_legal
    rule = next(r for r in load_rules().identifiers if r["id"] == "id.entity_name")
    pattern = re.compile(rule["regex"])
    names: dict[str, None] = {}
    for record in records:
        for found in pattern.finditer(record.get("abstract") or ""):
            names.setdefault(" ".join(found.group("value").split()), None)
    real = [name for name in names if not legal(name)][:wanted]
    words = sorted({w for name in real for w in name.split()[:2] if w.isalpha()})
    made = (f"{a} {b} Co., Ltd." for a, b in itertools.permutations(words, 2))
    return real + list(itertools.islice(made, wanted - len(real))), len(real)


def eccn_patterns(count: int) -> list[str]:
    combos = itertools.product("0123456789", "ABCDE", range(0, 1000, 37))
    patterns = [f"{c}{g}{n:03d}" + ("*" if i % 2 else "") for i, (c, g, n) in enumerate(combos)]
    return patterns[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=SHARED)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--names", type=int, default=5_000)
    parser.add_argument("--eccns", type=int, default=500)
    args = parser.parse_args()

    from nlp import load_tagger
    from nlp.watch import WatchList, watch_item

    records = [record for _, record in read_objects(args.input)]
    step = max(1, len(records) // args.count)
    documents = records[::step][: args.count]
    names, real = real_names(records, args.names)
    items = [
        watch_item("counterparty", name, "China" if n % 5 == 0 else None, origin=f"name {n}")
        for n, name in enumerate(names)
    ]
    items += [
        watch_item("eccn", p, origin=f"eccn {n}") for n, p in enumerate(eccn_patterns(args.eccns))
    ]
    built = time.perf_counter()
    watchlist = WatchList(items)
    built = time.perf_counter() - built
    print(
        f"watch-list: {len(names)} counterparties ({real} real names from the abstracts, "
        f"{len(names) - real} made of their words), {args.eccns} ECCN patterns; built in "
        f"{built:.2f} s"
    )
    entities = [result.entities for result in load_tagger().tag_many(documents)]
    pairs = list(zip(documents, entities, strict=True))
    for document, found in pairs[:500]:
        watchlist.match(document, found)
    best, hits = 0.0, []
    for _ in range(2):
        start = time.perf_counter()
        hits = [watchlist.match(document, found) for document, found in pairs]
        best = max(best, len(pairs) / (time.perf_counter() - start))
    touched = sum(1 for found in hits if found)
    print(
        f"matched {len(pairs)} real abstracts: {best:,.0f} documents/s "
        f"({best / GOAL:.2f} × the goal of {GOAL:,}/s); {touched} documents touched, "
        f"{sum(map(len, hits))} hits"
    )


if __name__ == "__main__":
    main()
