"""What an input file may cost: a line too long to hold, a device, a batch of huge lines, a
gzip-compressed file (whole, or cut short as an interrupted download leaves it), a record whose
field holds more than `archive/field_limits.json` allows.

Every JSON-lines reader (`regwatch import`, `tag --input`, `eval`) reads through
`regwatch.jsonl`; real FR records come from `tests/fixtures/cli/fr_documents.jsonl`, the long
lines are synthetic.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import io
import json
import lzma
import re
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive import Archive, rows
from archive.rows import (
    LIMITS_FILE,
    load_limits,
    zstd,  # the zstd module the archive stores raw records with
)
from crawlers import sources
from regwatch import importer
from regwatch.cli import main
from regwatch.importer import import_records
from regwatch.jsonl import BadLine, bounded_lines, parse_lines, unpacked
from tests.test_cli import GOOD, invoke

REGWATCH = Path(sys.executable).with_name("regwatch")
MIB = 1024 * 1024


def test_a_line_longer_than_the_limit_is_skipped_and_the_next_lines_read_whole():
    stream = io.BytesIO(b"12345\n123456\n1234567" + b"8" * 30 + b"\n\nlast")
    too_long = BadLine("37 bytes, more than the 6 a line may hold (skipped)")
    assert list(bounded_lines(stream, limit=6)) == [
        b"12345\n",
        b"123456\n",  # six bytes and its newline: as long as a line may be
        too_long,
        b"\n",
        b"last",
    ]
    assert list(bounded_lines(io.BytesIO(b"1234567"), limit=6)) == [  # no newline at the end
        BadLine("7 bytes, more than the 6 a line may hold (skipped)")
    ]
    ((number, error),) = parse_lines([too_long], start=3)
    assert (number, str(error)) == (
        3,
        "line 3: 37 bytes, more than the 6 a line may hold (skipped)",
    )


@pytest.fixture(scope="module")
def long_line_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two real records around one synthetic line of 65 MiB (a JSON object, bigger than a line may
    hold)."""
    first, second = GOOD.read_bytes().splitlines()[:2]
    path = tmp_path_factory.mktemp("long") / "long.jsonl"
    with path.open("wb") as out:
        out.write(first + b"\n")
        out.write(b'{"abstract": "' + b"x" * (65 * MIB) + b'"}\n')
        out.write(second + b"\n")
    return path


def test_import_rejects_a_line_too_long_by_number_and_stores_the_others(home, long_line_file):
    result = invoke("import", str(long_line_file))
    assert result.exit_code == 1
    assert f"  line 2: {65 * MIB + 16:,} bytes, more than the 67,108,864 a line" in result.output
    assert "imported " in result.output and ": 2 new, 0 changed, 0 unchanged, 1 rejected" in (
        result.output
    )


def test_tag_input_rejects_a_line_too_long_and_tags_the_others(home, tmp_path, long_line_file):
    result = invoke("tag", "--input", str(long_line_file), "--output", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 1
    assert f"  line 2: {65 * MIB + 16:,} bytes, more than" in result.output
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 2


def test_a_300_mb_line_costs_the_import_no_more_memory_than_the_limit(tmp_path):
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as out:
        out.write(GOOD.read_bytes().splitlines()[0] + b"\n")
        out.write(b'{"title": "' + b"y" * (300 * MIB) + b'"}\n')
    probe = (
        "import resource, subprocess, sys; done = subprocess.run(sys.argv[1:], stdout=2); "
        "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    env = {"REGWATCH_HOME": str(tmp_path / "home"), "PATH": str(REGWATCH.parent)}
    done = subprocess.run(
        [sys.executable, "-c", probe, str(REGWATCH), "import", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    code, peak_kib = map(int, done.stdout.split())
    assert code == 1  # one line rejected
    assert f"line 2: {300 * MIB + 13:,} bytes, more than the 67,108,864" in done.stderr
    assert peak_kib * 1024 < 400 * MIB, f"peak {peak_kib / 1024:.0f} MiB"  # held whole: 1.2 GB


@pytest.mark.parametrize(
    "command",
    [("tag", "--input", "/dev/zero", "--output", "out.jsonl"), ("eval", "/dev/zero")],
    ids=["tag-input", "eval"],
)
def test_tag_and_eval_refuse_a_device_in_one_line(home, command):
    result = invoke(*command)
    assert result.exit_code == 1
    assert result.output.endswith("/dev/zero: it is a device, not a regular file\n")
    assert result.output.count("\n") == 1


def test_a_batch_ends_when_its_lines_hold_the_batch_bytes(tmp_path, monkeypatch):
    lines = GOOD.read_bytes().splitlines(keepends=True)[:5]
    monkeypatch.setattr(importer, "BATCH_BYTES", 1)
    seen: list[int] = []
    with Archive.open(tmp_path / "home") as archive:
        result = import_records(archive, lines, batch_size=1000, progress=seen.append)
    assert result.stored == 5
    assert seen == [1, 2, 3, 4, 5]  # a line a batch (each holds 1 byte or more), not a thousand


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
def test_a_compressed_file_or_stream_is_imported_as_its_lines(home, tmp_path, compress):
    packed = compress(GOOD.read_bytes())
    (tmp_path / "backfill.jsonl.packed").write_bytes(packed)  # known by its bytes, not its name
    count = len(GOOD.read_bytes().splitlines())
    from_file = invoke("import", str(tmp_path / "backfill.jsonl.packed"))
    assert from_file.exit_code == 0, from_file.output  # was a wall of "not UTF-8" lines
    assert f": {count} new, 0 changed, 0 unchanged, 0 rejected" in from_file.output
    from_stdin = CliRunner().invoke(main, ["import", "-"], input=packed)
    assert from_stdin.exit_code == 0, from_stdin.output
    assert f": 0 new, 0 changed, {count} unchanged, 0 rejected" in from_stdin.output


def test_a_zip_archive_or_zstd_file_is_refused_in_one_line(home, tmp_path):
    with zipfile.ZipFile(tmp_path / "backfill.zip", "w") as archive:
        archive.write(GOOD, "backfill.jsonl")
    (tmp_path / "backfill.zst").write_bytes(zstd.compress(GOOD.read_bytes()))
    for name, what in (("backfill.zip", "a zip archive"), ("backfill.zst", "zstd-compressed")):
        result = invoke("import", str(tmp_path / name))
        assert result.exit_code == 1
        assert result.output == (
            f"Error: {tmp_path / name} is {what}: unpack it first (gzip, bzip2 and xz are read)\n"
        )


def test_a_gzip_file_cut_short_keeps_the_lines_before_the_cut_and_says_where(home, tmp_path):
    lines = GOOD.read_bytes().splitlines(keepends=True)
    packed = gzip.compress(b"".join(lines), mtime=0)
    cut = tmp_path / "interrupted.jsonl.gz"
    cut.write_bytes(packed[: len(packed) * 2 // 3])  # as an interrupted download leaves it
    result = invoke("import", str(cut))
    assert result.exit_code == 1
    (reason,) = [line for line in result.output.splitlines() if "breaks off" in line]
    number = int(reason.split()[1].rstrip(":"))
    assert 1 < number <= len(lines)
    assert reason.endswith(
        "the input breaks off here (Compressed file ended before the end-of-stream marker was "
        "reached): nothing after it is read"
    )
    assert f": {number - 1} new, 0 changed, 0 unchanged, 1 rejected" in result.output
    tagged = invoke("tag", "--input", str(cut), "--output", str(tmp_path / "out.jsonl"))
    assert tagged.exit_code == 1 and f"  line {number}: the input breaks off here" in tagged.output


def test_a_record_with_a_field_over_its_limit_is_rejected_by_line_and_names_the_field(
    home, tmp_path
):
    limits = json.loads(LIMITS_FILE.read_text())
    real = [json.loads(line) for line in GOOD.read_text().splitlines()]
    synthetic = [
        dict(real[0], document_number="SYNTHETIC-1", abstract="a" * (limits["abstract"] + 1)),
        dict(real[0], document_number="SYNTHETIC-2", title="t" * limits["title"]),  # at the limit
        dict(real[0], document_number="SYNTHETIC-3", topics=["topic"] * limits["topics"]),
        dict(real[0], document_number="9" * 1_000_000),
        dict(real[0], document_number="SYNTHETIC-5", citation="9" * (limits["citation"] + 1)),
    ]
    path = tmp_path / "oversized.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [*synthetic, *real[1:]]))
    result = invoke("import", str(path))
    assert result.exit_code == 1
    reasons = [line for line in result.output.splitlines() if line.startswith("  line ")]
    assert reasons == [
        f"  line 1: federal_register SYNTHETIC-1: abstract holds {limits['abstract'] + 1:,} "
        f"characters, more than the {limits['abstract']:,} a document may (field_limits.json)",
        "  line 3: federal_register SYNTHETIC-3: topics holds "
        f"{len(json.dumps(['topic'] * limits['topics'], separators=(',', ':'))):,} characters, "
        f"more than the {limits['topics']:,} a document may (field_limits.json)",
        f"  line 4: federal_register {'9' * 52}…{'9' * 27}: source_id holds 1,000,000 characters, "
        f"more than the {limits['source_id']:,} a document may (field_limits.json)",
        f"  line 5: federal_register SYNTHETIC-5: citation holds {limits['citation'] + 1:,} "
        f"characters, more than the {limits['citation']:,} a document may (field_limits.json)",
    ]
    assert f": {len(real)} new, 0 changed, 0 unchanged, 4 rejected" in result.output
    with sqlite3.connect(home / "regwatch.db") as conn:
        stored = {number for (number,) in conn.execute("SELECT source_id FROM publications")}
    assert stored == {"SYNTHETIC-2", *(r["document_number"] for r in real[1:])}


@pytest.mark.parametrize(
    ("limits", "reason"),
    [
        ({"title": 0}, "title must be a whole number of at least 1, got 0"),
        ({"title": "100"}, "title must be a whole number of at least 1, got '100'"),
        ({"title": 2.5}, "title must be a whole number of at least 1, got 2.5"),
        ({"title": True}, "title must be a whole number of at least 1, got True"),
        ({"body_text": 10}, "'body_text' is not one of source_id, url, title"),
        ({"raw": 10}, "'raw' is not one of source_id, url, title"),
        ([1], "expected an object of column: most characters"),
    ],
)
def test_a_broken_limits_file_names_the_column(tmp_path, limits, reason):
    path = tmp_path / "field_limits.json"
    path.write_text(json.dumps(limits))
    with pytest.raises(ValueError, match="^field_limits.json: ") as raised:
        load_limits(path)
    assert reason in str(raised.value)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"title": 10000,\n', "not JSON: Expecting property name enclosed in double quotes"),
        (b'\xff{"title": 10000}', "not UTF-8 (byte 1)"),
    ],
)
def test_a_data_file_that_is_not_json_is_named(tmp_path, monkeypatch, content, reason):
    limits_file, registry_file = tmp_path / "field_limits.json", tmp_path / "sources.json"
    limits_file.write_bytes(content)
    registry_file.write_bytes(content)
    monkeypatch.setattr(sources, "REGISTRY", registry_file)
    sources.registry.cache_clear()
    try:
        with pytest.raises(ValueError, match=f"^field_limits.json: {re.escape(reason)}"):
            load_limits(limits_file)
        with pytest.raises(ValueError, match=f"^sources.json: {re.escape(reason)}"):
            sources.registry()
    finally:
        sources.registry.cache_clear()


def test_a_broken_limits_file_stops_a_writing_command_in_one_line(home, tmp_path, monkeypatch):
    bad = tmp_path / "field_limits.json"
    bad.write_text('{"title": 0}')
    monkeypatch.setattr(rows, "LIMITS_FILE", bad)
    rows.limits.cache_clear()
    try:
        result = invoke("import", str(GOOD))
    finally:
        rows.limits.cache_clear()
    assert result.exit_code == 1
    assert result.output == (
        "Error: field_limits.json: title must be a whole number of at least 1, got 0\n"
    )
    assert not (home / "regwatch.db").exists()


class FailingDisk(io.RawIOBase):
    """Synthetic: a plain file whose disk fails (EIO) once its first `good` bytes are read."""

    def __init__(self, data: bytes, good: int) -> None:
        super().__init__()
        self.data, self.good, self.position = data, good, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.position >= self.good:
            raise OSError(errno.EIO, "Input/output error")
        size = min(len(buffer), self.good - self.position)
        buffer[:size] = self.data[self.position : self.position + size]
        self.position += size
        return size


def test_a_read_error_mid_file_keeps_the_lines_before_it_and_says_where(tmp_path):
    lines = GOOD.read_bytes().splitlines(keepends=True)
    disk = FailingDisk(b"".join(lines), good=len(lines[0]) + len(lines[1]))
    with Archive.open(tmp_path / "home") as archive:
        result = import_records(archive, bounded_lines(unpacked(disk, "backfill.jsonl")))
    assert (result.stored, result.rejected) == (
        2,
        [(3, "the input breaks off here ([Errno 5] Input/output error): nothing after it is read")],
    )


# Synthetic lines on the edges where JSON readers differ: each is read as the standard reader
# reads it, or rejected with the same reason.
EDGE_LINES = [
    '{"id": 18446744073709551616, "n": -9223372036854775809}',  # beyond 64 bits: exact integers
    '{"id": 9223372036854775807, "s": "12345678901234567890"}',
    '{"x": 1.0000000000000002, "y": 0.1e-400, "z": -0.0, "e": 1E5}',
    '{"a": 1, "a": 2}',
    '{"s": "\\ud800 lone surrogate", "t": "\\u00e9\\n\\t"}',
    '{"n": NaN}',
    '{"n": 1e400}',
    '{"n": 123456789012345678901234567890.5}',
    "[" * 5000 + "]" * 5000,
    '{"trailing": 1} x',
]


@pytest.mark.parametrize("line", EDGE_LINES)
def test_records_are_read_as_the_standard_reader_reads_them(line):
    ((_, read),) = parse_lines([line.encode()])
    try:
        expected = json.loads(line, parse_constant=lambda c: float("nan"))
    except (ValueError, RecursionError):
        assert isinstance(read, ValueError)
        return
    if isinstance(read, ValueError):  # refused on purpose: NaN, overflow, not an object
        assert re.search(r"NaN|out of range|expected a JSON object", str(read))
        return
    assert read == expected and json.dumps(read) == json.dumps(expected)


def test_an_integer_beyond_64_bits_is_stored_exactly(home, tmp_path):
    first = json.loads(GOOD.read_text().splitlines()[0])
    record = dict(first, document_number="SYN-BIG", id=2**70, n=-(2**63) - 1)
    backfill = tmp_path / "synthetic-big-numbers.jsonl"
    backfill.write_text(json.dumps(record) + "\n")
    assert invoke("import", str(backfill)).exit_code == 0
    with sqlite3.connect(home / "regwatch.db") as conn:
        sql = "SELECT raw FROM publications WHERE source_id = 'SYN-BIG'"
        (stored,) = conn.execute(sql).fetchone()
    raw = rows.raw_record(stored)
    assert (raw["id"], raw["n"]) == (2**70, -(2**63) - 1)
