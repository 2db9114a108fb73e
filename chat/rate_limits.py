"""Per-user limits on what costs money or CPU, counted alike by the chat page and the API.

Answers draw on one budget per user, ANSWER_RATE_PER_USER, wherever they are asked: a question,
regenerate or edit on the chat page, an ask through the REST API, a /v1 chat completion. Switching
between the page and the API does not get past it. Previews of a streaming answer's Markdown have a
budget of their own, PREVIEW_RATE_PER_USER, and so do opening a document at a cited passage
(PASSAGE_RATE_PER_USER: the page reads and normalises the whole original), switching the version
of an answer shown (VERSION_SWITCH_RATE_PER_USER: a write each time), having the hit-testing page
search a query in translation (TRANSLATION_RATE_PER_USER: a call to the model unless cached), and
exporting a conversation (EXPORT_RATE_PER_USER, the page and the API together). Shared pages are
public, so they are counted per client address (SHARED_PAGE_RATE_PER_CLIENT). The
API also limits all of its requests per key and per user (api/throttles.py) with the same counters.

A limit is a moving window: at most so many uses in any period of its length. The counts live in
Redis at CACHE_URL when it is set, shared by every web process of every machine, else in a SQLite file
under DATA_DIR shared by the web processes of this machine (chat/rate_limit_storage.py); each use is
recorded atomically (the `limits` library; a Lua script on Redis, a write transaction in SQLite), so
requests arriving together cannot slip past a limit. DRF's throttles read a list of timestamps and
wrote it back: six threads sending 120 requests at once got 36 of them through a limit of 10.
"""

import math
import time
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.http import HttpResponse
from django.utils.translation import gettext as _
from limits import RateLimitItemPerSecond, storage, strategies

from chat import rate_limit_storage  # noqa: F401  (registers sqlite:// with `limits`)
from chatsite.env import rate_parts


@dataclass(frozen=True)
class Limit:
    name: str
    setting: str  # the setting holding the rate, read at each use so that it can be changed


ANSWERS = Limit("answers", "ANSWER_RATE_PER_USER")
PREVIEWS = Limit("previews", "PREVIEW_RATE_PER_USER")
PASSAGES = Limit("passages", "PASSAGE_RATE_PER_USER")
VERSION_SWITCHES = Limit("version-switches", "VERSION_SWITCH_RATE_PER_USER")
TRANSLATIONS = Limit("translations", "TRANSLATION_RATE_PER_USER")  # the hit-testing page's
USAGE_PAGES = Limit("usage_pages", "USAGE_PAGE_RATE_PER_USER")  # the account page and usage dashboard
SHARED_PAGES = Limit("shared_pages", "SHARED_PAGE_RATE_PER_CLIENT")  # counted per client address
EXPORTS = Limit("exports", "EXPORT_RATE_PER_USER")  # the pages' and the REST API's


@cache
def _limiter(location: str) -> strategies.MovingWindowRateLimiter:
    return strategies.MovingWindowRateLimiter(storage.storage_from_string(location))


def seconds_to_wait(limit: Limit, who: str) -> int | None:
    """Record one use of `limit` by `who` (a user's or an API key's id): None while within the limit,
    else the seconds until the oldest use in the window leaves it (a refused use is not recorded)."""
    return seconds_to_wait_at(getattr(settings, limit.setting), limit.name, who)


def seconds_to_wait_at(rate: str, name: str, who: str) -> int | None:
    """`seconds_to_wait` for a rate of its own (a chat widget's, "10/min"), counted under `name`."""
    count, seconds = rate_parts(rate)
    item = RateLimitItemPerSecond(count, seconds)
    limiter = _limiter(settings.RATE_LIMITS_STORAGE)
    if limiter.hit(item, name, who):
        return None
    reset, _remaining = limiter.get_window_stats(item, name, who)
    return max(1, math.ceil(reset - time.time()))


def refusal(limit: Limit, who: str) -> HttpResponse | None:
    """A plain-text 429 with Retry-After when `who` is over `limit`, else None; each call counts one use."""
    wait = seconds_to_wait(limit, who)
    if wait is None:
        return None
    message = _("Too many requests. Try again in %(seconds)d seconds.") % {"seconds": wait}
    response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(wait)
    return response
