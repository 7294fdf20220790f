"""Rebuild the zstd dictionary source records are stored with (`archive/raw-<id>.zdict`).

Enters: real Federal Register records only: the documents of every recorded API response in
replay/recordings/federal_register/recorded (full records, every field the crawler asks for) and
the 14,276 documents the replay server answers from (store.jsonl.gz), each as the archive stores
its source record (normalised by `crawlers.normalize`, packed as compact JSON).
Leaves: a dictionary of the full records' text with statistics from all of them
(`zstd.finalize_dict`), written as `archive/raw-<its id>.zdict`, and its name printed. The id is
made of the content, so the same records give the same file. A new dictionary is added beside the
old ones, never over them: rows written with an old one must still read (`archive.rawpack`);
point `rawpack.WRITTEN` at the new id to write with it.

Usage: python scripts/raw_dictionary.py
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from archive import rawpack  # noqa: E402
from crawlers.normalize import publication_from_fr  # noqa: E402

RECORDINGS = REPO / "replay" / "recordings" / "federal_register"
SIZE = 64 * 1024


def recorded_documents() -> list[dict]:
    """Every document object of the recorded API responses, one per document number."""
    found: dict[str, dict] = {}
    for path in sorted((RECORDINGS / "recorded").glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        documents = body.get("results") if isinstance(body, dict) else None
        for record in documents if isinstance(documents, list) else [body]:
            if isinstance(record, dict) and record.get("publication_date"):
                found.setdefault(str(record.get("document_number")), record)
    return list(found.values())


def packed(record: dict) -> bytes:
    return rawpack.packed_json(publication_from_fr(record).raw)


def build() -> rawpack.zstd.ZstdDict:
    """The dictionary of the recorded records' text, with statistics from them and the store's."""
    full = [packed(record) for record in recorded_documents()]
    with gzip.open(RECORDINGS / "store.jsonl.gz", "rt", encoding="utf-8") as lines:
        stored = [packed(json.loads(line)) for line in lines]
    content = rawpack.zstd.ZstdDict(b"".join(full), is_raw=True)
    return rawpack.zstd.finalize_dict(content, stored + full, SIZE, rawpack.LEVEL)


def main() -> None:
    built = build()
    path = rawpack.HERE / f"raw-{built.dict_id}.zdict"
    if path.exists() and path.read_bytes() != built.dict_content:
        sys.exit(f"{path.name} exists and differs: a dictionary never changes once written")
    path.write_bytes(built.dict_content)
    print(f"{path.name} written")


if __name__ == "__main__":
    main()
