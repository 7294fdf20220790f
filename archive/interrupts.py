"""Ctrl-C held back while steps that belong together run (an index commit and the watermark
recording it).

Enters: a block of work that must not be cut in two. Leaves: the block run whole, and a SIGINT
that arrived meanwhile delivered once it ends, to the handler that was in place (by default a
`KeyboardInterrupt`). Where Python cannot handle SIGINT (another thread than the main one, or a
handler that is not Python's: ignored, or the default that ends the process) the block runs as is.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def held_back() -> Iterator[None]:
    """Run the block with SIGINT held back, then deliver one that arrived meanwhile."""
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield
        return
    arrived: list[FrameType | None] = []
    signal.signal(signal.SIGINT, lambda signum, frame: arrived.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if arrived:
            previous(signal.SIGINT, arrived[-1])
