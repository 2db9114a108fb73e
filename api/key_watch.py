"""Noticing, while an answer streams, that the API key it was asked with has been revoked (or its
user deactivated), so the answer ends instead of streaming on for minutes.

Streams ask on every event they relay. The database is asked at most once every
KEY_CHECK_SECONDS, about all the keys streams asked after since the last time, in one query on a pool
thread that gives its connection back. So a revocation made in any web process (or by the admin)
ends the streams of every process within about that time, no connection is held between checks, and
a thousand open streams cost one query a second.
"""

import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial

from django.db import DatabaseError
from rest_framework.request import Request

from api.models import ApiKey
from chatsite.db_threads import in_pool

logger = logging.getLogger(__name__)
KEY_CHECK_SECONDS = 1.0

# Keys are known by their digest, which unlike a row id is never used again by another key.
_asked: set[str] = set()  # keys that streams asked after since the last check
_revoked: frozenset[str] = frozenset()  # those of them the last check found revoked
_checked_at = float("-inf")


def _active_keys(*, digests: set[str]) -> set[str]:
    return set(ApiKey.objects.active().filter(digest__in=digests).values_list("digest", flat=True))


async def key_revoked(digest: str) -> bool:
    """Whether the key has been revoked (or its user deactivated), as of the last check."""
    global _asked, _revoked, _checked_at
    _asked.add(digest)
    if time.monotonic() - _checked_at >= KEY_CHECK_SECONDS:
        _checked_at = time.monotonic()
        asked, _asked = _asked, set()
        try:
            _revoked = frozenset(asked - await in_pool(_active_keys, digests=asked))
        except DatabaseError:
            # The key was valid when the answer began: a database hiccup does not end it.
            logger.warning("Could not check whether API keys were revoked", exc_info=True)
    return digest in _revoked


def revocation_check(request: Request) -> Callable[[], Awaitable[bool]] | None:
    """What an answer streamed for this request asks to learn that its key was revoked; None for a
    browser session, which has no key."""
    if isinstance(request.auth, ApiKey):
        return partial(key_revoked, request.auth.digest)
    return None
