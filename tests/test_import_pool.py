"""Bulk import in worker processes: the same archive as one process, hashes that never move, and
clean stops (a worker killed, Ctrl-C).

Enters: real Federal Register documents (tests/fixtures/archive/fr_documents.jsonl), copied under
fresh document numbers into thousands of lines with bad lines among them; `regwatch import` run as
a child process on the repository's code. Leaves: assertions on the rows, content hashes,
rejections and index of real SQLite files and tantivy indexes, on the one-line error a user sees,
and on the processes left behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from archive import Archive, indexdoc, rows
from archive.indexdoc import document, encoded_document, identified
from crawlers.normalize import publication_from_fr
from regwatch.importer import POOL_FROM, import_records, read_ahead, workers_for
from tests.processes import alive, children, wait_for

REPO = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).parent / "fixtures" / "archive" / "fr_documents.jsonl"
RECORDS = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
# Volatile columns: when a row was written, not what.
COLUMNS = "source, source_id, title, abstract, agencies, body_text, raw, content_hash, version"
NOT_STORED = (701, 1302, 2001, 2501)  # the lines `copies` makes bad or blank


def copies(count: int) -> list[str]:
    """`count` lines: the fixture's documents under fresh numbers, bad lines and a correction."""
    lines = [
        json.dumps(dict(RECORDS[i % len(RECORDS)], document_number=f"2030-{i:05d}"))
        for i in range(count)
    ]
    lines[700] = "{not json"
    lines[1301] = json.dumps(dict(RECORDS[2], document_number="2030-x", publication_date="soon"))
    lines[2000] = lines[2000].replace('"title": "', '"title": "lone surrogate \\ud800 ', 1)
    lines[2500] = ""
    lines[-1] = json.dumps(dict(RECORDS[0], document_number="2030-00003", title="Corrected."))
    return lines


def stored(home: Path) -> list[tuple]:
    with sqlite3.connect(home / "regwatch.db") as conn:
        return conn.execute(f"SELECT {COLUMNS} FROM publications ORDER BY id").fetchall()


def test_workers_store_the_same_rows_hashes_rejections_and_index_as_one_process(
    tmp_path: Path,
) -> None:
    lines = copies(3000)
    results, homes = [], [tmp_path / "one", tmp_path / "pool"]
    for home, workers in zip(homes, (1, 2), strict=True):
        with Archive.open(home) as archive:
            results.append(import_records(archive, lines, batch_size=250, workers=workers))
    one, pool = results
    assert one == pool
    assert (pool.stored, pool.inserted, pool.updated) == (2996, 2995, 1)
    assert pool.rejected == [
        (701, "invalid JSON: Expecting property name enclosed in double quotes (column 2)"),
        (1302, "publication_date is not an ISO date (YYYY-MM-DD): 'soon'"),
        (
            2001,
            "federal_register 2030-02000: not JSON-serialisable: 'utf-8' codec can't encode "
            "character '\\ud800' in position 56: surrogates not allowed",
        ),
    ]
    assert stored(homes[0]) == stored(homes[1]) and len(stored(homes[1])) == 2995
    assert ("Corrected.", 2) in [(row[2], row[-1]) for row in stored(homes[1])]
    for home in homes:
        with Archive.open(home, readonly=True) as archive:
            assert archive.index_health().problem is None
            assert len(archive.search('"Corrected"', limit=10)) == 1
            assert len(archive.search("export", limit=5000)) > 1000


SYNTHETIC = [  # synthetic: odd but storable shapes the real fixture lacks
    dict(
        RECORDS[0],
        title="Ünïcode “quotes” — and \\ backslashes </script>",
        abstract=None,
        type=None,
        agencies=[{"raw_name": "ONLY RAW"}, {"name": " ", "raw_name": "Blank Name"}, {}],
        cfr_references=[{"title": 15, "part": None}, {"title": None, "part": "7"}],
        regulation_id_numbers=["0694-AJ00", "0694-AJ01"],
        docket_ids=["A ; B"],
        topics=["Exports", "Exports"],
        publication_date="1700-01-01",
        comments_close_on="2199-12-31",
        body_text="Full text of the rule.",
    ),
    dict(RECORDS[1], agencies=None, cfr_references=None, topics=None, action=None, dates=None),
]


def test_index_documents_built_before_storing_are_those_read_back(tmp_path: Path) -> None:
    """A bulk import indexes what its workers built from each record before storing it: it must
    be exactly what indexing the stored row gives (what `reindex` and every other writer do)."""
    records = [
        dict(r, document_number=f"2030-{i:05d}") for i, r in enumerate([*RECORDS, *SYNTHETIC])
    ]
    items = [rows.encoded(publication_from_fr(record)) for record in records]
    with Archive.open(tmp_path) as archive:
        archive.store_encoded(items)
    with sqlite3.connect(tmp_path / "regwatch.db") as conn:
        number = indexdoc.ROW_COLUMNS.index("source_id")
        stored = {row[number]: row for row in conn.execute(indexdoc.ROWS_SQL)}
    assert len(stored) == len(items)
    for item in items:
        row = stored[item.source_id]
        assert identified(encoded_document(item), row[0]) == document(row), item.source_id


def test_a_bulk_import_indexes_kept_text_and_tags_of_what_it_updates(tmp_path: Path) -> None:
    """Documents built before storing know neither the tags nor a full text the database keeps:
    the rows holding them are indexed as stored."""
    texted = dict(RECORDS[0], document_number="2030-00001", body_text="Zyxwvut appears here.")
    tagged = dict(RECORDS[1], document_number="2030-00002")
    with Archive.open(tmp_path) as archive:
        import_records(archive, [json.dumps(texted), json.dumps(tagged)])
        for batch in archive.documents_to_tag("test-model"):
            picked = [item for item in batch if item.document["document_number"] == "2030-00002"]
            result = {"tags": ["export_control"], "scores": {}, "evidence": {}, "entities": {}}
            archive.store_tags([(item, result) for item in picked], "test-model")
        changed = [dict(texted, title="New title", body_text=None), dict(tagged, title="Corrected")]
        assert import_records(archive, map(json.dumps, changed)).updated == 2
    with Archive.open(tmp_path, readonly=True) as archive:
        assert [hit.source_id for hit in archive.search("zyxwvut")] == ["2030-00001"]
        hits = archive.search("corrected", tags=["export_control"])
        assert [hit.source_id for hit in hits] == ["2030-00002"]


def test_content_hashes_stay_as_stored_archives_hold_them() -> None:
    """A re-crawl compares against hashes written by earlier versions: they must not move."""
    assert rows.encoded(publication_from_fr(RECORDS[0])).digest == (
        "bfe3670ee1bc3bbe792dba3aad75773a0506036ad066677640255f1a3ab196c5"
    )
    body = publication_from_fr(dict(RECORDS[3], body_text="Full text."))
    assert rows.encoded(body).digest == (
        "e887ef7618fc5c0762249528db1b1c68d97ffa3accab28d580375ed9068b00b8"
    )
    without = rows.encoded(publication_from_fr(RECORDS[3]))
    assert without.with_body("Full text.").digest == rows.encoded(body).digest


def test_content_hashes_of_any_text_stay_as_stored_archives_hold_them() -> None:
    """Every character (controls, quotes, backslashes, U+2028, astral ones) hashes as earlier
    versions wrote it: SHA-256 of the values as compact JSON, characters left unescaped."""
    text = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    row = dict.fromkeys(rows.CONTENT_FIELDS) | {"title": text, "abstract": '"\\\n'}
    packed = json.dumps(list(row.values()), ensure_ascii=False, separators=(",", ":"))
    assert rows.content_hash(row) == hashlib.sha256(packed.encode()).hexdigest()


def test_only_a_large_input_on_idle_cores_starts_workers() -> None:
    assert workers_for(POOL_FROM - 1) == 1
    assert workers_for(POOL_FROM) in (1, *range(2, (os.cpu_count() or 1) + 1))
    small = "\n".join(copies(3000)[:50]).encode()
    lines, workers = read_ahead(io.BytesIO(small), None, "stdin")  # standard input: size unknown
    assert (b"".join(lines), workers) == (small, 1)
    large = "\n".join(copies(3000)).encode()
    assert len(large) > POOL_FROM
    lines = list(read_ahead(io.BytesIO(large), None, "stdin")[0])
    assert lines == large.splitlines(keepends=True)  # no line cut where the look-ahead ended
    assert read_ahead(io.BytesIO(large), None, "stdin", workers=2)[1] == 2


def start_import(home: Path, tmp_path: Path, count: int) -> tuple[subprocess.Popen, Path]:
    source = tmp_path / "synthetic-import.jsonl"
    source.write_text("\n".join(copies(count)[:-1]) + "\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO), "REGWATCH_HOME": str(home)}
    process = subprocess.Popen(
        [sys.executable, "-m", "regwatch.cli", "import", "--workers", "2", str(source)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a process group of its own, as a terminal's job is
    )
    return process, source


def count_rows(home: Path) -> int:
    try:
        with sqlite3.connect(f"file:{home / 'regwatch.db'}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT count(*) FROM publications").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to see worker processes")
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: no worker processes")
@pytest.mark.parametrize("stop", ["worker killed", "Ctrl-C"])
def test_a_stopped_import_leaves_whole_batches_indexed_and_no_process(
    stop: str, home: Path, tmp_path: Path, interruptible: None
) -> None:
    process, _ = start_import(home, tmp_path, 30_000)
    try:
        workers = wait_for(lambda: children(process.pid), 60, "the worker processes")
        wait_for(lambda: count_rows(home) > 0, 120, "a first stored batch")
        if stop == "worker killed":
            os.kill(workers[0], signal.SIGKILL)
        else:
            os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1
    kept = count_rows(home)
    ends = [*range(1000, 30_000, 1000), 29_999]  # a stop after the last batch keeps them all
    whole = {n - sum(b <= n for b in NOT_STORED): n for n in ends}
    assert kept in whole, f"{kept} rows: not whole batches of 1,000 lines"
    if stop == "worker killed":
        last = whole[kept]
        assert err.splitlines()[-1] == (
            f"Error: import stopped after line {last}: a worker process ended unexpectedly "
            f"(lines 1-{last} are stored)"
        )
    else:
        assert err.splitlines()[-1] == "Aborted!"
    wait_for(lambda: not any(alive(pid) for pid in workers), 10, "the workers to end")
    with Archive.open(home, readonly=True) as archive:
        assert archive.index_health().problem is None
        assert archive.index_health().index_documents == kept
