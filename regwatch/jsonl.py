"""The project's one JSON-lines reader.

Enters: lines as bytes (decoded here, one line at a time, so one bad byte sequence costs one line)
or as text, or the path of a file, opened by `files.open_input` (which refuses, in one line,
anything but a readable regular file), decompressed when gzip-, bzip2- or xz-compressed
(`unpacked`, by its first bytes; a zip archive is refused in one line) and read by `bounded_lines`
(a line longer than `MAX_LINE_BYTES` is skipped without being held, and input that breaks off ends
the lines: a `BadLine` saying why).
Leaves: `(line number, object)` for every non-blank line holding a JSON object, numbered from 1;
a line that is not UTF-8, not JSON or not an object, or a `BadLine`, becomes a `LineError` (a
`ValueError` reading `line N: reason`) — yielded by `parse_lines` so a caller can go on, raised by
`objects` and `read_objects`. Records are read by `record_json` (also the crawlers' reader of the
Federal Register's JSON), which refuses `NaN`, `Infinity` and numbers too large for a float: not
JSON (RFC 8259), no source sends them, and a record holding one could not be stored as it came.
It reads with orjson (a third of the time), and with the standard reader wherever the two could
differ: a line orjson refuses (the standard reader then names why, or reads a lone surrogate) and
a line holding a run of 19 digits or more (orjson reads an integer beyond 64 bits as a float).
`data_file` reads one JSON data file shipped with the project
(`sources.json`, `field_limits.json`, …) and `data_text` the text of one (rule files, word lists):
text that is not UTF-8 or not JSON is a `ValueError` naming the file and where.
The standard library and orjson only, so every package (including `nlp/`) may import it.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import math
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import orjson

from regwatch.files import open_input

BOM = "\ufeff"
MAX_LINE_BYTES = 64 * 1024 * 1024  # as much as one download may hold (crawlers' DOWNLOAD_MAXSIZE)
SKIP_CHUNK = 1024 * 1024  # bytes read at a time while skipping a line that is too long
# Compressed formats read as their content, known by their first bytes (standard-library openers).
PACKED = {b"\x1f\x8b": gzip.open, b"BZh": bz2.open, b"\xfd7zXZ\x00": lzma.open}
UNREADABLE = {b"PK\x03\x04": "a zip archive", b"\x28\xb5\x2f\xfd": "zstd-compressed"}
MAGIC_BYTES = 6
_JSON_TYPES = {dict: "object", list: "list", str: "string", bool: "boolean", int: "number"}
_JSON_TYPES.update({float: "number", type(None): "null"})


class LineError(ValueError):
    """One unusable line: `number` and `reason`; reads `line N: reason`."""

    def __init__(self, number: int, reason: str) -> None:
        super().__init__(f"line {number}: {reason}")
        self.number = number
        self.reason = reason


class BadLine(NamedTuple):
    """A line that could not be read, and why (too long, or the input breaks off there)."""

    reason: str


def unpacked(stream: BinaryIO, name: str) -> BinaryIO:
    """`stream`, decompressed when it starts with the magic bytes of a `PACKED` format (a
    `.jsonl.gz`, `.bz2` or `.xz` file, or such a stream) whatever its name; `ValueError` naming
    file `name` when it starts like one of `UNREADABLE` (a zip archive: many files, not lines)."""
    if not hasattr(stream, "peek"):  # e.g. a BytesIO: read through a buffer that can peek
        stream = io.BufferedReader(stream)  # type: ignore[arg-type]
    head = stream.peek(MAGIC_BYTES)[:MAGIC_BYTES]  # type: ignore[attr-defined]
    for magic, opener in PACKED.items():
        if head.startswith(magic):
            return opener(stream)  # type: ignore[return-value]
    for magic, what in UNREADABLE.items():
        if head.startswith(magic):
            raise ValueError(f"{name} is {what}: unpack it first (gzip, bzip2 and xz are read)")
    return stream


def bounded_lines(stream: BinaryIO, limit: int = MAX_LINE_BYTES) -> Iterator[bytes | BadLine]:
    """The lines of `stream`. A line longer than `limit` bytes (its newline aside) is read past in
    `SKIP_CHUNK` pieces and given as a `BadLine`, so no line costs more memory than `limit`; input
    that breaks off (compressed data damaged or cut short, a read error) ends the lines with a
    `BadLine` saying so."""
    try:
        while line := stream.readline(limit + 1):
            if len(line) <= limit or line.endswith(b"\n"):
                yield line
                continue
            size = len(line)
            while not line.endswith(b"\n") and (line := stream.readline(SKIP_CHUNK)):
                size += len(line)
            size -= line.endswith(b"\n")
            yield BadLine(f"{size:,} bytes, more than the {limit:,} a line may hold (skipped)")
    except (EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
        yield BadLine(f"the input breaks off here ({exc}): nothing after it is read")


def parse_lines(
    lines: Iterable[bytes | str | BadLine], start: int = 1
) -> Iterator[tuple[int, dict[str, Any] | LineError]]:
    """`(number, object or LineError)` per non-blank line, the first numbered `start`; a BOM on
    line 1 is ignored."""
    for number, line in enumerate(lines, start=start):
        if isinstance(line, BadLine):
            yield number, LineError(number, line.reason)
            continue
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad = line[exc.start : exc.start + 1].hex()
                yield number, LineError(number, f"not UTF-8 (byte 0x{bad} at byte {exc.start + 1})")
                continue
        if number == 1:
            line = line.removeprefix(BOM)
        if line.strip():
            yield number, _object(number, line)


def objects(lines: Iterable[bytes | str | BadLine]) -> Iterator[tuple[int, dict[str, Any]]]:
    """`(number, object)` per non-blank line; raises the first `LineError`."""
    for number, record in parse_lines(lines):
        if isinstance(record, LineError):
            raise record
        yield number, record


def file_lines(path: str | Path, action: str = "read") -> Iterator[bytes | BadLine]:
    """The lines of the file at `path`: opened by `open_input` (its errors read "cannot {action}
    …"), decompressed by `unpacked`, split by `bounded_lines`."""
    with open_input(str(path), action) as (stream, _):
        yield from bounded_lines(unpacked(stream, str(path)))


def read_objects(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """`(number, object)` per non-blank line of the file at `path` (`file_lines`); raises the
    first `LineError`."""
    yield from objects(file_lines(path))


def _object(number: int, line: str) -> dict[str, Any] | LineError:
    try:
        record = record_json(line)
    except json.JSONDecodeError as exc:
        return LineError(number, f"invalid JSON: {exc.msg} (column {exc.colno})")
    except RecursionError:
        return LineError(number, "invalid JSON: nested too deeply")
    except ValueError as exc:  # a number with thousands of digits
        return LineError(number, f"invalid JSON: {str(exc).split(':')[0]}")
    if not isinstance(record, dict):
        return LineError(number, f"expected a JSON object, got {json_type(record)}")
    return record


def _not_json(constant: str) -> float:
    raise ValueError(f"{constant} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text[:40]} is out of range")
    return value


_records = json.JSONDecoder(parse_constant=_not_json, parse_float=_finite)
_DIGITS = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))  # digit → 0, other → space
_LONG_NUMBER = b"0" * 19  # 19 digits: an integer orjson may read as a float (beyond ±2**63)


def record_json(data: str | bytes) -> Any:
    """The JSON value of `data` (bytes in UTF-8, -16 or -32, as `json.loads` reads them); a
    `ValueError` (`json.JSONDecodeError` for malformed text) if it is not JSON, `NaN`, `Infinity`
    and numbers too large for a float included."""
    if isinstance(data, bytes):
        data = data.decode(json.detect_encoding(data), "surrogatepass")
    if _LONG_NUMBER not in data.encode("utf-8", "surrogatepass").translate(_DIGITS):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # the standard reader names why, or reads what only it reads
    return _records.decode(data)


def data_file(path: Path) -> Any:
    """The JSON value held by the file at `path`; `ValueError` naming the file when it is not
    UTF-8 or not JSON (the reader's own message would not say which file)."""
    try:
        return json.loads(data_text(path))
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise ValueError(f"{path.name}: not JSON: {exc.msg} ({where})") from None


def data_text(path: Path) -> str:
    """The text of the file at `path`; `ValueError` naming the file when it is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path.name}: not UTF-8 (byte {exc.start + 1})") from None


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type (`object`, `list`, `string`, `number`, …)."""
    return _JSON_TYPES.get(type(value), type(value).__name__)
