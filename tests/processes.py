"""Processes as /proc shows them, for tests that stop crawls, schedulers and their children.

Enters: a process id. Leaves: `children(pid)` (live processes whose parent is `pid`) and
`alive(pid)` (running and not a zombie). Linux only: tests using them skip where /proc is absent.
"""

from __future__ import annotations

from pathlib import Path


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
