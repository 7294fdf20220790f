"""The search index directory on disk: its writer lock, opening it to read, swapping builds in.

Enters: the live index directory (`<home>/index`). Leaves: `WriterLock` (an flock on
`<home>/index.lock` held by the one process changing the index; readers only look at it),
`open_index` (the live index opened without creating, deleting or locking anything in it — through
a temporary view of symbolic links when its folder is read-only — or `Unusable` saying why not),
`state` / `save_state` (`regwatch-index.json`: schema version, highest `change_seq` indexed and
the archive it came from),
`check_ours`, `build_dir` (an empty `<home>/index.new` for a rebuild), `swap_in` (the finished
build replaces the live directory by rename), `recover` (finish a swap a crash interrupted) and
`damaged_file` (the first file of the live index whose bytes fail the checksum in its footer).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import struct
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import tantivy

from archive.errors import ArchiveError
from regwatch.outfiles import replace_file

STATE_FILE = "regwatch-index.json"
OUR_FILES = {"meta.json", ".managed.json", STATE_FILE}
FOOTER_END = struct.Struct("<II")  # a tantivy file ends: JSON footer, its length, FOOTER_MAGIC
FOOTER_MAGIC = 1337
CHUNK = 1 << 20  # bytes read at a time while checking


class Unusable(Exception):
    """The live index cannot be opened; the message says why ("missing", "damaged (…)")."""


class WriterLock:
    """An exclusive flock on `<index>.lock`, beside the index so it outlives swaps."""

    def __init__(self, index_path: Path) -> None:
        self.path = index_path.with_name(index_path.name + ".lock")
        self._fd: int | None = None

    def acquire(self, wait: float) -> bool:
        """Take the lock, waiting up to `wait` seconds; False if another process keeps it."""
        if self._fd is not None:
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ArchiveError(f"cannot lock search index: {exc}") from None
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.05)
            else:
                self._fd = fd
                return True

    def release(self) -> None:
        """Give the lock back (closing the descriptor releases the flock)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def held_elsewhere(self) -> bool:
        """Whether another process (or another `WriterLock`) holds the lock; writes nothing."""
        if self._fd is not None:
            return False
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False


def open_index(path: Path) -> tuple[tantivy.Index, Path | None]:
    """The live index and the temporary view it was opened through (None: opened in place)."""
    if not path.is_dir():
        raise Unusable("missing" if not path.exists() else "not a folder (move it aside)")
    if not (path / "meta.json").is_file():
        raise Unusable("damaged (meta.json is missing)")
    if os.access(path, os.W_OK):
        return _open(path, path), None
    view = Path(tempfile.mkdtemp(prefix="regwatch-index-view-"))
    try:
        for entry in path.iterdir():
            if not entry.name.startswith(".tantivy-"):
                (view / entry.name).symlink_to(entry)
        return _open(view, path), view
    except BaseException:
        shutil.rmtree(view, ignore_errors=True)
        raise


def _open(where: Path, live: Path) -> tantivy.Index:
    try:
        index = tantivy.Index.open(str(where))
        index.searcher()  # opens every segment file: a missing or truncated one shows here
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # tantivy's Rust panics are BaseException
        reason = str(exc).splitlines()[0].replace(str(where), str(live))
        raise Unusable(f"damaged ({reason})") from None
    return index


def state(path: Path) -> dict[str, Any]:
    """The index's state file, or {} if it is absent or unreadable."""
    try:
        found = json.loads((path / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def save_state(path: Path, schema: int, seq: int, archive: str) -> None:
    """Record atomically that the index at `path` holds every row of `archive` up to `seq`."""
    record = {"schema": schema, "seq": seq, "archive": archive}
    replace_file(path / STATE_FILE, json.dumps(record).encode())


def check_ours(path: Path) -> None:
    """Refuse to manage a directory (or file) at `path` that is not a regwatch search index."""
    if not path.exists() and not path.is_symlink():
        return
    entries = {p.name for p in path.iterdir()} if path.is_dir() else {"?"}
    if entries and not entries & OUR_FILES and not any(n.startswith(".tantivy-") for n in entries):
        raise ArchiveError(
            f"{path} exists and is not a regwatch search index: regwatch leaves it as it is; "
            "move it aside, then run `regwatch reindex`"
        )


def build_dir(live: Path) -> Path:
    """An empty directory beside the live index for a rebuild (a leftover one is cleared)."""
    new = live.with_name(live.name + ".new")
    shutil.rmtree(new, ignore_errors=True)
    new.mkdir()
    return new


def swap_in(new: Path, live: Path) -> None:
    """Replace the live index with the finished build at `new` by two renames.

    A reader opening between them (microseconds) finds no index; one already open keeps its files.
    """
    old = live.with_name(live.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if live.exists():
        os.rename(live, old)
    os.rename(new, live)
    shutil.rmtree(old, ignore_errors=True)


def recover(live: Path) -> None:
    """Finish a swap a crash cut between its two renames (the build has its state file)."""
    new = live.with_name(live.name + ".new")
    if not live.exists() and (new / STATE_FILE).is_file():
        os.rename(new, live)


def damaged_file(path: Path) -> str | None:
    """The name of the first file of the live index's segments (in `meta.json`) whose bytes fail
    the CRC-32 its footer records, or None. Reads the whole index; a file that cannot be read
    (removed by a merge meanwhile) is left to `open_index` to judge."""
    try:
        segments = json.loads((path / "meta.json").read_text())["segments"]
        ids = [str(segment["segment_id"]).replace("-", "") for segment in segments]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    for segment_id in ids:
        for file in sorted(path.glob(f"{segment_id}.*")):
            try:
                if not _checksum_holds(file):
                    return file.name
            except OSError:
                continue
    return None


def _checksum_holds(file: Path) -> bool:
    with file.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size < FOOTER_END.size:
            return False
        handle.seek(size - FOOTER_END.size)
        length, magic = FOOTER_END.unpack(handle.read(FOOTER_END.size))
        body = size - FOOTER_END.size - length
        if magic != FOOTER_MAGIC or body < 0:
            return False
        handle.seek(body)
        try:
            recorded = json.loads(handle.read(length))["crc"]
        except (ValueError, KeyError, TypeError):
            return False
        handle.seek(0)
        crc, left = 0, body
        while left:
            chunk = handle.read(min(CHUNK, left))
            if not chunk:
                return False
            crc, left = zlib.crc32(chunk, crc), left - len(chunk)
        return crc == recorded
