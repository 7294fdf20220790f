"""The project's one JSON-lines reader.

Enters: lines as bytes (decoded here, one line at a time, so one bad byte sequence costs one line)
or as text, or the path of a file (gzip-compressed when it ends in `.gz`).
Leaves: `(line number, object)` for every non-blank line holding a JSON object, numbered from 1;
a line that is not UTF-8, not JSON or not an object becomes a `LineError` (a `ValueError` reading
`line N: reason`) — yielded by `parse_lines` so a caller can go on, raised by `objects` and
`read_objects`.
Standard library only, so every package (including `nlp/`) may import it.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

BOM = "\ufeff"
_JSON_TYPES = {dict: "object", list: "list", str: "string", bool: "boolean", int: "number"}
_JSON_TYPES.update({float: "number", type(None): "null"})


class LineError(ValueError):
    """One unusable line: `number` and `reason`; reads `line N: reason`."""

    def __init__(self, number: int, reason: str) -> None:
        super().__init__(f"line {number}: {reason}")
        self.number = number
        self.reason = reason


def parse_lines(
    lines: Iterable[bytes | str], start: int = 1
) -> Iterator[tuple[int, dict[str, Any] | LineError]]:
    """`(number, object or LineError)` per non-blank line, the first numbered `start`; a BOM on
    line 1 is ignored."""
    for number, line in enumerate(lines, start=start):
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


def objects(lines: Iterable[bytes | str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """`(number, object)` per non-blank line; raises the first `LineError`."""
    for number, record in parse_lines(lines):
        if isinstance(record, LineError):
            raise record
        yield number, record


def read_objects(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """`(number, object)` per non-blank line of the file at `path`; raises the first `LineError`."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as lines:
        yield from objects(lines)


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
