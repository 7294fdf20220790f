"""Digest rendering benchmark: every format of the busiest week of a large archive.

Enters: `--docs N` (default 200,000) and optionally `--keep DIR` (build the archive there, or
reuse it with `--reuse`). The archive is built by `bench/ingest.py`'s builder (real Federal
Register abstracts, tagged `export_control` where `export` occurs). Leaves: figures on stdout:
the busiest ISO week, how many items it lists, and the seconds to select, render (HTML with CSS
inlined, text, Markdown) and write it — best and median of 5 runs. Goal: ≤ 2 s.

Run: `.venv/bin/python bench/digest.py [--docs 200000] [--keep DIR [--reuse]]`
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ingest  # noqa: E402

from archive import Archive  # noqa: E402
from digests.period import iso_week  # noqa: E402
from digests.render import render, write  # noqa: E402
from digests.select import build_digest  # noqa: E402

RUNS = 5


def busiest_week(archive: Archive) -> str:
    """The ISO week holding the most publications tagged ai or export_control."""
    weeks: dict[str, int] = {}
    for day, tags, _ in archive.tag_agency_rows(
        "1700-01-01", "2199-12-31", ["ai", "export_control"]
    ):
        if tags:
            year, week, _ = date.fromisoformat(day).isocalendar()
            label = f"{year}-W{week:02d}"
            weeks[label] = weeks.get(label, 0) + 1
    return max(weeks, key=weeks.get)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--keep", type=Path, help="build the archive here and keep it")
    parser.add_argument("--reuse", action="store_true", help="reuse the --keep archive as is")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="regwatch-bench-digest-"))
    home = args.keep or work / "home"
    try:
        if not args.reuse:
            base, note = ingest.source_records()
            print(f"text: {note}")
            ingest.build(home, work / "docs.jsonl", base, args.docs)
        with Archive.open(home) as archive:
            label = busiest_week(archive)
            times = []
            for _ in range(RUNS):
                start = time.perf_counter()
                digest = build_digest(archive, iso_week(label))
                paths = write(render(digest), work / "out", f"digest-{label}")
                times.append(time.perf_counter() - start)
        sizes = ", ".join(
            f"{p.suffix[1:]} {p.stat().st_size / 1024:,.0f} KiB" for p in paths.values()
        )
        print(
            f"digest of the busiest week {label}: {len(digest.items):,} items listed, "
            f"{digest.counts['total']:,} publications counted ({sizes})"
        )
        print(
            f"select + render (HTML inlined, text, Markdown) + write: best {min(times):.2f} s, "
            f"median {statistics.median(times):.2f} s over {RUNS} runs (goal ≤ 2 s)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
