"""The crawl's child process, bound to the process that started it.

Enters: in the parent, the child's command line (`run_child`); in the child, the parent's pid
(`watch_parent`).
Leaves: `run_child` starts the child in its own session (a terminal's Ctrl-C reaches the parent
only) and returns its exit status; however the wait ends (the child exits, `timeout` passes as
`subprocess.TimeoutExpired`, Ctrl-C, or SIGTERM, turned into `SystemExit(143)` while it waits in
the main thread), the child is stopped and reaped before `run_child` returns or raises: one
SIGTERM (Scrapy closes the spider, which records the crawl), SIGKILL after `STOP_GRACE` seconds.
`watch_parent` makes the child do the same to itself when its parent is gone, even killed with
SIGKILL: it polls its parent pid every `POLL` seconds, then sends itself SIGTERM and exits for good
`STOP_GRACE` seconds later.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

STOP_GRACE = 10.0
POLL = 0.2


def run_child(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float | None) -> int:
    """Run `args` and return its exit status; the child never outlives this call."""
    with _sigterm_exits():
        child = subprocess.Popen(args, cwd=cwd, env=env, start_new_session=True)
        try:
            return child.wait(timeout)
        finally:
            stop(child)


def stop(child: subprocess.Popen) -> None:
    """Ask a running child to stop (SIGTERM), kill it after `STOP_GRACE` s, and reap it."""
    try:
        if child.poll() is None:
            child.terminate()
            child.wait(STOP_GRACE)
    except subprocess.TimeoutExpired:
        pass
    finally:  # also after a second Ctrl-C during the grace period
        if child.poll() is None:
            child.kill()
        child.wait()


@contextlib.contextmanager
def _sigterm_exits() -> Iterator[None]:
    """Within the block, SIGTERM raises `SystemExit(143)` so `finally` clauses run (main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def watch_parent(parent: int) -> None:
    """In the child: stop this process when `parent` is no longer its parent."""
    threading.Thread(target=_watch, args=(parent,), name="watch-parent", daemon=True).start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(STOP_GRACE)
    os._exit(1)
