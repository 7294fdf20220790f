"""Search benchmark at Federal Register scale: import, sizes, and latency per query class.

Enters: `--docs N` (default 1,000,000; run 200,000 on a busy machine), optionally `--keep DIR`.
Documents are built by bench/ingest.py's builder from the real abstracts in
../shared/data/fr_abstracts_2020_2026.jsonl.gz, imported through `import_records` (the path of
`regwatch import`) and given tag results (`export_control` where `export` occurs). Leaves: figures
on stdout — import rate (first 20% of the documents, all, and the last 80%: at 1,000,000 the first
20% is the 200,000-document rate, so one run shows how the rate holds up) beside a bare SQLite
insert plus tantivy add of the same documents timed in the same run (the same index documents,
every field the import adds, built beforehand; run once before the import and once after it, as
this machine's speed drifts by a third within minutes; and, printed beside, a bare run adding
title and abstract alone); database and index bytes
per document and the database against the raw JSON it stores; median / p95 ms per query class
through `Archive.find` (what `steps.search`, the CLI and the web use) beside the raw engine, alone
and with the page's text; and the web search page's median and p95 through the application.

"Raw engine" means what a results page cannot do without, on the same index: the query object
(built beforehand, so parsing the user's text and expanding word forms and prefixes are not in
it) searched for the top 20 with the total count, the 20 documents' ids read from the index, and
the facet aggregation when facets are asked; "with the page's text" adds reading the 20 titles
and abstracts by primary key and cutting a snippet of each, what any results page must do.
`Archive.find` adds parsing and query building, reading the rest of each row (agencies, tags,
links) and running the ranking and the facet aggregation side by side.

`--import-only` stops after the import rates, the bare rate and their ratio ("import / bare");
`--workers N` imports as `regwatch import --workers N` does (default: as it decides).

Run: `.venv/bin/python bench/search.py [--docs 200000] [--keep DIR] [--import-only] [--workers N]`
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import itertools
import json
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tantivy  # noqa: E402

import crawlers.normalize as normalize  # noqa: E402
from archive import Archive, Filters, SearchRequest  # noqa: E402
from archive import query as q  # noqa: E402
from archive.facets import AGGREGATION  # noqa: E402
from archive.filters import restrict  # noqa: E402
from archive.indexdoc import SCHEMA, identified  # noqa: E402
from bench import ingest  # noqa: E402
from regwatch.importer import import_records, prepare, workers_for  # noqa: E402

RUNS = 200
BIS = "Industry and Security Bureau"


def build(
    home: Path, jsonl: Path, docs: int, *, import_only: bool = False, workers: int | None = None
) -> float:
    """Write the documents, import them (timing the first 20% apart) between two bare runs of the
    same documents, print import / bare; tag them unless `import_only`; return raw JSON bytes."""
    base, note = ingest.source_records()
    print(f"text: {note}; {len(base):,} source records")
    with jsonl.open("w") as out:
        size = sum(out.write(json.dumps(r) + "\n") for r in ingest.generate(base, docs))
    print(f"documents: {docs:,}, raw JSON {size / docs:,.0f} bytes each")
    first = docs // 5
    workers = workers or workers_for(size)  # as `regwatch import [--workers N]` of this file
    documents = prebuilt(jsonl, home.parent / "documents.jsonl")
    before = bare(jsonl, home.parent / "bare", documents)
    with Archive.open(home) as archive, jsonl.open("rb") as lines:
        start = time.perf_counter()
        import_records(archive, itertools.islice(lines, first), workers=workers)
        early = time.perf_counter() - start
        import_records(archive, lines, workers=workers)
        total = time.perf_counter() - start
    print(
        f"import (--workers {workers}): first {first:,} at {first / early:,.0f} docs/s; "
        f"all {docs:,} at "
        f"{docs / total:,.0f} docs/s ({total:.0f} s); last 80% at "
        f"{(docs - first) / (total - early):,.0f} docs/s"
    )
    after = bare(jsonl, home.parent / "bare", documents)
    same = 2 / (1 / before + 1 / after)  # this machine's speed drifts: the import is bracketed
    narrow = bare(jsonl, home.parent / "bare-narrow")
    print(
        f"bare SQLite insert + tantivy add of the same documents: {same:,.0f} docs/s "
        f"(run before the import: {before:,.0f}; after it: {after:,.0f})"
    )
    print(f"  (adding title and abstract alone instead: {narrow:,.0f} docs/s)")
    rate = docs / total
    print(
        f"import / bare = {rate / same:.2f} (against title and abstract alone: {rate / narrow:.2f})"
    )
    if not import_only:
        with Archive.open(home) as archive:
            ingest.tag(archive)
    return size


def prebuilt(jsonl: Path, where: Path) -> Path:
    """The archive's index document of each line of `jsonl` (as `import_records` builds them,
    without row ids), one per line in `where`, built before any timing."""
    with jsonl.open("rb") as lines, where.open("w") as out:
        while batch := list(itertools.islice(lines, 1000)):
            for _, item in prepare((1, batch), normalize.SOURCE):
                out.write(item[4] + "\n")
    return where


def bare(jsonl: Path, where: Path, documents: Path | None = None) -> float:
    """The same documents into a bare SQLite table and a bare tantivy index, in one process;
    returns its docs/s. Each line is parsed and inserted as it is; the index gets the archive's
    index document of each line (`prebuilt`: what the import adds, with all its fields), or,
    without `documents`, a document of its title and abstract alone."""
    where.mkdir()
    conn = sqlite3.connect(where / "bare.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, number TEXT, raw TEXT)")
    (where / "index").mkdir()
    writer = tantivy.Index(SCHEMA, path=str(where / "index")).writer(256_000_000, 1)
    with contextlib.ExitStack() as files:
        lines = files.enter_context(jsonl.open())
        built = files.enter_context(documents.open()) if documents else None
        start, count = time.perf_counter(), 0
        while batch := list(itertools.islice(lines, 1000)):
            records = [json.loads(line) for line in batch]
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO docs (number, raw) VALUES (?, ?)",
                [(r["document_number"], line) for r, line in zip(records, batch, strict=True)],
            )
            conn.execute("COMMIT")
            for i, r in enumerate(records, count):
                if built is None:
                    doc = tantivy.Document(id=i, title=r["title"], abstract=r["abstract"] or "")
                    writer.add_document(doc)
                else:
                    writer.add_json(identified(next(built), i))
            count += len(records)
        writer.commit()
        writer.wait_merging_threads()
        elapsed = time.perf_counter() - start
    conn.close()
    shutil.rmtree(where, ignore_errors=True)
    return count / elapsed


def requests(docs: int) -> dict[str, list[SearchRequest]]:
    """`RUNS` requests per class, chosen from document frequencies in a sample."""
    base, _ = ingest.source_records()
    sample = list(itertools.islice(ingest.generate(base, docs), 20_000))
    texts = ingest.query_sets(sample, random.Random(11))
    filtered = Filters(tags=("export_control",), agencies=(BIS,), since="2015-01-01")
    plain = {
        name: [SearchRequest(t) for t in texts[name]]
        for name in (
            "common term",
            "mid term",
            "rare term",
            "two-word AND",
            "phrase",
            "stop-word phrase",
            "prefix",
        )
    }
    return plain | {
        "filtered (tag, agency, date)": [
            SearchRequest(t, filtered) for t in texts["common + tag + date"]
        ],
        "newest first": [SearchRequest(t, sort="newest") for t in texts["common term"]],
        "facets (mid term)": [SearchRequest(t, facets=True) for t in texts["mid term"]],
    }


def timed(call, items) -> list[float]:
    for item in items[:20]:
        call(item)
    times = []
    for item in items:
        start = time.perf_counter()
        call(item)
        times.append((time.perf_counter() - start) * 1000)
    return times


def stats(times: list[float]) -> tuple[float, float]:
    return statistics.median(times), statistics.quantiles(times, n=20)[18]


def latency(home: Path, classes: dict[str, list[SearchRequest]]) -> None:
    print(
        f"search, {RUNS} queries per class, top 20, ms: regwatch | raw tantivy | raw tantivy + "
        "page text (each query run by all three in turn, the first to run it rotating)"
    )
    with Archive.open(home, readonly=True) as archive:
        index = archive._index  # the raw engine beside the function every interface calls
        for name, items in classes.items():
            searcher = index.searcher()
            runs = [
                (
                    functools.partial(archive.find, r),
                    _raw(r, index, searcher),
                    _raw(r, index, searcher, archive._conn),
                )
                for r in items
            ]
            ours, raw, text = (stats(times) for times in side_by_side(runs))
            print(
                f"  {name:30s} median {ours[0]:6.2f} p95 {ours[1]:6.2f} | "
                f"median {raw[0]:6.2f} p95 {raw[1]:6.2f} | median {text[0]:6.2f} p95 {text[1]:6.2f}"
                f"  (p95 ×{ours[1] / raw[1]:.1f} | ×{ours[1] / text[1]:.1f})"
            )


def side_by_side(runs: list[tuple[Callable[[], object], ...]]) -> list[list[float]]:
    """Times (ms) of each way of running each query; the way that runs a query first (and reads
    its postings and rows first) rotates, so no way gets every cache warmed by another."""
    for calls in runs[:20]:
        for call in calls:
            call()
    times: list[list[float]] = [[] for _ in runs[0]]
    for k, calls in enumerate(runs):
        ways = len(calls)
        for j in [(k + i) % ways for i in range(ways)]:
            start = time.perf_counter()
            calls[j]()
            times[j].append((time.perf_counter() - start) * 1000)
    return times


def _raw(
    request: SearchRequest,
    index,
    searcher,
    conn: sqlite3.Connection | None = None,
) -> Callable[[], object]:
    """The engine alone for `request`: its query object built beforehand, then searched for the
    top 20 with the total count, the 20 documents' ids read from the index (what a page needs
    from the engine to show anything), and aggregated for facets (whose counts then give the
    total), on the same searcher. With `conn`, also the page's text: the 20 titles and abstracts
    read by primary key and an abstract snippet cut for each (what a page with stored text would
    ask the engine for)."""
    text_query = q.build(q.parse(request.text), index.schema, searcher)
    query = restrict(text_query, request.filters, index.schema)
    options = {"order_by_field": "date"} if request.sort == "newest" else {}

    def call() -> object:
        if request.facets:  # its counts give the total
            searcher.aggregate(query, AGGREGATION)
        found = searcher.search(query, 20, count=not request.facets, **options)
        ids = searcher.fast_field_values("id", [address for _, address in found.hits])
        if conn is None or not ids:
            return ids
        marks = ", ".join("?" * len(ids))
        sql = f"SELECT title, abstract FROM publications WHERE id IN ({marks})"
        cut = tantivy.SnippetGenerator.create(searcher, text_query, index.schema, "abstract")
        return [
            cut.snippet_from_doc(tantivy.Document(abstract=abstract or title)).to_html()
            for title, abstract in conn.execute(sql, ids)
        ]

    return call


def web(home: Path, classes: dict[str, list[SearchRequest]]) -> None:
    from starlette.testclient import TestClient

    from regwatch.config import load_config
    from regwatch.web.app import create_app

    config = load_config(None, environ={"REGWATCH_HOME": str(home)})
    client = TestClient(create_app(config))
    mixed = [r.text for items in classes.values() for r in items[:20]]
    random.Random(5).shuffle(mixed)
    times = timed(lambda text: client.get("/", params={"q": text}), mixed)
    median, p95 = stats(times)
    print(
        f"web search page (results + facets), {len(mixed)} queries: "
        f"median {median:.1f} ms, p95 {p95:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="build the archive here and keep it")
    parser.add_argument("--search-only", action="store_true", help="reuse the --keep archive")
    parser.add_argument(
        "--import-only", action="store_true", help="stop after the import and bare rates"
    )
    parser.add_argument("--workers", type=int, help="as `regwatch import --workers`")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # each figure appears when measured, also in a file
    work = Path(tempfile.mkdtemp(prefix="regwatch-bench-search-"))
    home = args.keep or work / "home"
    try:
        if args.import_only:
            build(home, work / "docs.jsonl", args.docs, import_only=True, workers=args.workers)
            return
        docs = work / "docs.jsonl"
        size = None if args.search_only else build(home, docs, args.docs, workers=args.workers)
        with Archive.open(home, readonly=True) as archive:
            st = archive.status()
        count = sum(st.documents.values())
        print(
            f"sizes per document: database {st.database_bytes / count:,.0f} bytes"
            + (f" ({st.database_bytes / size:.2f}× the raw JSON)" if size else "")
            + f", index {st.index_bytes / count:,.0f} bytes"
        )
        classes = requests(args.docs)
        latency(home, classes)
        web(home, classes)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
