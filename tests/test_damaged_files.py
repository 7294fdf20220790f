"""Damaged and foreign files, and a read-only home, as every command meets them.

Enters: a real archive made by `regwatch import` from tests/fixtures/cli/fr_documents.jsonl, then
damaged (random bytes over its header or its pages, a dropped table), or replaced by another
application's SQLite file or an empty file; a home made read-only (as root, the command runs in a
child process without the capability that lets root ignore file modes). Leaves: assertions on the
one `Error:` line each command prints, on exit codes, and on every byte of the files it was given.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive import Archive
from regwatch.cli import main
from tests.conftest import run_readonly, skip_unless_file_modes_bind

GOOD = Path(__file__).parent / "fixtures" / "cli" / "fr_documents.jsonl"
MOVE_ASIDE = "restore it from a backup, or move it aside to start a new archive"
OFFLINE = "http://127.0.0.1:9/api/v1/"  # nothing listens: a crawl that got this far would fail
COMMANDS = [
    ["status"],
    ["search", "entity list"],
    ["show", "2023-23055"],
    ["tag"],
    ["import", str(GOOD)],
    ["digest", "--until", "2024-01-31"],
    ["reindex"],
    ["crawl", "--base-url", OFFLINE, "--since", "2024-01-01", "--until", "2024-01-02"],
    ["run", "--base-url", OFFLINE, "--since", "2024-01-01", "--until", "2024-01-02"],
]


@pytest.fixture
def archive(home: Path) -> Path:
    assert CliRunner().invoke(main, ["import", str(GOOD)]).exit_code == 0
    assert not list(home.glob("regwatch.db-*"))  # closed cleanly: everything is in the file
    return home / "regwatch.db"


def files(folder: Path) -> dict[str, bytes]:
    """Every file's bytes; SQLite's shared-memory file (readers of a WAL file make one) aside."""
    found = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    found.pop("regwatch.db-shm", None)
    if not found.get("regwatch.db-wal", b"x"):
        del found["regwatch.db-wal"]  # an empty log: nothing was written
    return found


def refused_everywhere(home: Path, message: str) -> None:
    """Every command exits 1 with `message` as its one error line; no byte in `home` changes."""
    before = files(home)
    for command in COMMANDS:
        result = CliRunner().invoke(main, command)
        errors = [line for line in result.stderr.splitlines() if line.strip()]
        assert (result.exit_code, errors) == (1, [f"Error: {message}"]), (command, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), command
        assert files(home) == before, command


def scribble(path: Path, start: int, end: int) -> None:
    noise = random.Random(11).randbytes(end - start)
    with path.open("r+b") as handle:
        handle.seek(start)
        handle.write(noise)


def test_random_bytes_over_the_header(archive: Path) -> None:
    scribble(archive, 0, 100)
    refused_everywhere(
        archive.parent,
        f"database {archive} is damaged or not an SQLite file (file is not a database): "
        + MOVE_ASIDE,
    )


def test_random_bytes_over_the_pages(archive: Path) -> None:
    with sqlite3.connect(archive) as conn:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        (keep,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'schema_migrations'"
        ).fetchone()
    conn.close()
    size = archive.stat().st_size
    for number in range(2, size // page + 1):  # every page but the schema and its version table
        if number != keep:
            scribble(archive, (number - 1) * page, number * page)
    refused_everywhere(
        archive.parent,
        f"database {archive} is damaged or not an SQLite file (database disk image is "
        f"malformed): {MOVE_ASIDE}",
    )


def test_a_dropped_table(archive: Path) -> None:
    with sqlite3.connect(archive) as conn:
        conn.execute("DROP TABLE publication_tags")
        conn.execute("DROP TABLE publications")
    conn.close()
    refused_everywhere(
        archive.parent,
        f"database {archive} is missing table publication_tags, publications: {MOVE_ASIDE}",
    )


def test_another_applications_database_is_never_converted(home: Path) -> None:
    home.mkdir()
    foreign = home / "regwatch.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO notes (body) VALUES ('keep me')")
    conn.close()
    refused_everywhere(
        home,
        f"{foreign} is another application's SQLite database (tables: notes); regwatch leaves "
        "it unchanged: set another home",
    )
    assert sorted(os.listdir(home)) == ["regwatch.db"]  # no index, no -wal, no -shm
    with sqlite3.connect(foreign) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    conn.close()


def test_an_empty_file_is_refused(home: Path) -> None:
    home.mkdir()
    (home / "regwatch.db").touch()
    refused_everywhere(
        home,
        f"{home / 'regwatch.db'} is an empty file, not a regwatch database: move it aside or "
        "set another home",
    )
    assert sorted(os.listdir(home)) == ["regwatch.db"]


@pytest.mark.parametrize("kind", ["named pipe", "directory"])
def test_a_database_path_that_is_no_file_is_refused(home: Path, kind: str) -> None:
    home.mkdir()
    database = home / "regwatch.db"
    os.mkfifo(database) if kind == "named pipe" else database.mkdir()  # a pipe hung every command
    refused_everywhere(
        home, f"{database}: it is a {kind}, not a regular file: move it aside or set another home"
    )


@pytest.mark.parametrize("linked", ["home", "regwatch.db", "index"])
def test_a_link_to_a_volume_not_mounted_is_named_as_such(
    archive: Path, tmp_path: Path, linked: str
) -> None:
    home = archive.parent
    link = home if linked == "home" else home / linked
    shutil.rmtree(link) if link.is_dir() else link.unlink()
    target = tmp_path / "unmounted" / linked
    link.symlink_to(target)
    refused_everywhere(
        home,
        f"{link} is a link to {target}, which does not exist (a volume not mounted?): "
        "mount it or mend the link",
    )
    assert link.is_symlink() and not (tmp_path / "unmounted").exists()


@pytest.fixture
def readonly_home(archive: Path):
    home = archive.parent
    skip_unless_file_modes_bind()
    paths = [home, *home.rglob("*")]
    for path in paths:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    yield home
    for path in paths:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


def test_a_readonly_home_still_serves_search_and_status(readonly_home: Path) -> None:
    home = readonly_home
    before = files(home)
    listing = sorted(p.name for p in home.rglob("*"))
    search = run_readonly(home, "search", "entity list", "--format", "csv")
    assert search.returncode == 0, search.stderr
    assert "2023-23055" in search.stdout and search.stderr == ""
    status = run_readonly(home, "status")
    assert status.returncode == 0, status.stderr
    assert "documents: 10 (0 tagged, 0 with stale tags)" in status.stdout
    assert status.stdout.splitlines()[-1] == "search index and database agree"
    for command in (["tag"], ["import", str(GOOD)], ["reindex"]):
        refused = run_readonly(home, *command)
        assert refused.returncode == 1, command
        assert refused.stderr.strip() == (
            f"Error: archive {home} is read-only: this command writes to it "
            "(`regwatch search` and `regwatch status` only read)"
        )
    assert files(home) == before
    assert sorted(p.name for p in home.rglob("*")) == listing


# Every command but those that bring documents (import, crawl, run) and the scheduler.
WITHOUT_DOCUMENTS = [c for c in COMMANDS if c[0] not in ("import", "crawl", "run")]
WITHOUT_DOCUMENTS += [["alert"], ["alert", "--dry-run"], ["watch"], ["watch", "--rematch"]]


@pytest.mark.parametrize("command", WITHOUT_DOCUMENTS, ids=" ".join)
def test_a_home_without_an_archive_is_one_line_and_stays_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """A mistyped REGWATCH_HOME (or an unmounted volume): a reader made an empty archive there
    and answered "no matches", and `status`, `digest`, `alert`, `watch`, `tag` and `reindex`
    made one too (`status` said the index and database agree, and `digest --send` e-mailed an
    empty digest, recorded as sent); each says there is no archive and creates nothing."""
    missing = tmp_path / "mistyped" / "home"
    monkeypatch.setenv("REGWATCH_HOME", str(missing))
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[-1] == (
        f"Error: no archive at {missing / 'regwatch.db'} yet: `regwatch crawl` or "
        "`regwatch import` makes one"
    )
    assert not (tmp_path / "mistyped").exists()


def test_a_stored_date_that_is_no_date_never_stops_the_index(archive: Path) -> None:
    """One publication date hand-edited into `2024-02-30` failed every `reindex` (and every
    index write after a change to that row) with "day is out of range for month", naming no
    document. Now that document is indexed undated, found by its words, and the rest as before."""
    with sqlite3.connect(archive) as conn:
        conn.execute(
            "UPDATE publications SET publication_date = '2024-02-30', comments_close_on = 'soon',"
            " title = title || ' (hand-edited)' WHERE source_id = '2023-23055'"
        )
    rebuilt = CliRunner().invoke(main, ["reindex"])
    assert rebuilt.exit_code == 0, rebuilt.output
    found = CliRunner().invoke(main, ["search", "supercomputer", "--format", "json"])
    assert "2023-23055" in {hit["source_id"] for hit in json.loads(found.stdout)}
    newest = CliRunner().invoke(main, ["search", "", "--source", "federal_register"])
    assert newest.exit_code == 0, newest.output


def test_status_names_the_documents_whose_stored_values_cannot_be_read(archive: Path) -> None:
    """A hand-edited or damaged JSON cell was named only by `show` of that document (and a
    damaged crawl-log entry stopped `status` itself): `status` now counts the documents holding
    one and names the first, so an operator learns of it before a reader does."""
    assert CliRunner().invoke(main, ["tag"]).exit_code == 0
    with sqlite3.connect(archive) as conn:
        conn.execute("UPDATE publications SET agencies = '[{broken' WHERE source_id = '2023-23055'")
        conn.execute(
            "UPDATE tag_results SET result = 'nope' WHERE publication_id = "
            "(SELECT id FROM publications WHERE source_id = '2024-28270')"
        )
        conn.execute(
            "INSERT INTO crawl_log (source, started_at, finished_at, ok, stats) "
            "VALUES ('bis', '2026-01-01', '2026-01-01', 1, '{cut')"
        )
    result = CliRunner().invoke(main, ["status"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    at = lines.index(
        "2 documents hold a stored value that cannot be read (damaged or hand-edited; "
        "`regwatch show` names it): importing or crawling the document again repairs it, "
        "`regwatch tag` its tag result; else restore regwatch.db from a backup"
    )
    assert sorted(lines[at + 1 : at + 3]) == [
        "  federal_register 2023-23055",
        "  federal_register 2024-28270",
    ]


@pytest.fixture
def alerted(home: Path, tmp_path: Path) -> Path:
    """An archive imported and tagged while alerts are live (a crawl ran, a route was added
    before): its database, whose alert outbox holds the documents' alerts."""
    with (tmp_path / "regwatch.toml").open("a", encoding="utf-8") as config:
        config.write('[[alerts.routes]]\nname = "team"\nurl = "json://127.0.0.1:9/hook"\n')
    with Archive.open(home) as archive:
        past = "2020-01-01T00:00:00+00:00"
        archive.log_crawl("federal_register", started_at=past, finished_at=past, ok=True, stats={})
        archive.register_routes(["team"])
    assert CliRunner().invoke(main, ["import", str(GOOD)]).exit_code == 0
    tagged = CliRunner().invoke(main, ["tag"])
    assert tagged.exit_code == 0, tagged.output
    assert kept(home / "regwatch.db")["alert_outbox"]  # a repair that alerted would show
    return home / "regwatch.db"


def damage(path: Path, sql: str) -> None:
    """Run `sql` on the database at `path` (a hand edit), then check `status` names 1 document."""
    with sqlite3.connect(path) as conn:
        conn.execute(sql)
    conn.close()
    assert "1 documents hold a stored value" in CliRunner().invoke(main, ["status"]).output


def repaired(path: Path, before: dict[str, list[tuple]]) -> None:
    """`status` names no damaged document and nothing a repair must keep has changed."""
    status = CliRunner().invoke(main, ["status"]).output
    assert "cannot be read" not in status and "documents: 10 (10 tagged, 0 with" in status
    assert kept(path) == before


def test_tagging_again_repairs_a_damaged_tag_result_and_alerts_no_one(alerted: Path) -> None:
    """A damaged or hand-edited tag result was never due for tagging again (its content hash
    and model were current), so `status` kept naming the document; `tag` now tags it again,
    with no new alert."""
    before = kept(alerted)
    damage(
        alerted,
        "UPDATE tag_results SET result = 'nope' WHERE publication_id = "
        "(SELECT id FROM publications WHERE source_id = '2024-28270')",
    )
    tagged = CliRunner().invoke(main, ["tag"])
    assert tagged.exit_code == 0 and "tagged 1 " in tagged.output, tagged.output
    repaired(alerted, before)


# A list cell damaged, or hand-edited into JSON that is not what regwatch writes there (a number
# where an agency object stands, an object for the list): `show` reads either as no agencies, so
# `status` must name either, and the tagger must not take either for the stored content.
EDITS = ["'{broken'", "'[1]'", """'{"name": "Industry and Security Bureau"}'"""]
# A source record that is no zstd frame, or (as rows before migration 12 hold it) JSON text that
# is no object: `show` names either; `status` said nothing of them.
RAW_EDITS = ["X'00112233'", "'[1]'", "'{broken'", "3"]


@pytest.mark.parametrize(
    ("column", "edit"),
    [*(("agencies", edit) for edit in EDITS), *(("raw", edit) for edit in RAW_EDITS)],
)
def test_importing_a_damaged_document_again_repairs_it_and_alerts_no_one(
    alerted: Path, column: str, edit: str
) -> None:
    """A damaged or hand-edited list cell survived re-importing the very same document (its
    content hash was unchanged: counted "unchanged", nothing written), so `status` kept naming
    it; the import now writes the lists again and says so, with no new version and no alert."""
    before = kept(alerted)
    damage(alerted, f"UPDATE publications SET {column} = {edit} WHERE source_id = '2023-23055'")
    again = CliRunner().invoke(main, ["import", str(GOOD)])
    assert again.exit_code == 0, again.output
    assert "0 new, 0 changed, 9 unchanged, 1 repaired, 0 rejected" in again.output
    shown = CliRunner().invoke(main, ["show", "2023-23055"]).output
    assert "Industry and Security Bureau" in shown and "cannot be read" not in shown
    assert "tagged 0 " in CliRunner().invoke(main, ["tag"]).output  # no new content to tag
    repaired(alerted, before)


@pytest.mark.parametrize("edit", EDITS)
def test_a_document_tagged_while_damaged_is_tagged_again_after_its_repair(
    alerted: Path, edit: str
) -> None:
    """A document tagged while its agencies could not be read (here by `--retag`: a new model
    tags everything) kept the tags read from no agencies after `import` repaired them, its
    content hash being unchanged; the next `tag` now tags it again, with no new alert."""
    before = kept(alerted)
    damage(alerted, f"UPDATE publications SET agencies = {edit} WHERE source_id = '2023-23055'")
    assert CliRunner().invoke(main, ["tag", "--retag"]).exit_code == 0
    evidence = '"Industry and Security Bureau" in agencies'
    assert evidence not in CliRunner().invoke(main, ["show", "2023-23055"]).output
    assert "tagged 0 " in CliRunner().invoke(main, ["tag"]).output  # it would read the same
    assert "1 repaired" in CliRunner().invoke(main, ["import", str(GOOD)]).output
    tagged = CliRunner().invoke(main, ["tag"])
    assert tagged.exit_code == 0 and "tagged 1 " in tagged.output, tagged.output
    assert evidence in CliRunner().invoke(main, ["show", "2023-23055"]).output
    repaired(alerted, before)


def kept(path: Path) -> dict[str, list[tuple]]:
    """What a repair must leave as it was: every stored publication column but the change
    sequence (the search index reads a repaired row again), every version, every alert."""
    conn = sqlite3.connect(path)
    try:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(publications)")]
        kept = ", ".join(c for c in columns if c != "change_seq")
        return {
            "publications": conn.execute(f"SELECT {kept} FROM publications ORDER BY id").fetchall(),
            **{
                table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
                for table in ("publication_versions", "alert_outbox")
            },
        }
    finally:
        conn.close()
