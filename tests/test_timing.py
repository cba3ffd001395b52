"""The time limit of SymPy work: honoured even when the first alarm is swallowed."""

import time

import pytest

from derive.timing import TimedOut, time_limit


def test_a_swallowed_alarm_is_repeated_until_honoured():
    """An exception raised inside a garbage-collector callback or a __del__ never reaches the
    block ("Exception ignored in ..."); the loop below swallows the first one the same way.
    A one-shot alarm then leaves the block running to the end of its work (here 5 s)."""
    swallowed = 0
    started = time.monotonic()
    with pytest.raises(TimedOut):
        with time_limit(0.05):
            for _ in range(500):  # 5 s of work at most
                if swallowed:
                    time.sleep(0.01)
                    continue
                try:
                    time.sleep(0.01)
                except TimedOut:
                    swallowed += 1
    assert swallowed == 1 and time.monotonic() - started < 4


def test_the_alarm_is_disarmed_after_the_block():
    with time_limit(0.05):
        pass
    time.sleep(0.2)  # a repeating alarm left armed would raise TimedOut here
