"""Invisible and look-alike characters read as their plain form, with offsets back to the source.

Enters: the table `patterns/fold/characters.jsonl` (one range of characters a line: `id`, `first`
and `last` as `U+XXXX`, and `reads_as`, the ASCII text each reads as, "" to drop it, or
`compatibility: true` for its NFKC form), checked when loaded (`FoldError`: file and line); then
any text (a document field as a source wrote it).
Leaves: `fold(text)` -> `Folded`: `plain`, the text with every character of the table read as its
plain form (soft hyphens and zero-width characters dropped, no-break spaces read as " ",
typographic hyphens as "-", full-width forms and ligatures as ASCII), and `source_span` /
`plain_span`, which carry a span of one text to the other, so what is matched on the plain text
is quoted and located in the text as the user has it. A text holding none of these characters is
its own plain form (no copy, no offset table); `plain(text)` is that form alone. `fold_version()`
changes with the table.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from regwatch.jsonl import read_objects

FOLD_FILE = Path(__file__).with_name("patterns") / "fold" / "characters.jsonl"
CODE_POINT = re.compile(r"U\+([0-9A-F]{4,6})")
KEYS = {"id", "first", "last", "reads_as", "compatibility", "note"}


class FoldError(ValueError):
    """A line of the character table that cannot be used; the message names file and line."""


@dataclass(frozen=True, slots=True)
class FoldTable:
    """The loaded table: a pattern finding runs of folded characters, what each reads as."""

    pattern: re.Pattern[str]
    reads: dict[str, str]
    version: str


def load_fold_table(path: Path = FOLD_FILE) -> FoldTable:
    """Read and check the character table."""
    reads: dict[str, str] = {}
    ranges: list[str] = []
    ids: set[str] = set()
    for number, entry in _entries(path):
        where = f"{path.name} line {number}"
        first, last = _range(entry, where)
        if entry["id"] in ids:
            raise FoldError(f"{where}: duplicate id {entry['id']!r}")
        ids.add(entry["id"])
        for char in map(chr, range(first, last + 1)):
            if char in reads:
                raise FoldError(f"{where}: U+{ord(char):04X} is folded by an earlier line")
            reads[char] = entry.get("reads_as", unicodedata.normalize("NFKC", char))
            if not reads[char].isascii():
                raise FoldError(f"{where}: U+{ord(char):04X} does not read as ASCII")
        ranges.append(f"{re.escape(chr(first))}-{re.escape(chr(last))}")
    if not ranges:
        raise FoldError(f"{path.name}: the table folds no character")
    version = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return FoldTable(re.compile(f"[{''.join(ranges)}]+"), reads, version)


def _entries(path: Path) -> list[tuple[int, dict]]:
    try:
        return list(read_objects(path))
    except ValueError as error:
        raise FoldError(f"{path.name} {error}") from None


def _range(entry: dict, where: str) -> tuple[int, int]:
    """The code points an entry folds; `FoldError` when its keys or values are off."""
    if set(entry) - KEYS or ("reads_as" in entry) == bool(entry.get("compatibility")):
        raise FoldError(f"{where}: an entry has first, last and reads_as or compatibility: true")
    if not isinstance(entry.get("id"), str) or not entry["id"]:
        raise FoldError(f"{where}: an entry needs an 'id'")
    found = [CODE_POINT.fullmatch(str(entry.get(key, ""))) for key in ("first", "last")]
    if not all(found):
        raise FoldError(f"{where}: first and last are code points written U+XXXX")
    first, last = (int(f.group(1), 16) for f in found if f)
    reads_as = entry.get("reads_as", "")
    if not first <= last or first < 0x80 or last > 0x10FFFF:
        raise FoldError(f"{where}: first..last must be a range of non-ASCII characters")
    if not isinstance(reads_as, str) or len(reads_as) > 1 or not reads_as.isascii():
        raise FoldError(f"{where}: reads_as is one ASCII character or nothing")
    return first, last


@cache
def _table() -> FoldTable:
    return load_fold_table()


def fold_version() -> str:
    """A short hash of the character table: a new value means documents read differently."""
    return _table().version


class Folded:
    """A text and its plain form; `pieces` are the runs whose length changed, as
    (plain start, plain end, source start, source end), in order. (A plain class: made for every
    field of every document, it costs a tenth of a frozen dataclass.)"""

    __slots__ = ("source", "plain", "pieces", "_starts")

    def __init__(
        self, source: str, plain: str, pieces: list[tuple[int, int, int, int]] | None = None
    ) -> None:
        self.source, self.plain, self.pieces = source, plain, pieces or []
        self._starts = ([p[0] for p in pieces], [p[2] for p in pieces]) if pieces else ([], [])

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """Where plain[start:end] lies in the source (a folded run at its edge left out)."""
        return self._carry(0, start, end)

    def plain_span(self, start: int, end: int) -> tuple[int, int]:
        """Where source[start:end] lies in the plain text."""
        return self._carry(2, start, end)

    def _carry(self, side: int, start: int, end: int) -> tuple[int, int]:
        """Map [start, end) from one side of `pieces` (0: plain, 2: source) to the other."""
        if not self.pieces:
            return start, end
        return self._point(side, start, False), self._point(side, end, True)

    def _point(self, side: int, at: int, end: bool) -> int:
        """A start (or, with `end`, an end) offset carried across: inside a run, the run's
        start (end) on the other side; after it, shifted as the last run before it shifts."""
        char = at - 1 if end else at
        index = bisect_right(self._starts[side // 2], char) - 1
        if index < 0:
            return at
        piece = self.pieces[index]
        stop, other_begin, other_stop = piece[side + 1], piece[2 - side], piece[3 - side]
        if char < stop:
            return other_stop if end else other_begin
        return other_stop + (at - stop)


def plain(text: str) -> str:
    """`fold(text).plain`, without the offsets (what a search index or a query needs)."""
    return text if text.isascii() else fold(text).plain


def fold(text: str) -> Folded:
    """`text` with every character of the table read as its plain form."""
    if text.isascii():  # most text, and O(1): the table folds only characters past ASCII
        return Folded(text, text)
    table = _table()
    found = table.pattern.search(text)
    if found is None:
        return Folded(text, text)
    parts: list[str] = []
    pieces: list[tuple[int, int, int, int]] = []
    done, length = 0, 0
    for run in table.pattern.finditer(text, found.start()):
        parts.append(text[done : run.start()])
        length += run.start() - done
        read = "".join(table.reads[c] for c in run.group())
        if len(read) != len(run.group()):
            pieces.append((length, length + len(read), run.start(), run.end()))
        parts.append(read)
        length += len(read)
        done = run.end()
    parts.append(text[done:])
    return Folded(text, "".join(parts), pieces)
