"""The source record (`raw`) stored compressed, what SQL reads of it in columns of its own, and
migration 12 on an archive written before it (raw as JSON text, read by `json_extract`), and
migration 14 keeping that archive's alerts while letting an alert name no publication.

Real record: the recorded Federal Register document in replay/recordings (FR Doc. 2024-31396);
the public-inspection issue date and the numeric citation added to copies are synthetic.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sqlite3
from pathlib import Path

import pytest

from archive import Archive, Publication, db, rawpack, rows
from archive.migrations import MIGRATIONS
from archive.rawpack import zstd
from crawlers.normalize import publication_from_fr
from regwatch.importer import import_records
from regwatch.jsonl import MAX_LINE_BYTES

RECORDED = (
    Path(__file__).parents[1]
    / "replay"
    / "recordings"
    / "federal_register"
    / "recorded"
    / "regulatory-document.json"
)
RECORD = json.loads(RECORDED.read_text(encoding="utf-8"))
ISSUE = "2024-12-30"


def columns(home: Path, number: str) -> tuple:
    with sqlite3.connect(home / "regwatch.db") as conn:
        return conn.execute(
            "SELECT citation, body_url, last_public_inspection_issue, typeof(raw) "
            "FROM publications WHERE source_id = ?",
            (number,),
        ).fetchone()


def stored_row(home: Path) -> tuple[Publication, sqlite3.Row]:
    """The recorded document stored in a new archive, and its row as written."""
    pub = publication_from_fr(RECORD)
    with Archive.open(home) as archive:
        archive.store([pub])
    with sqlite3.connect(home / "regwatch.db") as conn:
        conn.row_factory = sqlite3.Row
        return pub, conn.execute("SELECT * FROM publications").fetchone()


def test_raw_is_stored_compressed_and_read_back_whole(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pub, row = stored_row(home)
    raw = row["raw"]
    assert isinstance(raw, bytes)
    assert len(raw) < len(json.dumps(pub.raw)) / 2
    assert rows.raw_record(raw) == {k: v for k, v in RECORD.items() if k != "page_views"}
    assert columns(home, pub.source_id) == (
        RECORD["citation"],
        RECORD["raw_text_url"],
        None,
        "blob",
    )


def test_numbers_of_any_size_in_a_record_are_stored_as_they_came(tmp_path: Path) -> None:
    """Synthetic values in the recorded document: an integer beyond 64 bits, small and large
    floats, and text holding characters JSON escapes."""
    odd = {"huge": 2**70, "floats": [1e16, 1e-7, 0.1, -0.0], "text": 'é"\\\n\u2028'}
    line = json.dumps(dict(RECORD, **odd))
    home = tmp_path / "home"
    with Archive.open(home) as archive:
        assert import_records(archive, [line]).inserted == 1
    with sqlite3.connect(home / "regwatch.db") as conn:
        raw = rows.raw_record(conn.execute("SELECT raw FROM publications").fetchone()[0])
    assert {key: raw[key] for key in odd} == odd
    assert [type(value) for value in raw["floats"]] == [float] * 4


def test_a_stored_row_reads_back_as_the_publication_that_wrote_it(tmp_path: Path) -> None:
    pub, row = stored_row(tmp_path / "home")
    assert rows.publication(row) == pub


def test_only_text_from_raw_fills_a_column() -> None:
    assert rows.raw_columns(
        {"citation": 89, "raw_text_url": "", "body_html_url": "https://x/b"}
    ) == (None, "https://x/b", None)


@pytest.fixture
def before_12(tmp_path: Path):
    """A home with the migrations before 12 only, written as regwatch wrote it then."""
    home = tmp_path / "home"
    home.mkdir()
    conn = sqlite3.connect(home / "regwatch.db", isolation_level=None)
    assert db.migrate.__globals__["MIGRATIONS"] is MIGRATIONS
    db.migrate.__globals__["MIGRATIONS"] = [m for m in MIGRATIONS if m[0] < 12]
    try:
        db.migrate(conn)
    finally:
        db.migrate.__globals__["MIGRATIONS"] = MIGRATIONS
    pi = publication_from_fr({**RECORD, "last_public_inspection_issue": ISSUE})
    odd = publication_from_fr({**RECORD, "document_number": "2024-00001", "citation": 89})
    for seq, pub in enumerate((pi, odd), start=1):
        values, digest = rows.encode(pub)
        old = dict(zip(rows.STORED_FIELDS, values, strict=False))
        old["raw"] = json.dumps(pub.raw, ensure_ascii=False, separators=(",", ":"))
        conn.execute(
            f"INSERT INTO publications (source, source_id, {', '.join(old)}, content_hash, "
            f"first_seen, updated_at, change_seq) VALUES ({', '.join('?' * (len(old) + 6))})",
            (pub.source, pub.source_id, *old.values(), digest, "2025-01-01", "2025-01-01", seq),
        )
        conn.execute(
            "INSERT INTO publication_versions VALUES ((SELECT max(id) FROM publications), 1, "
            "'[]', '2025-01-01')"
        )
    conn.close()
    return home, pi


def test_migration_12_fills_the_columns_of_an_archive_holding_data(before_12) -> None:
    home, pi = before_12
    with Archive.open(home) as archive:
        assert columns(home, pi.source_id) == (
            RECORD["citation"],
            RECORD["raw_text_url"],
            ISSUE,
            "text",
        )
        assert columns(home, "2024-00001")[0] is None  # a citation that is not text
        shown = archive.document(pi.source_id)
        assert shown["citation"] == RECORD["citation"]
        assert RECORD["pdf_url"] in shown["links"]
        # Old rows are read as they are; a changed record is written compressed.
        changed = publication_from_fr(
            {**RECORD, "last_public_inspection_issue": ISSUE, "abstract": "A new abstract."}
        )
        assert archive.store([changed]).updated == 1
        assert archive.document(pi.source_id)["versions"][-1]["changed"] == ["abstract", "raw"]
        assert archive.mark_withdrawn(pi.source, ISSUE, []) == 1
    assert columns(home, pi.source_id)[2:] == (ISSUE, "blob")
    with sqlite3.connect(home / "regwatch.db") as conn:
        (index_sql,) = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'publications_citation'"
        ).fetchone()
    assert index_sql == "CREATE INDEX publications_citation ON publications (citation)"


def test_migration_14_keeps_the_alerts_of_an_archive_holding_data(before_12) -> None:
    home, _ = before_12
    sent = (
        "INSERT INTO alert_outbox (route, publication_id, version, idempotency_key, kind, "
        "payload, state, next_attempt_at, created_at, sent_at) VALUES "
        "('team', 1, 1, 'rw-old', 'new', '{\"title\": \"old\"}', 'sent', 'x', 'x', 'x')"
    )
    with sqlite3.connect(home / "regwatch.db") as conn:
        conn.execute(sent)
    with Archive.open(home) as archive:  # applies 12 and 14
        assert archive.status().alerts["team"].sent == 1
    with sqlite3.connect(home / "regwatch.db") as conn:
        kept = conn.execute(
            "SELECT route, publication_id, idempotency_key, state FROM alert_outbox"
        )
        assert kept.fetchall() == [("team", 1, "rw-old", "sent")]
        conn.execute(  # an alert about no publication (a screening-list party) now fits
            "INSERT INTO alert_outbox (route, publication_id, version, idempotency_key, kind, "
            "payload, next_attempt_at, created_at) VALUES ('team', NULL, 2, 'rw-party', 'new', "
            "'{}', 'x', 'x')"
        )


def test_a_raw_that_only_changed_form_is_the_same() -> None:
    text = json.dumps({k: v for k, v in RECORD.items() if k != "page_views"})
    values, _ = rows.encode(publication_from_fr(RECORD))
    packed = values[rows.STORED_FIELDS.index("raw")]
    assert rows.same("raw", text, packed) and not rows.same("raw", text, b"")


def test_a_document_whose_stored_raw_is_damaged_is_updated_with_the_others(tmp_path) -> None:
    """A stored source record that cannot be decompressed (a damaged or hand-edited cell) failed
    the whole batch of a crawl or import that brought a new version of its document; now that
    document is updated, its source record readable again, and the rest of the batch stored."""
    with Archive.open(tmp_path) as archive:
        archive.store([publication_from_fr(RECORD)])
    with sqlite3.connect(tmp_path / "regwatch.db") as conn:
        conn.execute("UPDATE publications SET raw = X'00112233'")
    changed = RECORD | {"abstract": "Corrected abstract."}
    other = RECORD | {"document_number": "2099-00002"}
    with Archive.open(tmp_path) as archive:
        result = import_records(archive, [json.dumps(changed), json.dumps(other)])
        assert (result.inserted, result.updated, result.rejected) == (1, 1, [])
        stored = {p["source_id"]: p for p in archive.publications()}
    assert stored[RECORD["document_number"]]["raw"]["abstract"] == "Corrected abstract."
    assert stored[RECORD["document_number"]]["abstract"] == "Corrected abstract."


@pytest.mark.parametrize(
    "odd",
    [
        *(1e16, 1e-4, 1e-5, 1e-7, 1.5e-300, 5e-324, 1e15, 123456789012345680.0, -0.0, 1e22),
        *(2**64, -(2**63) - 1, 2**63 - 1, True, None),
        *('é\u2028\x7f\x1f\n"\\/', {"é": 1, "e": 2, "\U0001f600": 3, "\uffff": 4}),
    ],
)
def test_object_lists_are_stored_as_the_standard_encoder_writes_them(odd) -> None:
    """Content hashes are made of the stored JSON text, so a faster encoder must write what the
    standard one wrote byte for byte, or an unchanged document would read as changed. Synthetic
    values in the recorded document's agency and CFR reference objects."""
    agencies = [{"name": "Commerce Department", "zeta": odd, "alpha": [odd, {"b": odd, "a": 1}]}]
    cfr = [{"title": 15, "part": "744", "odd": odd}]
    pub = publication_from_fr({**RECORD, "agencies": agencies, "cfr_references": cfr})
    values, _ = rows.encode(pub)
    for name in ("agencies", "cfr_references"):
        stored = values[rows.STORED_FIELDS.index(name)]
        expected = json.dumps(
            getattr(pub, name), ensure_ascii=False, sort_keys=True, separators=(",", ":")
        )
        assert stored == expected


def test_a_record_stored_before_the_dictionary_reads_and_imports_unchanged(tmp_path) -> None:
    """Rows written before source records were packed with a dictionary hold a plain zstd frame:
    it still reads, and importing its document again changes and repairs nothing."""
    home = tmp_path / "home"
    with Archive.open(home) as archive:
        archive.store([publication_from_fr(RECORD)])
    plain = zstd.compress(rawpack.packed_json(publication_from_fr(RECORD).raw))
    with sqlite3.connect(home / "regwatch.db") as conn:
        conn.execute("UPDATE publications SET raw = ?", (plain,))
    with Archive.open(home) as archive:
        assert archive.publications()[0]["raw"]["title"] == RECORD["title"]
        result = import_records(archive, [json.dumps(RECORD)])
    assert (result.unchanged, result.repaired) == (1, 0)
    with sqlite3.connect(home / "regwatch.db") as conn:
        assert conn.execute("SELECT raw FROM publications").fetchone()[0] == plain


def test_a_record_packed_with_a_dictionary_regwatch_lacks_reads_as_damaged(tmp_path) -> None:
    """A frame made with another dictionary (a newer regwatch's, say) is a damaged cell: named,
    read as empty, repaired by the next import of its document."""
    record = rawpack.packed_json(publication_from_fr(RECORD).raw)
    other = zstd.train_dict([record[: 200 + i] for i in range(200)], 4096)
    assert other.dict_id not in rawpack.DICTIONARIES
    foreign = zstd.compress(record, zstd_dict=other)
    assert rows.stored_json("raw", foreign) is None
    home = tmp_path / "home"
    with Archive.open(home) as archive:
        archive.store([publication_from_fr(RECORD)])
    with sqlite3.connect(home / "regwatch.db") as conn:
        conn.execute("UPDATE publications SET raw = ?", (foreign,))
    with Archive.open(home) as archive:
        assert import_records(archive, [json.dumps(RECORD)]).repaired == 1
        assert archive.publications()[0]["raw"]["title"] == RECORD["title"]


def test_records_are_packed_with_the_dictionary_in_fewer_bytes() -> None:
    """The real recorded document packs with the shipped dictionary, smaller than without."""
    record = rawpack.packed_json(publication_from_fr(RECORD).raw)
    packed = rawpack.pack(publication_from_fr(RECORD).raw)
    assert zstd.get_frame_info(packed).dictionary_id == rawpack.WRITTEN
    assert rawpack.unpack(packed) == record
    assert len(packed) < 0.8 * len(zstd.compress(record, rawpack.LEVEL))


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("raw-1.zdict", b"not a dictionary", "not a zstd dictionary named raw-<its id>"),
        ("raw-x.zdict", None, "not a zstd dictionary named raw-<its id>"),
        ("raw-1.zdict", None, f"holds dictionary {rawpack.WRITTEN}, not 1"),
    ],
)
def test_a_dictionary_file_that_is_not_what_its_name_says_is_one_line(
    tmp_path, name, content, reason
) -> None:
    shipped = (rawpack.HERE / f"raw-{rawpack.WRITTEN}.zdict").read_bytes()
    (tmp_path / f"raw-{rawpack.WRITTEN}.zdict").write_bytes(shipped)
    (tmp_path / name).write_bytes(shipped if content is None else content)
    with pytest.raises(ValueError, match="^" + re.escape(f"{name}: {reason}") + "$"):
        rawpack.load_dictionaries(tmp_path)


def test_an_install_without_the_dictionary_it_writes_with_is_one_line(tmp_path) -> None:
    with pytest.raises(ValueError, match=f"^raw-{rawpack.WRITTEN}.zdict is missing from "):
        rawpack.load_dictionaries(tmp_path)


def test_the_shipped_dictionary_is_what_its_script_builds_from_real_records() -> None:
    """scripts/raw_dictionary.py, run on the replay's real records, gives the shipped file byte
    for byte: the dictionary holds what its provenance says, and can be rebuilt."""
    script = Path(__file__).parents[1] / "scripts" / "raw_dictionary.py"
    spec = importlib.util.spec_from_file_location("raw_dictionary", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.build()
    assert built.dict_id == rawpack.WRITTEN
    assert built.dict_content == (rawpack.HERE / f"raw-{rawpack.WRITTEN}.zdict").read_bytes()


def _frame(data: bytes, size: str) -> bytes:
    """One zstd frame of `data`: its size in the header ("written"), not ("unknown", as a stream
    writes it), or a header stating 1,000 bytes ("understated", a hand-made frame); or ("second")
    a frame of `{}` followed by the frame of `data` (zstd unpacks every frame of a buffer)."""
    if size == "second":
        return zstd.compress(b"{}") + zstd.compress(data)
    if size == "unknown":
        stream = zstd.ZstdCompressor()
        return stream.compress(data) + stream.flush()
    frame = bytearray(zstd.compress(data))
    if size == "understated":  # no dictionary id, a window byte, then a 4-byte content size
        assert frame[4] >> 6 == 2 and frame[4] & 0b100011 == 0
        frame[6:10] = (1000).to_bytes(4, "little")
    return bytes(frame)


@pytest.mark.parametrize("size", ["written", "unknown", "understated", "second"])
def test_a_stored_frame_unpacking_past_the_largest_record_reads_as_damaged(size) -> None:
    """A hand-edited `raw` cell can be a small frame of zeros that unpacks to gigabytes; it is
    a damaged cell (as any unreadable one) once it passes the largest record an import accepts,
    or the size its header states, never unpacked whole into memory (synthetic frames)."""
    bomb = _frame(bytes(MAX_LINE_BYTES + 1), size)
    with pytest.raises(zstd.ZstdError, match="more than 64 MiB|buffer is too small|one frame"):
        rawpack.unpack(bomb)
    assert rows.stored_json("raw", bomb) is None
    if size in ("written", "unknown"):
        largest = _frame(b" " * (MAX_LINE_BYTES - 2) + b"{}", size)
        assert rawpack.unpack(largest).endswith(b"{}")
