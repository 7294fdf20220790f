"""The interim HTML digest, read from a real archive: period, grouping, escaping, untagged state."""

import json
from pathlib import Path

from archive import Archive
from digests.digest import build_digest, write_digest
from nlp.rules import primary_tags
from regwatch.importer import import_records

GOOD = Path(__file__).parent / "fixtures" / "cli" / "fr_documents.jsonl"
PRIMARY = primary_tags()


def load(home: Path, extra: list[dict] = ()) -> Archive:
    archive = Archive.open(home)
    lines = GOOD.read_text(encoding="utf-8").splitlines() + [json.dumps(r) for r in extra]
    assert not import_records(archive, lines).rejected
    return archive


def test_period_ends_on_the_newest_publication_by_default(tmp_path):
    with load(tmp_path / "home") as archive:
        digest = build_digest(archive, days=7, primary=PRIMARY)
    assert (digest.start, digest.end) == ("2025-01-10", "2025-01-16")
    assert [row["source_id"] for row in digest.others] == ["2025-00704"]


def test_untagged_archive_says_so_and_lists_everything(tmp_path):
    with load(tmp_path / "home") as archive:
        digest = build_digest(archive, days=3650, primary=PRIMARY, until="2025-01-16")
    assert not digest.tagged and not digest.relevant and digest.total == 10
    page = write_digest(digest, tmp_path / "out").read_text(encoding="utf-8")
    assert "Not tagged yet: run <code>regwatch tag</code>" in page
    assert page.count("<li>") == 10


def test_tagged_documents_come_first_with_why_and_titles_are_escaped(tmp_path):
    hostile = {
        "document_number": "2024-99990",
        "title": "Export Administration Regulations <script>alert(1)</script>",
        "publication_date": "2024-12-20",
        "abstract": "BIS amends the EAR.",
    }
    with load(tmp_path / "home", [hostile]) as archive:
        for batch in archive.documents_to_tag("t"):
            archive.store_tags(
                [
                    (
                        item,
                        {
                            "tags": ["export_control"]
                            if "EAR" in (item.document["abstract"] or "")
                            else [],
                            "evidence": {
                                "export_control": [
                                    {
                                        "rule": "ec.term.ear",
                                        "text": "EAR",
                                        "field": "abstract",
                                        "effect": "support",
                                    }
                                ]
                            },
                            "dates": {"effective_on": "2024-12-20"},
                        },
                    )
                    for item in batch
                ],
                "t",
            )
        digest = build_digest(archive, days=7, primary=PRIMARY, until="2024-12-26")
    assert [row["source_id"] for row in digest.relevant] == ["2024-99990"]
    page = write_digest(digest, tmp_path / "out").read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "Why export_control: “EAR” (abstract, rule ec.term.ear)" in page
    assert "Effective 2024-12-20." in page


def test_primary_tags_come_from_the_tag_rules():
    assert primary_tags() == ("ai", "export_control")
