"""Files regwatch writes whole or not at all: digests, feeds, the calendar, the index's state,
and every `--output` (tagged files, search exports).

Enters: a path and the bytes it should hold (`replace_file`), or a block that writes them to an
open file (`replacing`); for a path a user named, `replaceable` first.
Leaves: the file replaced in one rename, so a reader (a feed reader, a web server, the web
page's digest archive, the next command) sees the old file or the new one, never half of one;
the new bytes are on disk (fsync) before the rename and the rename is (fsync of the folder)
before the write returns, so a power loss leaves the old file or the new one, never an empty
one; and a write that fails (a full disk, an exception) leaves the old file as it was and no
temporary file beside it. The temporary file, `.<name>.<pid>.tmp`, is one a killed process may
leave: the next write of the same file removes those of processes no longer running. A file that
existed keeps its permissions; a new one gets those the process's umask gives. `replaceable`
gives the file to replace (a link's target), or `ValueError` in one line when that is not a
regular file (a directory; a device such as /dev/null or a named pipe, which the rename replaced
with a file) or the user may not write it or its folder (a write-protected file was replaced all
the same). Standard library only (with `regwatch.lock` and `regwatch.files`), so every package
may import it.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from regwatch.files import check_file
from regwatch.lock import alive


def replaceable(path: Path) -> Path:
    """The file writing `path` replaces (a link's target, not the link), checked: `ValueError`
    "cannot write PATH: reason" when it is there and not a regular file, or when it or its
    folder may not be written."""
    target = Path(os.path.realpath(path))
    try:
        check_file(target)
    except FileNotFoundError:
        pass
    except ValueError as exc:
        raise ValueError(f"cannot write {path}: {exc}") from None
    if any(p.exists() and not os.access(p, os.W_OK) for p in (target, target.parent)):
        raise ValueError(f"cannot write {path}: permission denied")
    return target


def replace_file(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, then rename it over `path`."""
    with replacing(path) as out:
        out.write(data)


@contextlib.contextmanager
def replacing(path: Path, *, encoding: str | None = None) -> Iterator[IO[Any]]:
    """A temporary file beside `path` for the block to write (binary, or text in `encoding`),
    renamed over `path` when the block ends, removed if it raises."""
    _sweep(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = None
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        with os.fdopen(descriptor, "w" if encoding else "wb", encoding=encoding) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """fsync `folder`, so a rename in it survives a power loss (a file system that cannot sync a
    folder, EINVAL, already holds the renamed file: nothing to report)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
    finally:
        os.close(descriptor)


def _sweep(path: Path) -> None:
    """Remove the temporary files of `path` left by processes no longer running."""
    for left in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = left.name[len(path.name) + 2 : -len(".tmp")]
        if pid.isdigit() and not alive(int(pid)):
            with contextlib.suppress(OSError):
                left.unlink()
