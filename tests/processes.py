"""Processes as /proc shows them, for tests that stop crawls, schedulers and their children.

Enters: a process id, or a condition to wait for.
Leaves: `children(pid)` (live processes whose parent is `pid`), `alive(pid)` (running and not a
zombie) and `wait_for(condition, timeout, what)` (poll until true, else fail naming `what`).
Linux only: tests using /proc skip where it is absent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def children(pid: int) -> list[int]:
    """Live processes whose parent is `pid` (zombies count as gone)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            state, ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        if int(ppid) == pid and state != "Z":
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """The first true value of `condition()`, polled every 50 ms; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
