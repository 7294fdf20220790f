"""The project's one JSON-lines reader.

Enters: lines as bytes (decoded here, one line at a time, so one bad byte sequence costs one line)
or as text, or the path of a file (gzip-compressed when it ends in `.gz`), opened by
`files.open_input` (which refuses, in one line, anything but a readable regular file) and read by
`bounded_lines` (a line longer than `MAX_LINE_BYTES` is skipped without being held: a `LongLine`
giving its size).
Leaves: `(line number, object)` for every non-blank line holding a JSON object, numbered from 1;
a line that is not UTF-8, not JSON or not an object, or too long, becomes a `LineError` (a
`ValueError` reading `line N: reason`) — yielded by `parse_lines` so a caller can go on, raised by
`objects` and `read_objects`.
Standard library only, so every package (including `nlp/`) may import it.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from regwatch.files import open_input

BOM = "\ufeff"
MAX_LINE_BYTES = 64 * 1024 * 1024  # as much as one download may hold (crawlers' DOWNLOAD_MAXSIZE)
SKIP_CHUNK = 1024 * 1024  # bytes read at a time while skipping a line that is too long
_JSON_TYPES = {dict: "object", list: "list", str: "string", bool: "boolean", int: "number"}
_JSON_TYPES.update({float: "number", type(None): "null"})


class LineError(ValueError):
    """One unusable line: `number` and `reason`; reads `line N: reason`."""

    def __init__(self, number: int, reason: str) -> None:
        super().__init__(f"line {number}: {reason}")
        self.number = number
        self.reason = reason


class LongLine(NamedTuple):
    """A line of `size` bytes, more than the `limit` a line may hold: skipped, never read whole."""

    size: int
    limit: int


def bounded_lines(stream: BinaryIO, limit: int = MAX_LINE_BYTES) -> Iterator[bytes | LongLine]:
    """The lines of `stream`; a line longer than `limit` bytes (its newline aside) is read past in
    `SKIP_CHUNK` pieces and given as a `LongLine`, so no line costs more memory than `limit`."""
    while line := stream.readline(limit + 1):
        if len(line) <= limit or line.endswith(b"\n"):
            yield line
            continue
        size = len(line)
        while not line.endswith(b"\n") and (line := stream.readline(SKIP_CHUNK)):
            size += len(line)
        yield LongLine(size - line.endswith(b"\n"), limit)


def parse_lines(
    lines: Iterable[bytes | str | LongLine], start: int = 1
) -> Iterator[tuple[int, dict[str, Any] | LineError]]:
    """`(number, object or LineError)` per non-blank line, the first numbered `start`; a BOM on
    line 1 is ignored."""
    for number, line in enumerate(lines, start=start):
        if isinstance(line, LongLine):
            reason = f"{line.size:,} bytes, more than the {line.limit:,} a line may hold (skipped)"
            yield number, LineError(number, reason)
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


def objects(lines: Iterable[bytes | str | LongLine]) -> Iterator[tuple[int, dict[str, Any]]]:
    """`(number, object)` per non-blank line; raises the first `LineError`."""
    for number, record in parse_lines(lines):
        if isinstance(record, LineError):
            raise record
        yield number, record


def read_objects(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """`(number, object)` per non-blank line of the file at `path` (`open_input`); raises the
    first `LineError`."""
    with open_input(str(path)) as (stream, _):
        if str(path).endswith(".gz"):
            with gzip.GzipFile(fileobj=stream) as unpacked:
                yield from objects(bounded_lines(unpacked))
        else:
            yield from objects(bounded_lines(stream))


def _object(number: int, line: str) -> dict[str, Any] | LineError:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return LineError(number, f"invalid JSON: {exc.msg} (column {exc.colno})")
    except RecursionError:
        return LineError(number, "invalid JSON: nested too deeply")
    except ValueError as exc:  # a number with thousands of digits
        return LineError(number, f"invalid JSON: {str(exc).split(':')[0]}")
    if not isinstance(record, dict):
        return LineError(number, f"expected a JSON object, got {json_type(record)}")
    return record


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type (`object`, `list`, `string`, `number`, …)."""
    return _JSON_TYPES.get(type(value), type(value).__name__)
