"""Shutting a web process down without cutting answers short, on SIGTERM (or Ctrl-C).

uvicorn, told to stop, closes its listening socket at once (new connections are refused) and waits
for the open ones to end. Answers streaming then go on for SHUTDOWN_GRACE_SECONDS; those still
streaming after it are stopped as a user's stop does (chat/stopping.py): each is saved with what had
arrived and marked stopped, and its stream ends normally. /v1 streams, which save no message, end the
same way (`past_grace`). Answers whose client went away run on as tasks of their own
(chat/streaming.py): the lifespan's shutdown (`finish`) waits for them under the same deadline.

`start` (an async lifespan start-up) chains a handler to the server's own for the signals, so the
grace period starts when the signal arrives, not when uvicorn is done waiting for the connections.
"""

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from django.conf import settings

from chat import stopping, streaming
from chatsite.web_server import SAVE_SECONDS

logger = logging.getLogger(__name__)

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _Drain:
    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.deadline: float | None = None  # on the loop's clock, once draining
        self.past_grace = False
        self.stopper: asyncio.Task | None = None


_drain = _Drain()


async def start() -> None:
    """Begin draining when the server is told to stop (a lifespan start-up, on the server's loop)."""
    _drain.loop = asyncio.get_running_loop()
    if threading.current_thread() is not threading.main_thread():
        return  # signals are the main thread's: a server run in a thread drains from `finish`
    for signum in SIGNALS:
        signal.signal(signum, _chained(signal.getsignal(signum)))


def _chained(previous: Any) -> Callable[[int, FrameType | None], None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        if _drain.loop is not None:
            _drain.loop.call_soon_threadsafe(begin)
        if callable(previous):
            previous(signum, frame)

    return handler


def begin() -> None:
    """Start the grace period (once): answers streaming are stopped when it ends."""
    if _drain.deadline is not None:
        return
    loop = asyncio.get_running_loop()
    grace = settings.SHUTDOWN_GRACE_SECONDS
    _drain.deadline = loop.time() + grace
    logger.info("Shutting down: %s answers streaming get %s s to finish.", stopping.streaming_count(), grace)
    _drain.stopper = loop.create_task(_stop_after(grace))


async def _stop_after(grace: float) -> None:
    await asyncio.sleep(grace)
    _drain.past_grace = True
    stopped = stopping.stop_all()
    logger.warning("Grace period over: stopping %s answers still streaming.", stopped)
    # An answer just starting (its turn being recorded) is not streaming yet: stop it when it is.
    while True:
        await asyncio.sleep(stopping.STOP_CHECK_SECONDS)
        stopping.stop_all()


async def past_grace() -> bool:
    """Whether answers must stop for the shutdown: the stop check of answers that save no message."""
    return _drain.past_grace


async def finish() -> None:
    """The lifespan's shutdown: once the connections are done, wait for the answers still running
    without a client (stopped like the others when the grace period ends), then stop waiting."""
    begin()
    loop = asyncio.get_running_loop()
    assert _drain.deadline is not None
    running = set(streaming.running_answers())
    if running:
        logger.info("Waiting for %s answers whose clients went away.", len(running))
        await asyncio.wait(running, timeout=max(0.0, _drain.deadline - loop.time()) + SAVE_SECONDS)
    if _drain.stopper is not None:
        _drain.stopper.cancel()
