"""A time limit for work that may not finish (SymPy simplification of a large expression)."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


class TimedOut(Exception):
    """The block ran out of time."""


@contextmanager
def time_limit(seconds: float):
    """Interrupt the block after ``seconds`` (main thread on Unix; elsewhere no limit)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread() \
            or not hasattr(signal, "setitimer"):
        yield
        return

    def interrupt(signum, frame):
        raise TimedOut

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
