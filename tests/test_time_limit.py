"""The reading deadline holds even when its first signal lands where Python drops exceptions."""

import time
import weakref

import pytest

from knowledge.time_limit import TimeLimitReached, time_limit


class _Thing:
    pass


def _busy(seconds: float) -> None:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        pass


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_deadline_that_falls_inside_a_finalizer_still_stops_the_work():
    started = time.monotonic()
    with pytest.raises(TimeLimitReached), time_limit(0.1):
        thing = _Thing()
        weakref.finalize(thing, _busy, 0.3)  # a reader's file closing itself, say
        del thing  # the finalizer runs now, and the deadline passes inside it
        _busy(5)
    assert time.monotonic() - started < 2


def test_work_done_in_time_is_left_alone():
    with time_limit(5):
        _busy(0.01)
