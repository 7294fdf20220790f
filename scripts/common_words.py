"""Rebuild `nlp/patterns/watch/common_words.txt`: words in lower case in many real abstracts.

Enters: the real Federal Register abstracts (`../shared/data/fr_abstracts_2020_2026.jsonl.gz`, or
the path given) and a document count (default 20).
Leaves: the word list, one word a line, sorted, after a `#` header saying how it was built. A word
written in lower case in that many abstracts is common English (or common regulatory English),
not a proper name: a watched name made only of such words ("Target", "General Technology") is
matched only where a legal form follows it ("Target Corporation").

Usage: python scripts/common_words.py [ABSTRACTS] [MIN_DOCUMENTS]
"""

from __future__ import annotations

import collections
import gzip
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO.parent / "shared" / "data" / "fr_abstracts_2020_2026.jsonl.gz"
OUTPUT = REPO / "nlp" / "patterns" / "watch" / "common_words.txt"
WORD = re.compile(r"\b[a-z]{2,}\b")


def main(path: Path = DEFAULT, min_documents: int = 20) -> None:
    seen: collections.Counter[str] = collections.Counter()
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            text = f"{record.get('title') or ''} {record.get('abstract') or ''}"
            seen.update(set(WORD.findall(text)))
    words = sorted(word for word, count in seen.items() if count >= min_documents)
    header = f"# words in lower case in at least {min_documents} abstracts of {path.name}\n"
    OUTPUT.write_text(header + "".join(f"{word}\n" for word in words), encoding="utf-8")
    print(f"{len(words)} words written to {OUTPUT}")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(Path(args[0]) if args else DEFAULT, int(args[1]) if len(args) > 1 else 20)
