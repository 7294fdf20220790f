"""Regenerate the Federal Register replay data from the shared research material.

Enters: `../shared` beside the repository (or `--shared DIR`):
`data/fr_abstracts_2020_2026.jsonl.gz`,
`data/fr_labeled_dev.jsonl` and the verbatim samples in `sources/samples/federal_register/`.
Leaves: `replay/recordings/federal_register/store.jsonl.gz` (one API-shaped document a line,
sorted by publication date then document number) and `recorded/` (byte copies of the samples
plus their SHA256SUMS and PROVENANCE.md). Run: `.venv/bin/python replay/build.py`.

Only real values are kept: a field a source record lacks stays absent. The labelled set's label keys
(`ai`, `export_control`, `borderline`, `note`, `source_url`) are dropped; its records without a
document number or publication date cannot be served by date and are skipped.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from regwatch.jsonl import read_objects

HERE = Path(__file__).resolve().parent / "recordings" / "federal_register"
# Abstract-file documents published in this window go into the store (inclusive ISO dates):
# six near-complete months, so one month holds > 1,000 documents and the window clamps at 10,000.
WINDOW = ("2023-07-01", "2023-12-31")
LABEL_KEYS = ("ai", "export_control", "borderline", "note", "source_url")
# Search-only, query-dependent values (highlighted snippets): not a property of the document.
QUERY_DEPENDENT = ("excerpts",)
# Samples whose documents enter the store: (file, key holding the documents; None = the body is
# one document, "" = the body is a list of documents).
SAMPLE_DOCUMENTS = (
    ("regulatory-document.json", None),
    ("rin-significant-document.json", None),
    ("current-document.json", None),
    ("batch-missing-duplicate.json", "results"),
    ("search-all-fields-page-one.json", "results"),
    ("search-newest-page-one.json", "results"),
    ("search-newest-page-two.json", "results"),
    ("search-single-last-page.json", "results"),
    ("search-term-page-one-no-cursor.json", "results"),
    ("third_party_trimmed/fr-bis-documents-trimmed-2026-10-02.json", ""),
)


def abstracts(path: Path) -> Iterator[dict[str, Any]]:
    """Documents of the abstracts file inside `WINDOW`, keys as found."""
    for _, record in read_objects(path):
        if WINDOW[0] <= record["publication_date"] <= WINDOW[1]:
            yield record


def labelled(path: Path) -> Iterator[dict[str, Any]]:
    """The labelled documents that can be served by date, label keys removed."""
    for _, record in read_objects(path):
        if record.get("document_number") and record.get("publication_date"):
            yield {k: v for k, v in record.items() if k not in LABEL_KEYS}


def samples(directory: Path) -> Iterator[dict[str, Any]]:
    """Documents contained in the verbatim samples, query-dependent values removed."""
    for name, key in SAMPLE_DOCUMENTS:
        body = json.loads((directory / name).read_text(encoding="utf-8"))
        for record in body if key == "" else body[key] if key else [body]:
            yield {k: v for k, v in record.items() if k not in QUERY_DEPENDENT}


def merge(*groups: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per document number; later groups add or replace fields of earlier ones."""
    merged: dict[str, dict[str, Any]] = {}
    for group in groups:
        for record in group:
            merged.setdefault(record["document_number"], {}).update(record)
    return sorted(merged.values(), key=lambda r: (r["publication_date"], r["document_number"]))


def write_store(records: list[dict[str, Any]], path: Path) -> None:
    """Gzipped JSON lines, deterministic bytes (mtime 0) so a rebuild changes nothing."""
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode())
            out.write(b"\n")


def copy_samples(source: Path, target: Path) -> None:
    """Copy every sample byte for byte and check it against the capturer's SHA-256 list."""
    sums = (source / "SHA256SUMS").read_text(encoding="utf-8").split("\n")
    for line in filter(None, sums):
        digest, name = line.split(maxsplit=1)
        name = name.lstrip("*")
        data = (source / name).read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise SystemExit(f"{name}: SHA-256 differs from SHA256SUMS")
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_bytes(data)
    for name in (n for n, _ in SAMPLE_DOCUMENTS if n.startswith("third_party_trimmed/")):
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, target / name)
    shutil.copyfile(source / "SHA256SUMS", target / "SHA256SUMS")
    shutil.copyfile(source.parent / "PROVENANCE.md", target / "PROVENANCE.md")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = Path(__file__).resolve().parents[2] / "shared"
    parser.add_argument("--shared", type=Path, default=shared)
    args = parser.parse_args()
    sample_dir = args.shared / "sources" / "samples" / "federal_register"
    records = merge(
        abstracts(args.shared / "data" / "fr_abstracts_2020_2026.jsonl.gz"),
        labelled(args.shared / "data" / "fr_labeled_dev.jsonl"),
        samples(sample_dir),
    )
    write_store(records, HERE / "store.jsonl.gz")
    copy_samples(sample_dir, HERE / "recorded")
    print(f"{len(records)} documents -> {HERE / 'store.jsonl.gz'}")


if __name__ == "__main__":
    main()
