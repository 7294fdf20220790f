"""The index never silently lags: crashes, locks, deleted files, interrupted and killed reindexes,
readers beside a writer.

Enters: real Federal Register documents (tests/fixtures/archive/fr_documents.jsonl) in real SQLite
files and tantivy indexes under pytest's tmp_path; writer processes started with the repository's
code. Leaves: assertions on what `status` and `search` tell a user, on the index files left on
disk, and on how long a search waits beside a busy writer.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive import Archive, ArchiveError
from archive.indexdir import WriterLock, save_state
from crawlers.normalize import publication_from_fr
from regwatch.cli import main

REPO = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).parent / "fixtures" / "archive" / "fr_documents.jsonl"
RECORDS = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
PUBS = [publication_from_fr(r) for r in RECORDS]
REMEDY = "run `regwatch reindex`"

IMPORT_PAUSING = """
import sys, time
from pathlib import Path
from archive import Archive
from regwatch.importer import import_records
home, fixture, paused, go = map(Path, sys.argv[1:5])
def lines():
    for number, line in enumerate(fixture.read_text().splitlines(), 1):
        if number == 21:  # 20 stored: 10 committed to the index, 10 held by its writer
            paused.touch()
            while not go.exists():
                time.sleep(0.02)
        yield line
with Archive.open(home) as archive:
    import_records(archive, lines(), batch_size=10)
"""

REINDEX_STALLING = """
import sys, time
from pathlib import Path
import archive.index
from archive import Archive
archive.index.READ_BATCH = 5
home, stalled = map(Path, sys.argv[1:3])
def progress(done, total):
    if done >= 10:
        stalled.touch()
        time.sleep(600)
with Archive.open(home) as opened:
    opened.reindex(progress)
"""


@pytest.fixture
def stored(home: Path) -> Path:
    with Archive.open(home) as archive:
        archive.store(PUBS)
    return home


def child(code: str, *args: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], cwd=REPO, env=env)


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, "the child process ended early"
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.02)


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


def health(home: Path):
    with Archive.open(home, readonly=True) as archive:
        return archive.index_health()


def found(home: Path, text: str) -> list[str]:
    with Archive.open(home, readonly=True) as archive:
        return [hit.source_id for hit in archive.search(text, limit=100)]


def test_a_level_index_agrees_with_sqlite(stored: Path) -> None:
    result = cli("status")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[-2] == (
        f"search index: {len(PUBS)} documents as of change 1; "
        f"database: {len(PUBS)} documents as of change 1"
    )
    assert lines[-1] == "search index and database agree"


def test_crash_between_commit_and_index_is_reported_then_caught_up(home: Path, monkeypatch):
    def crash(self, conn, **options):
        raise RuntimeError("power cut")

    Archive.open(home).close()
    archive = Archive.open(home)
    with monkeypatch.context() as patched:
        patched.setattr("archive.index.SearchIndex.sync", crash)
        with pytest.raises(RuntimeError, match="power cut"):
            archive.store([PUBS[0]])
        with pytest.raises(RuntimeError, match="power cut"):
            archive.close()  # the process dies before the index learns of the row
    assert health(home).problem == f"index behind by 1 documents; {REMEDY}"
    search = cli("search", "entity list")
    assert "index behind by 1 documents; run `regwatch reindex`" in search.output
    Archive.open(home).close()  # the next writer catches up
    assert health(home).problem is None
    assert found(home, "entity list") == [PUBS[0].source_id]


def test_crash_after_index_commit_does_not_duplicate(home: Path, monkeypatch) -> None:
    def crash(path, schema, seq, archive):
        raise RuntimeError("killed before the state file was written")

    Archive.open(home).close()
    with monkeypatch.context() as patched:
        patched.setattr("archive.index.save_state", crash)
        archive = Archive.open(home)
        with pytest.raises(RuntimeError):
            archive.store([PUBS[0]])
        with pytest.raises(RuntimeError):
            archive.close()
    Archive.open(home).close()
    assert found(home, "entity list") == [PUBS[0].source_id]
    assert health(home).index_documents == 1


def test_ctrl_c_as_an_index_commit_ends_still_records_it(
    home: Path, monkeypatch, interruptible: None
) -> None:
    def pressed(path: Path, schema: int, seq: int, archive: str) -> None:
        signal.raise_signal(signal.SIGINT)  # the user presses Ctrl-C as tantivy's commit returns
        save_state(path, schema, seq, archive)

    Archive.open(home).close()
    opened = Archive.open(home)
    with monkeypatch.context() as patched:
        patched.setattr("archive.index.save_state", pressed)
        with pytest.raises(KeyboardInterrupt):  # Ctrl-C still stops the command
            opened.store([PUBS[0]])
    # Recorded at once: a process killed now (a second Ctrl-C) leaves no index "behind by 1",
    # and closing has nothing to index again (after a bulk import: every document).
    assert health(home).problem is None
    assert found(home, "entity list") == [PUBS[0].source_id]
    opened.close()


def test_a_locked_index_is_reported_and_caught_up_later(home: Path, monkeypatch) -> None:
    monkeypatch.setattr("archive.index.LOCK_WAIT", 0.1)
    Archive.open(home).close()
    other = WriterLock(home / "index")  # another process's writer
    assert other.acquire(0)
    with Archive.open(home) as archive:
        assert archive.store([PUBS[0]]).inserted == 1
        report = archive.status().index
        assert (report.behind, report.writer_active) == (1, True)
        assert report.problem == (
            "index behind by 1 documents while another regwatch process writes; "
            "they become searchable when it finishes"
        )
        assert archive.search("entity list") == []
        other.release()
    assert found(home, "entity list") == [PUBS[0].source_id]


def test_a_writer_beside_a_long_index_writer_waits_for_it_once(home: Path, monkeypatch) -> None:
    monkeypatch.setattr("archive.index.LOCK_WAIT", 1.0)
    Archive.open(home).close()
    other = WriterLock(home / "index")  # a long import in another process holds the index
    assert other.acquire(0)
    started = time.monotonic()
    with Archive.open(home) as archive:  # a crawl storing batch after batch meanwhile
        for pub in PUBS[:8]:
            assert archive.store([pub]).inserted == 1
        assert time.monotonic() - started < 4  # it waited 1 s per batch: 8 s
        assert archive.index_health().behind == 8
        threading.Timer(0.3, other.release).start()  # the import ends as the crawl does
    assert health(home).problem is None  # closing waited for the lock once more


@pytest.mark.parametrize("victim", ["meta.json", "*.idx", "*.store"])
def test_deleted_index_files_are_reported_and_reindex_repairs(stored: Path, victim: str) -> None:
    for path in (stored / "index").glob(victim):
        path.unlink()
    problem = health(stored).problem
    assert problem.startswith(f"search index {stored / 'index'} is damaged (")
    assert problem.endswith(f"); {REMEDY}")
    status = cli("status")
    assert status.exit_code == 0
    assert status.output.splitlines()[-1] == problem
    search = cli("search", "entity list")
    assert search.exit_code == 1
    assert search.output == f"Error: {problem}\n"
    assert cli("reindex").stdout == f"reindexed {len(PUBS)} documents\n"
    assert health(stored).problem is None
    assert "2025-00704" in found(stored, "entity list")


def test_damaged_json_cells_never_stop_a_reindex(stored: Path) -> None:
    """A stored agencies, CFR references, RINs or tag result cell that is not JSON (a damaged
    or hand-edited row) made `reindex` fail with a bare parser error, so nothing could be
    searched again; the row is indexed without them and every document stays findable."""
    with sqlite3.connect(stored / "regwatch.db") as conn:
        victim, title = conn.execute(
            "SELECT id, title FROM publications WHERE source_id = '2025-00704'"
        ).fetchone()
        conn.execute(
            "UPDATE publications SET agencies = '[{broken', cfr_references = 'nope', "
            "regulation_id_numbers = '{' WHERE id = ?",
            (victim,),
        )
        conn.execute(
            "INSERT INTO tag_results (publication_id, result, model_version, tagged_at, "
            "content_hash) VALUES (?, '{\"entities\": [', 'm', '2026-01-01', '')",
            (victim,),
        )
    result = cli("reindex")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"reindexed {len(PUBS)} documents\n"
    assert "2025-00704" in found(stored, "entity list")
    assert "2025-00704" in found(stored, f'"{title}"')


@pytest.mark.parametrize("victim", ["*.term", "*.pos", "*.fast"])
def test_scribbled_index_files_are_reported_by_status(stored: Path, victim: str) -> None:
    (segment,) = (stored / "index").glob(victim)
    noise = bytes(range(256))  # synthetic garbage over part of a bad sector; same size
    with segment.open("r+b") as handle:
        handle.seek(segment.stat().st_size // 4)
        handle.write(noise)
    status = cli("status")
    assert status.exit_code == 0
    assert status.output.splitlines()[-1] == (
        f"search index {stored / 'index'} is damaged ({segment.name} fails its checksum); {REMEDY}"
    )
    assert cli("reindex").stdout == f"reindexed {len(PUBS)} documents\n"
    assert cli("status").output.splitlines()[-1] == "search index and database agree"
    assert "2025-00704" in found(stored, "entity list")


def test_a_missing_index_is_reported_and_rebuilt_by_the_next_writer(stored: Path) -> None:
    shutil.rmtree(stored / "index")
    assert health(stored).problem == f"search index {stored / 'index'} is missing; {REMEDY}"
    assert not (stored / "index").exists()  # readers never build it
    Archive.open(stored).close()
    assert health(stored).problem is None


def test_a_file_in_place_of_the_index_is_named_as_such_and_left_alone(stored: Path) -> None:
    shutil.rmtree(stored / "index")
    (stored / "index").write_text("notes kept here by mistake")
    problem = f"search index {stored / 'index'} is not a folder (move it aside); {REMEDY}"
    assert health(stored).problem == problem  # it said "missing", though something is there
    reindex = cli("reindex")
    assert reindex.exit_code == 1
    assert "is not a regwatch search index: regwatch leaves it as it is; move it aside" in (
        reindex.output
    )
    assert (stored / "index").read_text() == "notes kept here by mistake"


def test_an_index_of_a_restored_database_is_reported_then_rebuilt(home: Path) -> None:
    with Archive.open(home) as archive:
        archive.store(PUBS[:10])
    backup = (home / "regwatch.db").read_bytes()
    with Archive.open(home) as archive:
        archive.store(PUBS[10:])
    (home / "regwatch.db").write_bytes(backup)
    assert health(home).problem == (
        f"index holds documents the database does not ({len(PUBS)} indexed, 10 stored, "
        f"last change 2 indexed, 1 stored); {REMEDY}"
    )
    Archive.open(home).close()
    assert (health(home).problem, health(home).index_documents) == (None, 10)


def everything_found(home: Path) -> dict[str, str]:
    """Every document search finds: its number and the title shown for it."""
    with Archive.open(home, readonly=True) as archive:
        hits = archive.search("", since="1900-01-01", limit=100)
    return {hit.source_id: hit.title for hit in hits}


def test_a_restored_database_written_again_is_not_taken_for_its_newer_index(home: Path) -> None:
    with Archive.open(home) as archive:
        archive.store(PUBS[:10])
    backup = (home / "regwatch.db").read_bytes()
    with Archive.open(home) as archive:
        archive.store(PUBS[10:20])  # lost with the disk; the index beside it keeps them
    (home / "regwatch.db").write_bytes(backup)
    other = WriterLock(home / "index")  # the restored archive is written while the index is busy
    assert other.acquire(0)
    with Archive.open(home) as archive:
        archive.store(PUBS[20:30])  # change 2 again, other documents: the counts match the index
    assert health(home).problem == (
        f"index holds documents the database does not (20 indexed, 20 stored, "
        f"last change 2 indexed, 2 stored); {REMEDY}"
    )
    other.release()
    Archive.open(home).close()  # the next writer rebuilds the index from the restored database
    assert health(home).problem is None
    expected = {pub.source_id: pub.title for pub in PUBS[:10] + PUBS[20:30]}
    assert everything_found(home) == expected


def test_an_index_beside_another_archives_database_is_rebuilt(home: Path, tmp_path: Path) -> None:
    with Archive.open(home) as archive:
        archive.store(PUBS[:20])
    other = tmp_path / "colleague"  # another archive, grown further: its numbers pass ours
    with Archive.open(other) as archive:
        for start in range(8, 32, 8):
            archive.store(PUBS[start : start + 8])
    shutil.copyfile(other / "regwatch.db", home / "regwatch.db")  # "the index rebuilds itself"
    assert health(home).problem == (
        f"index holds documents the database does not (20 indexed, 24 stored, "
        f"last change 1 indexed, 3 stored); {REMEDY}"
    )
    Archive.open(home).close()  # the next writer rebuilds it from this database
    assert health(home).problem is None
    assert everything_found(home) == {pub.source_id: pub.title for pub in PUBS[8:32]}


def test_an_index_linked_to_another_disk_is_rebuilt_there(stored: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "bigger-disk" / "index"
    elsewhere.parent.mkdir()
    shutil.move(stored / "index", elsewhere)
    (stored / "index").symlink_to(elsewhere)
    for _ in range(2):  # the first replaced the link by a folder, the second then failed
        assert cli("reindex").stdout == f"reindexed {len(PUBS)} documents\n"
    assert os.readlink(stored / "index") == str(elsewhere)
    assert sorted(p.name for p in stored.iterdir() if p.name.startswith("index")) == [
        "index",
        "index.lock",
    ]
    assert health(stored).problem is None
    assert "2025-00704" in found(stored, "entity list")


def test_an_interrupted_reindex_leaves_the_old_index_whole(stored: Path, monkeypatch) -> None:
    monkeypatch.setattr("archive.index.READ_BATCH", 5)
    before = found(stored, "export")

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with Archive.open(stored) as archive, pytest.raises(KeyboardInterrupt):
        archive.reindex(interrupt)
    assert found(stored, "export") == before and before
    assert health(stored).problem is None
    assert not (stored / "index.new").exists()
    assert WriterLock(stored / "index").acquire(0)


def test_a_killed_reindex_leaves_the_old_index_whole(stored: Path, tmp_path: Path) -> None:
    before = found(stored, "export")
    stalled = tmp_path / "stalled"
    process = child(REINDEX_STALLING, stored, stalled)
    try:
        wait_for(stalled, process)
        assert (stored / "index.new" / "meta.json").exists()  # the build beside the live index
        assert found(stored, "export") == before  # searchable while the rebuild runs
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert found(stored, "export") == before
    assert health(stored).problem is None
    assert cli("reindex").stdout == f"reindexed {len(PUBS)} documents\n"
    assert not (stored / "index.new").exists()
    assert found(stored, "export") == before


def test_a_first_import_beside_status_and_search(home: Path, tmp_path: Path) -> None:
    paused, go = tmp_path / "paused", tmp_path / "go"
    process = child(IMPORT_PAUSING, home, FIXTURE, paused, go)
    try:
        wait_for(paused, process)
        for _ in range(3):  # readers opening the brand-new archive while the import writes
            status = cli("status")
            assert status.exit_code == 0, status.output
            assert "documents: 20 (0 tagged" in status.output
            assert status.output.splitlines()[-1] == (
                "index behind by 10 documents while another regwatch process writes; "
                "they become searchable when it finishes"
            )
        started = time.monotonic()
        search = cli("search", "export", "--format", "json")
        elapsed = time.monotonic() - started
        assert search.exit_code == 0, search.output
        assert elapsed < 1.0, f"search waited {elapsed:.1f} s for the writer"
        assert "index behind by 10 documents while another regwatch process" in search.output
        assert (home / "index" / "meta.json").exists()
    finally:
        go.touch()
        assert process.wait(timeout=60) == 0
    assert health(home).problem is None
    assert health(home).index_documents == len(PUBS)
    assert "2024-01953" in found(home, "zones")


def test_a_reader_never_writes_a_damaged_index(stored: Path) -> None:
    (stored / "index" / "meta.json").write_text("{not json")
    before = {p.name: p.read_bytes() for p in (stored / "index").iterdir() if p.is_file()}
    assert "damaged" in cli("status").output
    assert cli("search", "export").exit_code == 1
    after = {p.name: p.read_bytes() for p in (stored / "index").iterdir() if p.is_file()}
    assert after == before


def test_a_reader_cannot_rebuild(stored: Path) -> None:
    with Archive.open(stored, readonly=True) as archive, pytest.raises(ArchiveError) as info:
        archive.reindex()
    assert str(info.value) == f"search index {stored / 'index'} is open read-only"


def test_index_of_an_older_schema_is_rebuilt_by_the_next_writer(tmp_path: Path) -> None:
    from archive import Filters, SearchRequest

    home = tmp_path / "home"
    with Archive.open(home) as archive:
        archive.store(PUBS)
    state = home / "index" / "regwatch-index.json"
    state.write_text(json.dumps(json.loads(state.read_text()) | {"schema": 1}))
    with (
        Archive.open(home, readonly=True) as reader,
        pytest.raises(ArchiveError, match=r"another regwatch version \(schema 1\)"),
    ):
        reader.search("entity list")
    Archive.open(home).close()  # a writer brings the index level: rebuilt in the new schema
    with Archive.open(home, readonly=True) as reader:
        assert reader.search("entity list")
        assert reader.find(SearchRequest("", Filters(types=("rule",)))).total > 10
