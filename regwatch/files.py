"""Files a user names (an import, a file to tag, a config, a watch-list CSV, the archive's
database): only readable regular files of a sane size are read.

Enters: a file name or path (`-`: standard input, where the caller reads it) and, for whole-file
reads, the most bytes such a file may hold.
Leaves: `open_input`, an open binary stream and its size, and `check_file`, nothing: both raise
`ValueError` in one line when the file is missing or unreadable, is not a regular file (a
directory, a named pipe, a device such as /dev/zero: reading it would never end, or block), or is
bigger than its limit; `shown`, the name messages give a file (`-`: "standard input"). Standard
library only, so every package may import it.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

STDIN = "-"
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


@contextlib.contextmanager
def open_input(name: str, action: str = "read") -> Iterator[tuple[BinaryIO, int | None]]:
    """The binary stream of file `name` (`-`: standard input) and its size (None for stdin);
    `ValueError` reads "cannot {action} {name}: …"."""
    if name == STDIN:
        yield sys.stdin.buffer, None
        return
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK)  # a named pipe must not block the open
    except OSError as exc:
        raise ValueError(f"cannot {action} {name}: {exc.strerror.lower()}") from None
    except ValueError:  # a NUL character in the name
        raise ValueError(f"cannot {action} {name!r}: not a file name") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise ValueError(f"cannot {action} {name}: {_not_regular(info.st_mode)}")
    with os.fdopen(fd, "rb") as stream:
        yield stream, info.st_size


def shown(name: str) -> str:
    """File `name` as messages name it (`-`: "standard input")."""
    return "standard input" if name == STDIN else name


def check_file(path: Path, max_bytes: int | None = None) -> None:
    """`ValueError` (the reason only) when `path` is not a regular file or holds more than
    `max_bytes`; `OSError` as `os.stat` raises it (a missing file)."""
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(_not_regular(info.st_mode))
    if max_bytes is not None and info.st_size > max_bytes:
        raise ValueError(f"{info.st_size:,} bytes, more than the {max_bytes:,} it may hold")


def _not_regular(mode: int) -> str:
    kind = next((what for test, what in _KINDS if test(mode)), "something else")
    return f"it is {kind}, not a regular file"
