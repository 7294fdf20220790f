"""One bad document never stops tagging: it is recorded, listed, retried, and the rest are stored.

Enters: the CLI fixture documents (tests/fixtures/cli/fr_documents.jsonl) imported into a real
archive in tmp_path, plus one synthetic document (`synthetic-poison.jsonl`) on which the real
tagger component is made to raise. Typed-field problems no longer make the tagger fail (it
coerces them at its boundary, see test_nlp.py), so the fault is injected into the component
with pytest's monkeypatch: everything around it (batch fallback, storage, exit codes, status,
the `tag_failures` rows in the SQLite file) runs for real.
Leaves: pass/fail.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlp.components import RegwatchTagger
from regwatch.cli import main

GOOD = Path(__file__).parent / "fixtures" / "cli" / "fr_documents.jsonl"
MARK = "SYNTHETIC-POISON"
POISON = {
    "document_number": "2099-00001",
    "title": f"{MARK} Entity List Additions",
    "publication_date": "2024-01-02",
    "type": "Rule",
}


@pytest.fixture
def home(home: Path, tmp_path: Path) -> Path:
    """The command-line home (conftest) holding the good documents and one poisoned record."""
    poison = tmp_path / "synthetic-poison.jsonl"
    poison.write_text(json.dumps(POISON) + "\n", encoding="utf-8")
    for path in (GOOD, poison):
        assert invoke("import", str(path)).exit_code == 0
    return home


@pytest.fixture
def poisoned(monkeypatch: pytest.MonkeyPatch) -> dict[str, bool]:
    """The real tagger component raises on any document carrying MARK while `fault` is on."""
    real_call = RegwatchTagger.__call__
    switch = {"fault": True}

    def call(self, doc):
        if switch["fault"] and MARK in doc.text:
            raise RuntimeError("synthetic fault\nsecond line")
        return real_call(self, doc)

    monkeypatch.setattr(RegwatchTagger, "__call__", call)
    return switch


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def failures(home: Path) -> list[tuple]:
    with sqlite3.connect(home / "regwatch.db") as conn:
        return conn.execute(
            "SELECT p.source_id, f.reason FROM tag_failures f "
            "JOIN publications p ON p.id = f.publication_id"
        ).fetchall()


def test_a_failing_document_is_recorded_listed_and_the_others_are_stored(
    home: Path, poisoned: dict[str, bool]
) -> None:
    result = invoke("tag")
    assert result.exit_code == 1
    assert "tagged 10 documents with model" in result.stdout
    assert "  federal_register 2099-00001: RuntimeError: synthetic fault second line" in (
        result.stderr
    )
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: 1 failed to tag (recorded; the next tag or run retries them)"
    )
    assert failures(home) == [("2099-00001", "RuntimeError: synthetic fault second line")]
    status = invoke("status").output
    assert "documents: 11 (10 tagged, 0 with stale tags)" in status
    assert "tagging failed on 1 documents (retried by the next tag or run):" in status
    assert "  federal_register 2099-00001: RuntimeError: synthetic fault second line (" in status


def test_the_next_run_retries_only_the_failed_document(
    home: Path, poisoned: dict[str, bool]
) -> None:
    invoke("tag")
    again = invoke("tag")
    assert again.exit_code == 1
    assert "tagged 0 documents" in again.stdout
    poisoned["fault"] = False  # the document now tags fine
    fixed = invoke("tag")
    assert fixed.exit_code == 0, fixed.output
    assert "tagged 1 documents" in fixed.output
    assert "entity_list 1" in fixed.output
    assert failures(home) == []
    assert "tagging failed" not in invoke("status").output
    assert "tagged 0 documents" in invoke("tag").output


def test_a_damaged_json_cell_is_tagged_on_the_rest(home: Path) -> None:
    """A stored agencies or CFR-references cell that is not JSON (a damaged or hand-edited
    row) stopped `regwatch tag` for every document with a bare parser error, and then failed
    its document alone (its alerts could not read the agencies); now that document is tagged on
    what can be read, and so are all the others."""
    with sqlite3.connect(home / "regwatch.db") as conn:
        conn.execute(
            "UPDATE publications SET agencies = '[{broken', cfr_references = 'nope' "
            "WHERE source_id = '2099-00001'"
        )
    result = CliRunner().invoke(main, ["tag"])
    assert result.exit_code == 0, result.output
    assert "tagged 11 documents with model" in result.stdout
    assert failures(home) == []
    assert "documents: 11 (11 tagged, 0 with stale tags)" in invoke("status").output
    with sqlite3.connect(home / "regwatch.db") as conn:
        tags = conn.execute(
            "SELECT tag FROM publication_tags t JOIN publications p ON p.id = t.publication_id "
            "WHERE p.source_id = '2099-00001'"
        ).fetchall()
    assert ("entity_list",) in tags


def test_tag_input_rejects_bad_lines_by_number_and_writes_the_rest(tmp_path: Path) -> None:
    source = tmp_path / "synthetic-mixed.jsonl"
    source.write_bytes(
        GOOD.read_bytes().splitlines()[0]
        + b"\n{broken\n"
        + b'{"title": "lone surrogate \\ud800"}\n'
        + b'{"title": "Entity List", "abstract": ["a", 3], "agencies": "BIS"}\n'
    )
    out = tmp_path / "tagged.jsonl"
    result = invoke("tag", "--input", str(source), "--output", str(out))
    assert result.exit_code == 1
    assert "tagged 2 documents into" in result.stdout
    assert "  line 2: invalid JSON" in result.stderr
    assert "  line 3: UnicodeEncodeError" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"Error: 2 lines of {source} were rejected"
    assert len(out.read_text().splitlines()) == 2


@pytest.mark.parametrize("spelling", ["same", "dotted", "symlink", "hardlink"])
def test_tag_input_refuses_its_own_file_as_output(tmp_path: Path, spelling: str) -> None:
    source = tmp_path / "docs.jsonl"
    source.write_bytes(GOOD.read_bytes())
    (tmp_path / "sub").mkdir()
    output = {
        "same": source,
        "dotted": tmp_path / "sub" / ".." / "docs.jsonl",
        "symlink": tmp_path / "link.jsonl",
        "hardlink": tmp_path / "hard.jsonl",
    }[spelling]
    if spelling == "symlink":
        output.symlink_to(source)
    if spelling == "hardlink":
        output.hardlink_to(source)
    result = invoke("tag", "--input", str(source), "--output", str(output))
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: output {output} is the input file itself; choose another path"
    ]
    assert source.read_bytes() == GOOD.read_bytes()


def test_run_stores_the_crawl_tags_the_rest_writes_the_digest_and_names_the_failure(
    home: Path, poisoned: dict[str, bool], replay_server: str
) -> None:
    result = invoke(
        "run", "--base-url", replay_server, "--since", "2023-10-23", "--until", "2023-10-27"
    )
    assert result.exit_code == 1
    assert "(ok)" in result.stdout
    assert "digest written to" in result.stdout
    assert "  federal_register 2099-00001: RuntimeError: synthetic fault" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error: 1 failed to tag")
    assert [number for number, _ in failures(home)] == ["2099-00001"]
