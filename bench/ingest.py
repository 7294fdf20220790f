"""Ingest and search benchmark for the archive (SQLite + tantivy).

Enters: `--docs N` (default 200,000). Text comes from the real Federal Register abstracts in
../shared/data/fr_abstracts_2020_2026.jsonl.gz when present (else from the repository's test
fixture, repeated); each copy gets a fresh document number and a shifted date, real
export-related abstracts are mixed in until `export` appears in a third or more of the documents,
and the fields the source lacks (type, agencies, CFR parts, URLs, page data) are filled with fixed
Federal-Register-shaped values so each raw record is about 2 KB. Leaves: figures printed to stdout:
docs/s end to end through `archive.import_records` (JSON lines → `publication_from_fr` →
`Archive.store`, the path of `regwatch import`), tag-store rate, database and index sizes, and
search latency median / p95 over 200 queries per class through `Archive.search`.

Run: `.venv/bin/python bench/ingest.py [--docs 200000] [--keep DIR]`
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archive import Archive  # noqa: E402
from regwatch.importer import import_records  # noqa: E402
from regwatch.jsonl import read_objects  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "data" / "fr_abstracts_2020_2026.jsonl.gz"
FALLBACK = REPO / "tests" / "fixtures" / "archive" / "fr_documents.jsonl"
EXPORT_SHARE = 0.36  # probability of drawing from the export-related pool
QUERIES = 200
WORD_RE = re.compile(r"[^\W_]+")
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "will",
        "with",
        "which",
        "its",
        "their",
        "not",
        "been",
        "under",
        "any",
        "may",
        "such",
        "these",
        "those",
    ]
)
STOPWORD_PHRASES = ["of the", "in the", "to the", "for the", "on the", "and the", "by the"]
AGENCIES = {
    True: [
        ("COMMERCE DEPARTMENT", "Commerce Department", 54, "commerce-department"),
        (
            "INDUSTRY AND SECURITY BUREAU",
            "Industry and Security Bureau",
            241,
            "industry-and-security-bureau",
        ),
    ],
    False: [
        (
            "ENVIRONMENTAL PROTECTION AGENCY",
            "Environmental Protection Agency",
            145,
            "environmental-protection-agency",
        )
    ],
}
TYPES = ["Rule", "Proposed Rule", "Notice", "Notice", "Notice"]
TOPICS = [
    "Administrative practice and procedure",
    "Exports",
    "Reporting and recordkeeping requirements",
    "Air pollution control",
    "Incorporation by reference",
]
PHRASES = [
    "entity list",
    "information collection",
    "final rule",
    "export administration",
    "comment period",
    "national security",
    "proposed rule",
    "federal register",
    "public comments",
    "air quality",
    "export administration regulations",
    "industry and security",
    "paperwork reduction act",
    "advanced computing",
]


def source_records() -> tuple[list[dict], str]:
    """The real abstracts (or the fixture) and a note saying which."""
    if REAL.exists():
        return [r for _, r in read_objects(REAL)], f"real FR abstracts from {REAL}"
    return [r for _, r in read_objects(FALLBACK)], f"fixture {FALLBACK} (shared data absent)"


def has_export(record: dict) -> bool:
    text = f"{record['title']} {record.get('abstract') or ''}"
    return "export" in {w.lower() for w in WORD_RE.findall(text)}


def generate(base: list[dict], count: int, seed: int = 7) -> Iterator[dict]:
    """`count` FR-shaped records: base text cycled, export pool mixed in, fresh ids and dates."""
    rng = random.Random(seed)
    exports = [r for r in base if has_export(r)]
    for i in range(count):
        record = rng.choice(exports) if rng.random() < EXPORT_SHARE else base[i % len(base)]
        copy = i // len(base)
        yield fr_record(record, i, copy, rng)


def fr_record(record: dict, i: int, copy: int, rng: random.Random) -> dict:
    day = date.fromisoformat(record["publication_date"]) - timedelta(days=2557 * (copy % 8))
    number = f"{day.year}-{i:06d}"
    y, m, d = day.isoformat().split("-")
    export = has_export(record)
    page = 1000 + i % 90000
    return {
        "abstract": record.get("abstract"),
        "action": rng.choice(["Final rule.", "Notice.", "Proposed rule.", "Notice of meeting."]),
        "agencies": [
            {
                "raw_name": raw,
                "name": name,
                "id": aid,
                "url": f"https://www.federalregister.gov/agencies/{slug}",
                "json_url": f"https://www.federalregister.gov/api/v1/agencies/{aid}",
                "parent_id": None,
                "slug": slug,
            }
            for raw, name, aid, slug in AGENCIES[export]
        ],
        "body_html_url": f"https://www.federalregister.gov/documents/full_text/html/{y}/{m}/{d}/{number}.html",
        "cfr_references": [{"title": 15, "part": str(744 + i % 30)}]
        if export
        else [{"title": 40, "part": str(52 + i % 10)}],
        "citation": f"{80 + copy} FR {page}",
        "comments_close_on": None,
        "dates": f"This document is effective {day.isoformat()}.",
        "docket_ids": [f"Docket No. {y}{i:06d}-01"],
        "document_number": number,
        "effective_on": day.isoformat(),
        "end_page": page + 3,
        "html_url": f"https://www.federalregister.gov/documents/{y}/{m}/{d}/{number}/document",
        "json_url": f"https://www.federalregister.gov/api/v1/documents/{number}?publication_date={day}",
        "page_length": 4,
        "page_views": {"count": rng.randint(1, 5000), "last_updated": "2026-09-26 12:15:03 -0400"},
        "pdf_url": f"https://www.govinfo.gov/content/pkg/FR-{day}/pdf/{number}.pdf",
        "public_inspection_pdf_url": f"https://public-inspection.federalregister.gov/{number}.pdf",
        "publication_date": day.isoformat(),
        "raw_text_url": f"https://www.federalregister.gov/documents/full_text/text/{y}/{m}/{d}/{number}.txt",
        "regulation_id_numbers": [f"0694-A{chr(65 + i % 26)}{i % 90 + 10}"] if export else [],
        "significant": None,
        "start_page": page,
        "title": record["title"],
        "topics": TOPICS[: 1 + i % len(TOPICS)],
        "type": TYPES[i % len(TYPES)],
        "volume": 80 + copy,
    }


def ingest(home: Path, path: Path, docs: int) -> Archive:
    start = time.perf_counter()
    archive = Archive.open(home)
    with path.open("rb") as lines:
        result = import_records(archive, lines, batch_size=1000)
    elapsed = time.perf_counter() - start
    print(
        f"ingest: {result.inserted:,} inserted, {len(result.rejected)} rejected in "
        f"{elapsed:.1f} s = {docs / elapsed:,.0f} docs/s end to end (JSON lines → store → index)"
    )
    return archive


def tag(archive: Archive) -> None:
    """Tag every document (export_control where `export` occurs) through store_tags."""
    start, count = time.perf_counter(), 0
    with archive.bulk():
        for batch in archive.documents_to_tag("bench-1", batch_size=2000):
            tagged = [(t, tag_result(t.document)) for t in batch]
            count += archive.store_tags(tagged, "bench-1")
    elapsed = time.perf_counter() - start
    print(
        f"tags: {count:,} tag results stored (and re-indexed) in {elapsed:.1f} s "
        f"= {count / elapsed:,.0f} docs/s"
    )


def tag_result(document: dict) -> dict:
    tags = ["export_control"] if has_export(document) else []
    return {
        "tags": tags,
        "scores": {t: 0.9 for t in tags},
        "evidence": {},
        "entities": {},
        "dates": {},
    }


def query_sets(sample: list[dict], rng: random.Random) -> dict[str, list[str]]:
    """Queries per class, chosen from document frequencies in a sample of the corpus."""
    df = Counter()
    bigrams = Counter()
    for r in sample:
        words = [w.lower() for w in WORD_RE.findall(f"{r['title']} {r.get('abstract') or ''}")]
        df.update(set(words))
        bigrams.update(
            f"{a} {b}"
            for a, b in zip(words, words[1:], strict=False)
            if not (a in STOPWORDS and b in STOPWORDS) and a.isalpha() and b.isalpha()
        )
    n = len(sample)
    common = [w for w, c in df.items() if c >= 0.2 * n]
    mid = [w for w, c in df.items() if 0.01 * n <= c < 0.1 * n and w.isalpha()]
    rare = sorted((w for w in df if w.isalpha() and len(w) > 3), key=df.get)[:QUERIES]
    phrases = PHRASES + [p for p, c in bigrams.most_common(400) if c >= 0.005 * n]
    prefixes = sorted({w[:5] for w in mid if len(w) >= 7})

    def pick(pool: list[str]) -> list[str]:
        return [rng.choice(pool) for _ in range(QUERIES)]

    return {
        "common term": pick(common),
        "mid term": pick(mid),
        "rare term": pick(rare),
        "two-word AND": [f"{a} {b}" for a, b in zip(pick(common), pick(mid), strict=True)],
        "phrase": [f'"{p}"' for p in pick(phrases)],
        "stop-word phrase": [f'"{p}"' for p in pick(STOPWORD_PHRASES)],
        "prefix": [f"{p}*" for p in pick(prefixes)],
        "common + tag + date": pick(common),
    }


def latency(archive: Archive, queries: dict[str, list[str]]) -> None:
    print(f"search latency over {QUERIES} queries per class, top 20, ms (warm):")
    for name, texts in queries.items():
        options = {"tags": ["export_control"], "since": "2015-01-01", "until": "2023-12-31"}
        kwargs = options if "tag" in name else {}
        for text in texts[:20]:
            archive.search(text, **kwargs)
        times, hits = [], 0
        for text in texts:
            start = time.perf_counter()
            hits += len(archive.search(text, **kwargs))
            times.append((time.perf_counter() - start) * 1000)
        p95 = statistics.quantiles(times, n=20)[18]
        print(
            f"  {name:20s} median {statistics.median(times):6.2f}  p95 {p95:6.2f}  "
            f"(mean hits {hits / len(texts):.1f}; e.g. {texts[0]!r})"
        )


def inflections(archive: Archive) -> None:
    """How many more documents a word finds with its inflections than typed exactly (quoted)."""
    print("inflections: documents found exactly (quoted) → with inflections (capped at 10,000):")
    for word in ("controls", "entities", "licenses", "regulations", "exporters", "semiconductors"):
        exact = len(archive.search(f'"{word}"', limit=10_000))
        start = time.perf_counter()
        stemmed = len(archive.search(word, limit=10_000))
        took = (time.perf_counter() - start) * 1000
        print(f"  {word:15s} {exact:6,} → {stemmed:6,}  ({took:.1f} ms for all hits)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--keep", type=Path, help="build the archive here and keep it")
    parser.add_argument(
        "--search-only", action="store_true", help="only time searches over the --keep archive"
    )
    args = parser.parse_args()
    base, note = source_records()
    print(f"text: {note}; {len(base):,} source records")
    work = Path(tempfile.mkdtemp(prefix="regwatch-bench-"))
    home = args.keep or work / "home"
    try:
        if not args.search_only:
            build(home, work / "docs.jsonl", base, args.docs)
        archive = Archive.open(home)
        st = archive.status()
        print(
            f"sizes: {sum(st.documents.values()):,} documents, database "
            f"{st.database_bytes / 1e6:,.0f} MB, index {st.index_bytes / 1e6:,.0f} MB"
        )
        sample = list(itertools.islice(generate(base, args.docs), 20_000))
        latency(archive, query_sets(sample, random.Random(11)))
        inflections(archive)
        archive.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def build(home: Path, jsonl: Path, base: list[dict], docs: int) -> None:
    """Write the documents as JSON lines, import them, then tag them all."""
    with jsonl.open("w") as out:
        sizes = [out.write(json.dumps(r) + "\n") for r in generate(base, docs)]
    shares = sum(has_export(record) for _, record in read_objects(jsonl)) / docs
    print(
        f"documents: {docs:,}, mean raw JSON {statistics.mean(sizes):,.0f} bytes, "
        f"'export' in {shares:.1%}"
    )
    archive = ingest(home, jsonl, docs)
    tag(archive)
    archive.close()


if __name__ == "__main__":
    main()
