"""`regwatch show`: one document with its tags, evidence, entities, versions and related documents.

Enters: four synthetic documents (tests/fixtures/search/synthetic-documents.jsonl) imported and
tagged by the real tagger, then synthetic-0001 imported again with a changed abstract. Leaves:
assertions on what `show` prints as text and JSON, on the `publication_versions` rows in the real
SQLite file, and on one-line errors.
"""

from __future__ import annotations

import html
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from regwatch import steps
from regwatch.cli import main
from regwatch.config import load_config
from regwatch.web.app import create_app

SYNTHETIC = Path(__file__).parent / "fixtures" / "search" / "synthetic-documents.jsonl"


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("show")
    (root / "regwatch.toml").write_text(f'[archive]\nhome = "{root / "home"}"\n', encoding="utf-8")
    loaded = load_config(root / "regwatch.toml", environ={})
    steps.import_file(loaded, str(SYNTHETIC))
    first = json.loads(SYNTHETIC.read_text(encoding="utf-8").splitlines()[0])
    changed = root / "synthetic-changed.jsonl"
    changed.write_text(
        json.dumps(first | {"abstract": first["abstract"] + " Corrected."}) + "\n", encoding="utf-8"
    )
    assert steps.import_file(loaded, str(changed)).updated == 1
    steps.tag(loaded)
    return loaded


def invoke(config, *args: str):
    return CliRunner().invoke(main, ["--config", str(config.source), *args])


def test_versions_are_recorded_with_what_changed(config) -> None:
    with sqlite3.connect(config.home / "regwatch.db") as conn:
        rows = conn.execute(
            "SELECT v.version, v.changed FROM publication_versions v JOIN publications p "
            "ON p.id = v.publication_id WHERE p.source_id = 'synthetic-0001' ORDER BY v.version"
        ).fetchall()
    assert [(v, json.loads(c)) for v, c in rows] == [(1, []), (2, ["abstract", "raw"])]


def test_show_json_has_tags_entities_versions_and_related(config) -> None:
    result = invoke(config, "show", "synthetic-0002", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["source_id"] == "synthetic-0002" and doc["type"] == "Rule"
    tags = {t["tag"]: t for t in doc["tags"]}
    assert "export_control" in tags and tags["export_control"]["evidence"]
    assert [m["value"] for m in doc["entities"]["eccns"]] == ["4E091"]
    assert [v["version"] for v in doc["versions"]] == [1]
    (related,) = doc["related"]
    assert related["source_id"] == "synthetic-0001"
    assert related["why"] == ["same RIN 0694-AJ99", "cited here: 90 FR 1234"]


def test_show_text_lists_versions_and_who_cites_it(config) -> None:
    result = invoke(config, "show", "synthetic-0001")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("Synthetic: Revisions to ECCN 3A090.a Advanced Computing Controls\n")
    assert "comments_close_on: 2025-04-02" in out
    assert "eccns: 3A090.a" in out and "countries: China" in out
    assert "  1 recorded " in out and ": first seen" in out
    assert ": changed abstract, raw" in out
    assert "synthetic-0002 Synthetic: Final Rule" in out
    assert "(same RIN 0694-AJ99; cites this: 90 FR 1234)" in out


def test_show_keeps_only_http_links(config) -> None:
    doc = json.loads(invoke(config, "show", "synthetic-0004", "--format", "json").output)
    assert doc["links"] == []  # its html_url is javascript:


def test_show_unknown_document_is_one_line(config) -> None:
    result = invoke(config, "show", "nosuch")
    assert result.exit_code == 1
    assert result.output == "Error: no document nosuch in the archive\n"
    result = invoke(config, "show", "synthetic-0001", "--source", "bis")
    assert result.output == "Error: no document synthetic-0001 from bis in the archive\n"
    result = invoke(config, "show", " ")
    assert result.output == "Error: no document number given: name one, as 2024-12345\n"
    result = invoke(config, "show", "synthetic-0001\nx")  # said "no document synthetic-0001"
    assert result.output == "Error: no document 'synthetic-0001\\nx' in the archive\n"


DAMAGE = {  # synthetic damage, as a hand edit or a salvaged database leaves it
    "agencies": "'not json'",
    "regulation_id_numbers": "'[1, {\"a\": 2}]'",
    "raw": "X'00112233'",
}


@pytest.fixture
def damaged(config, tmp_path):
    """A copy of the archive whose synthetic-0001 holds cells regwatch cannot read."""
    home = tmp_path / "home"
    shutil.copytree(config.home, home)
    with sqlite3.connect(home / "regwatch.db") as conn:
        for column, value in DAMAGE.items():
            conn.execute(
                f"UPDATE publications SET {column} = {value} WHERE source_id = 'synthetic-0001'"
            )
        conn.execute(
            "UPDATE tag_results SET result = '[1' WHERE publication_id = "
            "(SELECT id FROM publications WHERE source_id = 'synthetic-0001')"
        )
    (tmp_path / "regwatch.toml").write_text(f'[archive]\nhome = "{home}"\n', encoding="utf-8")
    return load_config(tmp_path / "regwatch.toml", environ={})


DAMAGED_LINE = (
    "Error: federal_register synthetic-0001: stored agencies, regulation_id_numbers, raw, "
    "tag result cannot be read (damaged); the rest is shown: importing or crawling the document "
    "again rewrites agencies, regulation_id_numbers, raw; `regwatch tag --retag` the tag result\n"
)


def test_show_of_a_document_with_damaged_cells_shows_the_rest_and_names_them(damaged) -> None:
    """A damaged JSON cell made `show` print a traceback or a bare JSON parser message naming
    neither document nor column; now the readable fields are shown, the damaged ones named,
    and the exit is 1."""
    result = CliRunner().invoke(main, ["--config", str(damaged.source), "show", "synthetic-0001"])
    assert result.exit_code == 1
    assert result.stdout.startswith("Synthetic: Revisions to ECCN 3A090.a Advanced Computing")
    assert "federal_register synthetic-0001 · Proposed Rule · no agency" in result.stdout
    assert "  1 recorded " in result.stdout and "Not tagged" not in result.stdout
    assert result.stderr == DAMAGED_LINE
    as_json = CliRunner().invoke(
        main, ["--config", str(damaged.source), "show", "synthetic-0001", "--format", "json"]
    )
    assert as_json.exit_code == 1 and as_json.stderr == DAMAGED_LINE
    doc = json.loads(as_json.stdout)
    assert doc["damaged"] == ["agencies", "regulation_id_numbers", "raw", "tag result"]
    assert doc["agencies"] == [] and doc["tags"] == [] and doc["abstract"].startswith("BIS")


def test_importing_and_tagging_again_repair_every_damaged_cell_show_names(damaged, tmp_path):
    """`show` told to restore the whole database from a backup for a damaged cell that importing
    the document again rewrites: a list holding what regwatch never writes there (valid JSON,
    which the import used to take as readable) and a source record that cannot be decoded (the
    import rewrote lists only); now the import rewrites them and `tag` the tag result."""
    with sqlite3.connect(damaged.home / "regwatch.db") as conn:  # every list valid JSON
        conn.execute("UPDATE publications SET agencies = '[]' WHERE source_id = 'synthetic-0001'")
    first = json.loads(SYNTHETIC.read_text(encoding="utf-8").splitlines()[0])
    again = tmp_path / "synthetic-changed.jsonl"
    again.write_text(json.dumps(first | {"abstract": first["abstract"] + " Corrected."}) + "\n")
    assert steps.import_file(damaged, str(again)).repaired == 1
    shown = CliRunner().invoke(main, ["--config", str(damaged.source), "show", "synthetic-0001"])
    assert shown.stderr == (
        "Error: federal_register synthetic-0001: stored tag result cannot be read (damaged); the "
        "rest is shown: `regwatch tag --retag` the tag result\n"
    )
    doc = json.loads(
        CliRunner()
        .invoke(
            main, ["--config", str(damaged.source), "show", "synthetic-0001", "--format", "json"]
        )
        .stdout
    )
    assert doc["regulation_id_numbers"] == first["regulation_id_numbers"]
    steps.tag(damaged)
    shown = CliRunner().invoke(main, ["--config", str(damaged.source), "show", "synthetic-0001"])
    assert shown.exit_code == 0 and shown.stderr == ""


# Hand edits of a stored tag result into valid JSON of another shape (synthetic).
TAG_RESULT_EDITS = {
    "scores a list": ("$.scores", "[0.9]"),
    "a score as text": ("$.scores", '{"export_control": "high"}'),
    "evidence items not objects": ("$.evidence", '{"export_control": [1]}'),
    "entities a list": ("$.entities", "[1]"),
    "a mention not an object": ("$.entities", '{"countries": "China"}'),
    "dates a list": ("$.dates", '["2024-01-01"]'),
    "tags not text": ("$.tags", '[{"a": 1}]'),
}
TAG_RESULT_LINE = (
    "federal_register synthetic-0001: stored tag result cannot be read (damaged); the rest is "
    "shown: `regwatch tag --retag` the tag result"
)


@pytest.mark.parametrize("path, value", TAG_RESULT_EDITS.values(), ids=list(TAG_RESULT_EDITS))
def test_a_tag_result_of_another_shape_is_named_on_every_reader(config, tmp_path, path, value):
    """A tag result hand-edited into valid JSON of another shape made `show` print a traceback,
    and the document page and the JSON API answer 500; now each shows the document and names
    the tag result, the digest of its week is written, and `tag --retag` repairs it."""
    home = tmp_path / "home"
    shutil.copytree(config.home, home)
    with sqlite3.connect(home / "regwatch.db") as conn:
        conn.execute(
            "UPDATE tag_results SET result = json_set(result, ?, json(?)) WHERE publication_id = "
            "(SELECT id FROM publications WHERE source_id = 'synthetic-0001')",
            (path, value),
        )
    (tmp_path / "regwatch.toml").write_text(
        f'[archive]\nhome = "{home}"\n[digest]\noutput_dir = "{tmp_path / "digests"}"\n',
        encoding="utf-8",
    )
    edited = load_config(tmp_path / "regwatch.toml", environ={})
    cli = ["--config", str(edited.source)]
    shown = CliRunner().invoke(main, [*cli, "show", "synthetic-0001"])
    assert shown.exit_code == 1 and shown.stderr == f"Error: {TAG_RESULT_LINE}\n"
    assert shown.stdout.startswith("Synthetic: Revisions to ECCN 3A090.a Advanced Computing")
    as_json = CliRunner().invoke(main, [*cli, "show", "synthetic-0001", "--format", "json"])
    assert json.loads(as_json.stdout)["damaged"] == ["tag result"]
    with TestClient(create_app(edited)) as running:
        page = running.get("/documents/federal_register/synthetic-0001")
        api = running.get("/api/documents/federal_register/synthetic-0001")
    assert page.status_code == 200 and html.escape(TAG_RESULT_LINE, quote=False) in page.text
    assert api.status_code == 200 and api.json()["damaged"] == ["tag result"]
    digest = CliRunner().invoke(main, [*cli, "digest", "--until", "2025-03-07", "--days", "7"])
    assert digest.exit_code == 0, digest.output
    steps.tag(edited, retag=True)
    assert CliRunner().invoke(main, [*cli, "show", "synthetic-0001"]).exit_code == 0


def test_search_lists_a_document_with_a_damaged_cell_among_the_others(damaged) -> None:
    """One damaged `agencies` cell failed every search whose page held that document."""
    result = CliRunner().invoke(
        main, ["--config", str(damaged.source), "search", "synthetic", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    hits = {hit["source_id"]: hit for hit in json.loads(result.stdout)}
    assert len(hits) == 4 and hits["synthetic-0001"]["agencies"] == []
    assert result.stderr == (
        "federal_register synthetic-0001: stored agencies cannot be read (damaged): "
        "`regwatch show synthetic-0001` says more\n"
    )


def test_show_of_a_document_sharing_a_rin_with_a_damaged_cell_lists_the_rest(damaged) -> None:
    """A RIN cell of another document that is not JSON (a damaged or hand-edited row) failed
    `show` of every document sharing that RIN with SQLite's "malformed JSON"; now it is shown,
    and the damaged document is related by what can still be read (its citation)."""
    with sqlite3.connect(damaged.home / "regwatch.db") as conn:
        conn.execute(
            "UPDATE publications SET regulation_id_numbers = 'not json' "
            "WHERE source_id = 'synthetic-0001'"
        )
    result = CliRunner().invoke(
        main, ["--config", str(damaged.source), "show", "synthetic-0002", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    (related,) = json.loads(result.stdout)["related"]
    assert related["source_id"] == "synthetic-0001"
    assert related["why"] == ["cited here: 90 FR 1234"]
