"""Stopping an answer that is streaming, from whichever web process took the stop request.

A stop asked of the process streaming the answer is noticed at once; one asked of another process
travels through the shared cache (files under DATA_DIR for the processes of one machine, Redis across
machines) and is noticed at most STOP_CHECK_SECONDS later. A server shutting down stops the answers it
still streams the same way (`stop_all`, from chatsite/draining.py).
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache, caches
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.locmem import LocMemCache

STOP_CHECK_SECONDS = 0.25
STOP_REQUEST_SECONDS = 3600

# Answers this process is streaming, and those of them asked to stop: checked on every event, so a
# stop asked of this process costs nothing to notice.
_streaming: set[int] = set()
_stop_requested: set[int] = set()


def _stop_key(message_id: int) -> str:
    return f"chat:stop:{message_id}"


def _cache_is_shared() -> bool:
    """Whether other processes see this cache (files or Redis), so a stop can reach an answer
    streamed elsewhere."""
    return not isinstance(caches["default"], LocMemCache)


async def request_stop(message_id: int) -> None:
    """Ask the process streaming this answer to stop it; it keeps what has arrived."""
    if message_id in _streaming:
        _stop_requested.add(message_id)
    elif _cache_is_shared():
        await cache.aset(_stop_key(message_id), True, timeout=STOP_REQUEST_SECONDS)


def stop_all() -> int:
    """Stop every answer this process is streaming, as if each user had pressed stop; how many."""
    _stop_requested.update(_streaming)
    return len(_streaming)


def streaming_count() -> int:
    return len(_streaming)


class StopWatch:
    """Answers whether a stop was asked for one streaming answer (see `watching`)."""

    def __init__(self, message_id: int) -> None:
        self.message_id = message_id
        self.shared = _cache_is_shared()
        # Asked on the loop itself: looking for a file that is not there costs ~25 µs, the thread
        # that `aget` would hop to ~200 µs, four times a second for every answer streaming.
        self.local_files = isinstance(caches["default"], FileBasedCache)
        self.checked = time.monotonic()

    async def stopped(self) -> bool:
        if self.message_id in _stop_requested:
            return True
        if not self.shared or time.monotonic() - self.checked < STOP_CHECK_SECONDS:
            return False
        self.checked = time.monotonic()
        key = _stop_key(self.message_id)
        return bool(cache.get(key) if self.local_files else await cache.aget(key))


@contextmanager
def watching(message_id: int) -> Iterator[StopWatch]:
    """From here on a stop request for this answer is noticed; after, this process forgets it."""
    _streaming.add(message_id)
    try:
        yield StopWatch(message_id)
    finally:
        _streaming.discard(message_id)
        _stop_requested.discard(message_id)
