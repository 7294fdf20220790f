"""One pipeline at a time: an advisory lock file in the archive home.

Enters: the archive home, the command taking the lock (`regwatch run`, the scheduled pipeline, …)
and how long to wait for it.
Leaves: `hold(...)`, a context manager holding `<home>/pipeline.lock` with `fcntl.flock` — the
operating system releases it when its holder dies, however it dies, so a lock is never waited on
forever. The holder writes a small JSON body (pid, command, since) for the messages, and removes
the file when it lets go cleanly: a body found on taking the lock was left by a process that was
killed, and the context yields one line saying so (else None). If the lock stays held for `wait`
seconds, `PipelineBusy` (a `TimeoutError`) says who holds it and since when. `exclusive(path)`
holds a plain flock on `path` for a short critical section (a digest's check-send-record),
waiting for as long as its holder keeps it. `alive(pid)` tells whether a process may still run.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

LOCK_NAME = "pipeline.lock"
POLL = 0.1  # seconds between attempts while the lock is held


class PipelineBusy(TimeoutError):
    """The pipeline lock stayed held for the whole wait; the message names the holder."""


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) the lock, as its JSON body says."""

    pid: int
    command: str
    since: str

    def describe(self) -> str:
        gone = "" if alive(self.pid) else ", no longer running"
        return f"{self.command} (pid {self.pid}{gone}) since {self.since}"


@contextlib.contextmanager
def hold(
    home: Path,
    command: str,
    wait: float,
    on_wait: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> Iterator[str | None]:
    """Hold the pipeline lock of `home` for the block, waiting up to `wait` seconds for it.

    `on_wait(holder)` is called once if the lock is busy when asked for; `stop`, once set, ends the
    wait at once (`PipelineBusy`: a scheduler shutting down waits for nobody). Yields a line
    naming the killed process whose lock was taken over, or None. A clean release removes the
    file. In a home this process may not write, nothing is locked (the archive refuses the write
    itself).
    """
    home.mkdir(parents=True, exist_ok=True)
    if not os.access(home, os.W_OK):
        yield None  # this process cannot write the archive: the step refuses it in one line
        return
    path = home / LOCK_NAME
    fd = _acquire(path, wait, on_wait, stop or threading.Event())
    try:
        left = _read(fd)
        _write(fd, json.dumps({"pid": os.getpid(), "command": command, "since": _now()}))
        try:
            yield f"took over the pipeline lock left by {left.describe()}" if left else None
        finally:
            path.unlink(missing_ok=True)  # while still locked: waiters see a new file next
    finally:
        os.close(fd)  # releases the flock


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an flock on `path` for the block, waiting while another process (or descriptor)
    holds it; the operating system releases it when its holder dies."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the flock


def _acquire(
    path: Path, wait: float, on_wait: Callable[[str], None] | None, stop: threading.Event
) -> int:
    """A descriptor of `path` holding its flock; the file is the one at `path` (not one a
    previous holder removed while this process waited on it)."""
    deadline = time.monotonic() + wait
    told = False
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
        else:
            if _same_file(fd, path):
                return fd
            os.close(fd)
            continue
        who = holder.describe() if holder else "another process"
        if stop.is_set():
            raise PipelineBusy(f"the pipeline is busy: {path} is held by {who}; stopped waiting")
        if time.monotonic() >= deadline:
            raise PipelineBusy(
                f"the pipeline is busy: {path} is held by {who}; gave up after {wait:g} s "
                "(pipeline.lock_wait_seconds)"
            )
        if on_wait and not told:
            on_wait(who)
            told = True
        stop.wait(min(POLL, max(0.0, deadline - time.monotonic())))


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False


def _read(fd: int) -> Holder | None:
    """The lock's JSON body, or None when it is empty or unreadable (a holder mid-write)."""
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
        return Holder(int(data["pid"]), str(data["command"]), str(data["since"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _write(fd: int, text: str) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, text.encode("utf-8"), 0)


def alive(pid: int) -> bool:
    """Whether process `pid` may be running (another user's process, or a number no process may
    have, counts as running: whoever asks leaves its traces alone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
