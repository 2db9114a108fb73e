"""A time limit on work in the process's main thread, which the code doing the work cannot swallow."""

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

# When the first raise is lost, the timer fires again this much later.
RETRY_SECONDS = 0.05


class TimeLimitReached(BaseException):
    """Raised wherever the work is when its time is up. A BaseException, as KeyboardInterrupt is, so
    that a reader's own `except Exception` (pypdf, python-docx) cannot turn it into a parse error."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeLimitReached in the body once `seconds` of wall-clock time have passed.

    The timer is a signal, which only the main thread receives (as in a Celery pool process, the
    solo pool and the command line); elsewhere the body runs without this limit, under the task's
    own. Code inside C (a regular expression, a parser's inner loop) is interrupted when it returns.
    A signal that arrives while Python runs a finalizer or a garbage-collection callback has its
    exception printed and dropped by the interpreter, so the timer keeps firing until the raise
    gets through, and a body that finishes after its time anyway still ends in TimeLimitReached.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    expired = False

    def expire(_signal: int, _frame: object) -> None:
        nonlocal expired
        expired = True
        signal.setitimer(signal.ITIMER_REAL, RETRY_SECONDS)
        raise TimeLimitReached

    previous = signal.signal(signal.SIGALRM, expire)
    their_delay, their_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if their_delay:  # a timer that was running before (pytest-timeout's, say) goes on
            left = their_delay - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.001), their_interval)
    if expired:  # every raise was lost, and the body finished past its time
        raise TimeLimitReached
