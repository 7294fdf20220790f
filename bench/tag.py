"""Tagging speed: the full regwatch tagger against the bare spaCy tokenizer, on the same texts.

Enters: `--input` a JSON-lines (optionally .gz) file of abstract-length documents (default:
the real Federal Register abstracts in ../shared/data/fr_abstracts_2020_2026.jsonl.gz when
present, else data/fr_labeled_dev.jsonl repeated), `--count` documents (default 20,000).
Leaves: on stdout, documents/s for `Tagger.tag_many` and for `spacy.blank("en")` tokenizing the
same title + abstract texts, and their ratio (goal: >= 1,000 docs/s and ratio >= 0.4). Both run
once over the first 2,000 documents before timing (vocabulary and tokenizer caches warm, as in
a long archive run), then alternate over all documents twice; the best pass of each is shown.

Run: .venv/bin/python bench/tag.py [--input FILE] [--count N]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from regwatch.jsonl import read_objects  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "fr_abstracts_2020_2026.jsonl.gz"
FALLBACK = ROOT / "data" / "fr_labeled_dev.jsonl"


def read_documents(path: Path, count: int) -> list[dict]:
    """`count` documents from `path`, cycling through the file when it is shorter."""
    documents = [record for _, record in itertools.islice(read_objects(path), count)]
    return list(itertools.islice(itertools.cycle(documents), count))


def rate(function, items: list) -> float:
    """Items per second of one pass of `function` over `items`."""
    start = time.perf_counter()
    function(items)
    return len(items) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=SHARED if SHARED.exists() else FALLBACK)
    parser.add_argument("--count", type=int, default=20_000)
    args = parser.parse_args()

    import spacy

    from nlp import load_tagger

    documents = read_documents(args.input, args.count)
    texts = [f"{d.get('title') or ''}\n\n{d.get('abstract') or ''}" for d in documents]
    tagger = load_tagger()
    blank = spacy.blank("en")

    def run_tagger(docs: list[dict]) -> int:
        return sum(1 for _ in tagger.tag_many(docs))

    def run_tokenizer(items: list[str]) -> int:
        return sum(1 for _ in blank.pipe(items))

    run_tagger(documents[:2000])
    run_tokenizer(texts[:2000])
    passes = [(rate(run_tagger, documents), rate(run_tokenizer, texts)) for _ in range(2)]
    tagger_rate = max(p[0] for p in passes)
    tokenizer_rate = max(p[1] for p in passes)
    print(f"input: {args.input} ({len(documents)} documents)")
    print(f"tagger:         {tagger_rate:8.0f} docs/s")
    print(f"tokenizer only: {tokenizer_rate:8.0f} docs/s")
    print(f"ratio:          {tagger_rate / tokenizer_rate:8.2f}")


if __name__ == "__main__":
    main()
