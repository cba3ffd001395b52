"""A time limit for work that may not finish (SymPy simplification of a large expression)."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

#: After the limit, the alarm repeats this often until the block is left: an exception raised
#: inside a garbage-collector callback or a ``__del__`` is swallowed ("Exception ignored in"),
#: so one alarm alone can be lost and leave the work unbounded.
REPEAT_SECONDS = 0.05


class TimedOut(Exception):
    """The block ran out of time."""


@contextmanager
def time_limit(seconds: float):
    """Interrupt the block after ``seconds`` (main thread on Unix; elsewhere no limit), and again
    every :data:`REPEAT_SECONDS` until the interruption is honoured and the block is left."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread() \
            or not hasattr(signal, "setitimer"):
        yield
        return

    def interrupt(signum, frame):
        raise TimedOut

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds, REPEAT_SECONDS)
    try:
        yield
    finally:
        _disarm(previous)


def _disarm(previous) -> None:
    """Stop the repeating alarm and restore the previous handler, even if one last alarm
    arrives while doing so (it is the limit already being honoured)."""
    while True:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            return
        except TimedOut:
            continue
