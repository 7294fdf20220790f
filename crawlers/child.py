"""The crawl's child process, bound to the process that started it.

Enters: in the parent, the child's command line (`run_child`); in the child, the parent's pid
(`watch_parent`).
Leaves: `run_child` starts the child in its own session (a terminal's Ctrl-C reaches the parent
only) and returns its exit status (`stop_children` stops every running child from another thread,
as the scheduler does on SIGTERM); however the wait ends (the child exits, `timeout` passes as
`subprocess.TimeoutExpired`, Ctrl-C, or SIGTERM, turned into `SystemExit(143)` while it waits in
the main thread), the child is stopped and reaped before `run_child` returns or raises: one
SIGTERM (Scrapy closes the spider, which records the crawl), SIGKILL after `STOP_GRACE` seconds.
In the child, `stop_on_signals` turns SIGTERM and SIGINT into a recorded failure ("the crawl was
stopped by SIGTERM") and a spider close; if an in-flight request holds the close past
`FORCE_AFTER` seconds, the `spider_closed` receivers run anyway (the pipeline logs the crawl) and
`abandon` is called (it writes the result and exits). `watch_parent` makes the child stop itself
the same way when its parent is gone, even killed with SIGKILL: it polls its parent pid every
`POLL` seconds, sends itself SIGTERM, and exits for good `STOP_GRACE` seconds later.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from crawlers.outcome import errors, record_failure

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

STOP_GRACE = 10.0
FORCE_AFTER = 2.0
POLL = 0.2
STOPPED = "the crawl was stopped by"
_children: set[subprocess.Popen] = set()
_children_lock = threading.Lock()
_stopping = threading.Event()


def run_child(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float | None) -> int:
    """Run `args` and return its exit status; the child never outlives this call."""
    with _sigterm_exits():
        child = subprocess.Popen(args, cwd=cwd, env=env, start_new_session=True)
        with _children_lock:
            _children.add(child)
            if _stopping.is_set():
                child.terminate()
        try:
            return child.wait(timeout)
        finally:
            stop(child)
            with _children_lock:
                _children.discard(child)


def stop_children() -> None:
    """From any thread (a signal handler of a scheduler): SIGTERM every running child and every
    child started from now on; each stops as on Ctrl-C (its crawl recorded as failed), and
    `run_child` returns its status as usual."""
    with _children_lock:
        _stopping.set()
        for child in _children:
            if child.poll() is None:
                child.terminate()


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


def stop_on_signals(crawler: Crawler, abandon: Callable[[], None]) -> None:
    """In the child, before the reactor starts: SIGTERM and SIGINT stop the crawl as a failure."""
    from twisted.internet import reactor

    def handler(signum: int, frame: object) -> None:
        reactor.callFromThread(_stop, crawler, signal.Signals(signum).name, abandon)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handler)


def _stop(crawler: Crawler, name: str, abandon: Callable[[], None]) -> None:
    from scrapy.utils.defer import deferred_from_coro
    from twisted.internet import reactor

    if any(message.startswith(STOPPED) for message in errors(crawler.stats)):
        return  # a second signal: the first one's stop is under way
    record_failure(crawler.stats, f"{STOPPED} {name}")
    if crawler.engine is None or crawler.engine.spider is None:
        reactor.stop()  # nothing opened yet, nothing to log: the parent records the crawl
        return
    deferred_from_coro(crawler.engine.close_spider_async(reason="shutdown"))
    reactor.callLater(FORCE_AFTER, _force, crawler, abandon)


def _force(crawler: Crawler, abandon: Callable[[], None]) -> None:
    """The close is held up (an in-flight request): log the crawl now and abandon the rest."""
    from scrapy import signals

    crawler.signals.send_catch_log(
        signal=signals.spider_closed, spider=crawler.spider, reason="shutdown"
    )
    abandon()
