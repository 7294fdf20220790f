"""Archive storage: identity and change, watermarks, migrations, crash recovery, tags, import.

Enters: real Federal Register documents from tests/fixtures/archive/fr_documents.jsonl, stored in
real SQLite files and tantivy indexes under pytest's tmp_path. Leaves: assertions on what a user
of the archive sees (rows, counts, search hits, error messages).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive import Archive, ArchiveError, Publication
from archive.db import CHUNK, PRAGMAS, snapshot, transaction
from archive.migrations import MIGRATIONS
from archive.rows import raw_record
from crawlers.normalize import publication_from_fr
from regwatch.cli import main
from regwatch.importer import import_records

FIXTURE = Path(__file__).parent / "fixtures" / "archive" / "fr_documents.jsonl"
RECORDS = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
MODEL = "rules-1"


def pubs(numbers: list[str] | None = None) -> list[Publication]:
    wanted = [r for r in RECORDS if numbers is None or r["document_number"] in numbers]
    return [publication_from_fr(r) for r in wanted]


def pub(number: str) -> Publication:
    return pubs([number])[0]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def archive(home: Path):
    with Archive.open(home) as opened:
        opened.store(pubs())
        yield opened


def rows(home: Path, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(home / "regwatch.db") as conn:
        return conn.execute(sql, args).fetchall()


def data_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA data_version").fetchone()[0]


def test_open_creates_database_and_index_beside_it(home: Path) -> None:
    Archive.open(home).close()
    assert (home / "regwatch.db").is_file()
    assert (home / "index" / "meta.json").is_file()
    assert rows(home, "PRAGMA journal_mode") == [("wal",)]


def test_store_inserts_every_field(archive: Archive, home: Path) -> None:
    assert archive.status().documents == {"federal_register": len(RECORDS)}
    stored = rows(
        home,
        "SELECT title, type, agencies, cfr_references, raw, version FROM publications "
        "WHERE source_id = '2025-00704'",
    )
    title, kind, agencies, cfr, raw, version = stored[0]
    assert title == "Addition of Entities to and Revision of Entry on the Entity List"
    assert kind == "Rule"
    assert json.loads(agencies)[1]["slug"] == "industry-and-security-bureau"
    assert json.loads(cfr) == [{"chapter": None, "citation_url": None, "part": "744", "title": 15}]
    assert raw_record(raw)["document_number"] == "2025-00704"
    assert version == 1


def test_storing_unchanged_documents_writes_nothing(archive: Archive, home: Path) -> None:
    watcher = sqlite3.connect(home / "regwatch.db")
    before = data_version(watcher)
    stamps = rows(home, "SELECT id, updated_at, version FROM publications ORDER BY id")
    result = archive.store(pubs())
    assert (result.inserted, result.updated, result.unchanged) == (0, 0, len(RECORDS))
    assert data_version(watcher) == before  # no other connection committed anything
    assert rows(home, "SELECT id, updated_at, version FROM publications ORDER BY id") == stamps


def test_page_views_alone_do_not_count_as_a_change(archive: Archive) -> None:
    record = dict(RECORDS[0], page_views={"count": 12345, "last_updated": "2026-11-30"})
    assert archive.store([publication_from_fr(record)]).unchanged == 1


def test_changed_document_is_updated_in_place(archive: Archive, home: Path) -> None:
    ((row_id, first_seen, updated_at),) = rows(
        home, "SELECT id, first_seen, updated_at FROM publications WHERE source_id = '2023-23048'"
    )
    late = dataclasses.replace(pub("2023-23048"), abstract="A late abstract about zirconium.")
    result = archive.store([late])
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 0)
    after = rows(
        home,
        "SELECT id, first_seen, updated_at, version, abstract FROM publications "
        "WHERE source_id = '2023-23048'",
    )
    assert after == [(row_id, first_seen, after[0][2], 2, "A late abstract about zirconium.")]
    assert after[0][2] > updated_at
    assert [h.source_id for h in archive.search("zirconium")] == ["2023-23048"]
    assert archive.status().documents == {"federal_register": len(RECORDS)}


def test_a_batch_larger_than_one_lookup_is_compared_whole(home: Path) -> None:
    count = CHUNK * 2 + 1  # three lookups of stored rows
    batch = [
        dataclasses.replace(pubs()[0], source_id=f"SYNTHETIC-{n}", family=None)
        for n in range(count)
    ]
    with Archive.open(home) as archive:
        assert archive.store(batch).inserted == count
        assert archive.store(batch).unchanged == count
        changed = [dataclasses.replace(p, abstract=f"Amended {n}.") for n, p in enumerate(batch)]
        assert archive.store(changed).updated == count
    versions = rows(home, "SELECT changed FROM publication_versions WHERE version = 2")
    assert [json.loads(changed) for (changed,) in versions] == [["abstract"]] * count


def test_repeats_in_one_batch_apply_in_order(home: Path) -> None:
    first = pub("2023-23048")
    second = dataclasses.replace(first, action="Final rule; correction.")
    with Archive.open(home) as archive:
        result = archive.store([first, first, second])
    assert (result.inserted, result.updated, result.unchanged) == (1, 1, 1)
    assert rows(home, "SELECT action, version FROM publications") == [
        ("Final rule; correction.", 2)
    ]


def test_a_bad_item_rejects_the_whole_batch(archive: Archive) -> None:
    before = archive.status().documents
    broken = dataclasses.replace(pub("2025-00704"), source_id="X-1", publication_date="01/16/2025")
    fresh = dataclasses.replace(pub("2025-00704"), source_id="X-2")
    with pytest.raises(ValueError, match="X-1: publication_date is not an ISO date"):
        archive.store([fresh, broken])
    assert archive.status().documents == before
    assert archive.search("2025 00704")[0].source_id == "2025-00704"


def test_watermarks_are_per_source_and_persist(home: Path) -> None:
    with Archive.open(home) as archive:
        assert archive.watermark("federal_register") is None
        archive.set_watermark("federal_register", "2024-12-01")
        archive.set_watermark("federal_register", "2024-12-05")
        archive.set_watermark("bis", "2024-11-30")
        with pytest.raises(ValueError, match="must be an ISO date"):
            archive.set_watermark("bis", "last tuesday")
    with Archive.open(home) as archive:
        assert archive.watermark("federal_register") == "2024-12-05"
        assert archive.status().watermarks == {
            "bis": "2024-11-30",
            "federal_register": "2024-12-05",
        }


def test_status_reports_last_crawl_sizes_and_tags(archive: Archive) -> None:
    archive.log_crawl(
        "federal_register",
        started_at="2026-12-01T06:00:00Z",
        finished_at="2026-12-01T06:01:00Z",
        ok=False,
        stats={"pages": 3},
    )
    archive.log_crawl(
        "federal_register",
        started_at="2026-12-02T06:00:00Z",
        finished_at="2026-12-02T06:01:00Z",
        ok=True,
        stats={"pages": 4, "stored": 12},
    )
    status = archive.status()
    last = status.last_crawl["federal_register"]
    assert (last.finished_at, last.ok, last.stats) == (
        "2026-12-02T06:01:00Z",
        True,
        {"pages": 4, "stored": 12},
    )
    assert status.database_bytes > 0 and status.index_bytes > 0
    assert (status.tagged, status.tags_stale, status.index.behind) == (0, 0, 0)
    assert status.index.problem is None
    assert status.index.index_documents == status.index.database_documents == len(RECORDS)


def test_migrations_are_recorded_once(home: Path) -> None:
    Archive.open(home).close()
    applied = rows(home, "SELECT version, name, applied_at FROM schema_migrations")
    assert [v for v, _, _ in applied] == [v for v, _, _ in MIGRATIONS]
    Archive.open(home).close()
    assert rows(home, "SELECT version, name, applied_at FROM schema_migrations") == applied


class _CtrlCAfterBegin(sqlite3.Connection):
    """A connection on which Ctrl-C lands the moment `BEGIN` has returned."""

    def execute(self, sql: str, *args):  # type: ignore[override]
        cursor = super().execute(sql, *args)
        if sql.startswith("BEGIN"):
            raise KeyboardInterrupt
        return cursor


@pytest.mark.parametrize("block", [transaction, snapshot], ids=["write", "read"])
def test_a_ctrl_c_right_after_begin_leaves_no_transaction_open(tmp_path: Path, block) -> None:
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None, factory=_CtrlCAfterBegin)
    conn.execute("CREATE TABLE t (x)")
    with pytest.raises(KeyboardInterrupt), block(conn):
        conn.execute("INSERT INTO t VALUES (1)")
    assert not conn.in_transaction  # the next write (an import's last index sync) can begin
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_a_reader_keeps_as_many_pages_cached_as_a_writer(home: Path) -> None:
    """The web server's long-lived read-only connection read a search page's rows from disk
    again and again with SQLite's default 2 MiB page cache (at 1,000,000 documents the rows took
    twice as long as with the writer's 64 MiB)."""
    Archive.open(home).close()
    with Archive.open(home) as writer:
        wanted = writer._conn.execute("PRAGMA cache_size").fetchone()[0]
    with Archive.open(home, readonly=True) as reader:
        assert reader._conn.execute("PRAGMA cache_size").fetchone()[0] == wanted == -65536


def test_a_newer_database_is_refused(home: Path) -> None:
    Archive.open(home).close()
    with sqlite3.connect(home / "regwatch.db") as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', 'x')")
    with pytest.raises(ArchiveError, match="schema version 999 is newer"):
        Archive.open(home)


def test_a_file_that_is_not_a_database_gives_one_clear_line(home: Path) -> None:
    home.mkdir()
    (home / "regwatch.db").write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(ArchiveError) as info:
        Archive.open(home)
    assert str(info.value) == (
        f"database {home / 'regwatch.db'} is damaged or not an SQLite file (file is not a "
        "database): restore it from a backup, or move it aside to start a new archive"
    )
    assert "\n" not in str(info.value)


def test_a_home_that_is_a_file_gives_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "home").write_text("")
    with pytest.raises(ArchiveError, match="cannot create archive directory"):
        Archive.open(tmp_path / "home")


def test_reindex_rebuilds_from_sqlite(archive: Archive, home: Path) -> None:
    calls = []
    assert archive.reindex(lambda done, total: calls.append((done, total))) == len(RECORDS)
    assert calls[-1] == (len(RECORDS), len(RECORDS))
    assert [h.source_id for h in archive.search('"temporary denial order"')] == ["2023-18772"]


def test_an_index_directory_of_something_else_is_left_alone(home: Path) -> None:
    (home / "index").mkdir(parents=True)
    (home / "index" / "thesis.tex").write_text("precious")
    with pytest.raises(ArchiveError, match="not a regwatch search index: .* move it aside, then"):
        Archive.open(home)
    assert (home / "index" / "thesis.tex").read_text() == "precious"


def test_documents_to_tag_uses_federal_register_names(archive: Archive) -> None:
    assert archive.count_to_tag(MODEL) == len(RECORDS)
    batches = list(archive.documents_to_tag(MODEL, batch_size=10))
    assert [len(b) for b in batches] == [10, 10, 10, 2]
    doc = next(
        t.document for b in batches for t in b if t.document["document_number"] == "2025-00704"
    )
    assert set(doc) == {
        "document_number",
        "title",
        "type",
        "agencies",
        "publication_date",
        "abstract",
        "action",
        "dates",
        "effective_on",
        "comments_close_on",
        "cfr_references",
        "regulation_id_numbers",
        "docket_ids",
        "topics",
        "body",
    }
    assert doc["agencies"][1]["name"] == "Industry and Security Bureau"
    assert doc["cfr_references"][0]["part"] == "744"


def tag_all(archive: Archive, tag_for) -> int:
    stored = 0
    for batch in archive.documents_to_tag(MODEL, batch_size=7):
        results = []
        for item in batch:
            tags = tag_for(item.document)
            results.append(
                (
                    item,
                    {
                        "tags": tags,
                        "scores": {t: 0.8 for t in tags},
                        "evidence": {
                            t: [{"rule": "r", "text": "Entity List", "field": "title"}]
                            for t in tags
                        },
                        "entities": {},
                        "dates": {},
                    },
                )
            )
        stored += archive.store_tags(results, MODEL)
    return stored


def export_tag(document: dict) -> list[str]:
    return ["export_control"] if "Entity List" in document["title"] else []


def test_store_tags_then_nothing_is_left_to_tag(archive: Archive) -> None:
    assert tag_all(archive, export_tag) == len(RECORDS)
    assert archive.count_to_tag(MODEL) == 0
    assert archive.count_to_tag("rules-2") == len(RECORDS)
    assert archive.count_to_tag(MODEL, retag=True) == len(RECORDS)
    assert archive.status().tagged == len(RECORDS)
    everything = archive.search("entities")
    hits = archive.search("entities", tags=["export_control"])
    assert hits and [h for h in everything if "Entity List" in h.title] == hits
    assert hits and all(h.tags == ["export_control"] for h in hits)


def test_a_changed_document_needs_tagging_again(archive: Archive) -> None:
    tag_all(archive, export_tag)
    archive.store([dataclasses.replace(pub("2019-22210"), action="Final rule; correction.")])
    todo = [t.document["document_number"] for b in archive.documents_to_tag(MODEL) for t in b]
    assert todo == ["2019-22210"]
    assert archive.status().tags_stale == 1
    stale = archive.publications(tags=["export_control"], since="2019-10-09", until="2019-10-09")
    assert stale[0]["tags_stale"] is True and stale[0]["tags"] == ["export_control"]


def test_a_document_changed_while_being_tagged_stays_due(archive: Archive) -> None:
    batch = next(archive.documents_to_tag(MODEL, batch_size=len(RECORDS)))
    archive.store([dataclasses.replace(pub("2019-22210"), action="Final rule; correction.")])
    archive.store_tags([(item, {"tags": []}) for item in batch], MODEL)
    todo = [t.document["document_number"] for b in archive.documents_to_tag(MODEL) for t in b]
    assert todo == ["2019-22210"]


def test_store_tags_with_bad_input_stores_nothing(archive: Archive) -> None:
    first, second = next(archive.documents_to_tag(MODEL, batch_size=2))
    good = (first, {"tags": ["ai"], "scores": {"ai": 0.9}})
    with pytest.raises(ValueError, match="needs a 'tags' list"):
        archive.store_tags([good, (second, {"scores": {}})], MODEL)
    missing = dataclasses.replace(second, publication_id=99999)
    with pytest.raises(ValueError, match="no publication with id 99999"):
        archive.store_tags([good, (missing, {"tags": []})], MODEL)
    assert archive.count_to_tag(MODEL) == len(RECORDS)
    assert archive.search("entity", tags=["ai"]) == []


def test_publications_for_digests(archive: Archive) -> None:
    untagged = archive.publications(until="1999-12-31")
    assert [i["source_id"] for i in untagged] == ["96-8471"]
    assert untagged[0]["tags"] is None and untagged[0]["model_version"] is None
    tag_all(archive, export_tag)
    items = archive.publications(since="2021-01-01", tags=["export_control"])
    assert [i["source_id"] for i in items] == ["2025-00704", "2023-23048", "2021-04505"]
    first = items[0]
    assert first["tags"] == ["export_control"] and first["scores"] == {"export_control": 0.8}
    evidence = [{"rule": "r", "text": "Entity List", "field": "title"}]
    assert first["evidence"] == {"export_control": evidence} and first["tag_dates"] == {}
    assert first["agencies"][0]["name"] == "Commerce Department"
    assert archive.publications(until="1999-12-31")[0]["tags"] == []
    assert len(archive.publications(limit=3)) == 3


def test_import_rejects_bad_lines_with_their_numbers(home: Path) -> None:
    lines = FIXTURE.read_text().splitlines()[:3] + [
        "{not json",
        "",
        '["a list"]',
        json.dumps({"title": "No number", "publication_date": "2024-01-01"}),
        json.dumps(dict(RECORDS[5], document_number="X-9", publication_date="yesterday")),
        json.dumps(dict(RECORDS[5], document_number="X-10", publication_date="1066-10-14")),
        json.dumps(dict(RECORDS[5], document_number="X-11", score=float("nan"))),
        json.dumps(dict(RECORDS[5], document_number="X-12")).replace("}", ', "n": 1e400}'),
        json.dumps(dict(RECORDS[5], document_number="..")),
    ]
    with Archive.open(home) as archive:
        seen = []
        result = import_records(archive, lines, batch_size=2, progress=seen.append)
        again = import_records(archive, lines)
    assert (result.stored, result.inserted, result.unchanged) == (3, 3, 0)
    assert result.rejected == [
        (4, "invalid JSON: Expecting property name enclosed in double quotes (column 2)"),
        (6, "expected a JSON object, got list"),
        (7, "missing document_number"),
        (8, "publication_date is not an ISO date (YYYY-MM-DD): 'yesterday'"),
        (9, "federal_register X-10: publication_date 1066-10-14 is not a plausible date"),
        (10, "invalid JSON: NaN is not a JSON number"),
        (11, "invalid JSON: 1e400 is out of range"),
        (12, "federal_register ..: source_id holds no letter or digit"),
    ]
    assert seen[-1] == len(lines)
    assert (again.inserted, again.unchanged) == (0, 3)


def test_a_disk_filling_during_an_import_names_the_line_and_what_is_stored(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backfill = tmp_path / "synthetic-backfill.jsonl"  # synthetic copies of the fixture's records
    backfill.write_text(
        "".join(
            json.dumps(
                dict(
                    RECORDS[n % len(RECORDS)],
                    document_number=f"SYN-{n:05d}",
                    abstract=f"{RECORDS[n % len(RECORDS)]['abstract']} synthetic copy {n}",
                )
            )
            + "\n"
            for n in range(2500)
        )
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REGWATCH_HOME", str(home))
    monkeypatch.delenv("REGWATCH_CONFIG", raising=False)
    command = ["import", "--workers", "1", str(backfill)]
    with monkeypatch.context() as full:  # room for two batches of 1,000 lines
        full.setattr("archive.db.PRAGMAS", (*PRAGMAS, "PRAGMA max_page_count = 400"))

        def no_room(self) -> None:  # the index, on the same disk, cannot commit either
            raise ValueError("An IO error occurred: 'No space left on device (os error 28)'")

        full.setattr("archive.index.SearchIndex.commit", no_room)
        result = CliRunner().invoke(main, command)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: import stopped at line 2001 (lines 1-2000 are stored): database write failed "
        "and was rolled back: database or disk is full"
    )
    assert rows(home, "SELECT COUNT(*) FROM publications") == [(2000,)]
    again = CliRunner().invoke(main, command)  # room again
    assert again.stdout == (
        f"imported {backfill}: 500 new, 0 changed, 2000 unchanged, 0 rejected\n"
    )
    status = CliRunner().invoke(main, ["status"])
    assert status.stdout.splitlines()[-1] == "search index and database agree"


@pytest.mark.parametrize("workers", [1, 2], ids=["one process", "worker processes"])
def test_an_import_keeps_the_indexed_full_text_and_tags_it_does_not_carry(
    home: Path, workers: int
) -> None:
    tagged, with_body = RECORDS[0], RECORDS[1]
    with Archive.open(home) as archive:
        archive.store([pub(tagged["document_number"])])
        tag_all(archive, lambda document: ["ai"])
        body = dataclasses.replace(pub(with_body["document_number"]), body_text="zorblax")
        archive.store([body])  # after tagging: untagged
        lines = [
            json.dumps(dict(record, title=record["title"] + " (corrected)"))
            for record in (tagged, with_body)
        ]
        assert import_records(archive, lines, workers=workers).updated == 2
        (hit,) = archive.search("zorblax")
        assert hit.source_id == with_body["document_number"] and "(corrected)" in hit.title
        (hit,) = archive.search("corrected", tags=["ai"])
    assert hit.source_id == tagged["document_number"] and hit.tags == ["ai"]
