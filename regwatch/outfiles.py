"""Files regwatch writes for others to read (digests, feeds, the calendar): whole or not at all.

Enters: a path and the bytes it should hold. Leaves: the file replaced in one rename, so a reader
(a feed reader, a web server, the web page's digest archive) sees the old file or the new one,
never half of one, and a write that fails (a full disk, a crash) leaves the old file as it was and
no temporary file beside it. A file that existed keeps its permissions; a new one gets those the
process's umask gives. Standard library only, so every package may import it.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path


def replace_file(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, then rename it over `path`."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = None
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
