"""Code highlighted by Pygments in worker processes that are killed at a deadline.

Pygments gives no guarantee on time, and says so: a lexer's regular expression can backtrack for
hours (its systemd lexer spends 13 s on 1,600 characters of blanks and tabs, growing with the cube),
and one match cannot be interrupted in a thread. So, as Pygments advises, it runs in processes of
its own: past the deadline the worker is killed and the code shows without colours.

Imports Pygments and pebble only: the workers start from a clean forkserver that imports this module.
"""

import logging
import multiprocessing
import os
import time
from concurrent.futures import CancelledError
from concurrent.futures.process import BrokenProcessPool
from functools import lru_cache
from io import StringIO
from threading import Lock

from pebble import ProcessExpired, ProcessPool
from pygments.formatters.html import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import find_lexer_class_by_name
from pygments.lexers.special import TextLexer
from pygments.util import ClassNotFound

logger = logging.getLogger(__name__)

# Worker processes per web process, below the web process's priority: an answer full of code that
# keeps them busy slows the colours of other answers, not the pages.
WORKERS = 2
_NICENESS = 10
# Wall-clock seconds the code blocks of one answer may take. Highlighting a block of a few hundred
# lines takes milliseconds; the wait for a worker on a busy machine counts too.
SECONDS = 5.0
# Starting the pool is not the code's time, but workers that never start must not hold pages forever.
_START_SECONDS = 30.0
# A fence's language name as far as it is shown and cached.
_LANGUAGE_CHARS = 40
_pool: ProcessPool | None = None
_pool_lock = Lock()


# Both cached: making a formatter costs more than highlighting a short block, and finding a lexer
# by name reads through every lexer Pygments has.
@lru_cache(maxsize=256)
def _formatter(language: str) -> HtmlFormatter:
    """Pygments' HTML with the fence's language named above the code (the page shows it with a
    copy button)."""
    return HtmlFormatter(cssclass="highlight", wrapcode=True, filename=language)


@lru_cache(maxsize=256)
def _lexer_class(language: str) -> type[Lexer]:
    try:
        return find_lexer_class_by_name(language)
    except ClassNotFound:
        return TextLexer


def _html(code: str, language: str, lexer: type[Lexer]) -> str:
    out = StringIO()
    _formatter(language).format(lexer().get_tokens(code), out)
    return out.getvalue()


def highlight(code: str, language: str) -> str:
    """Runs in a worker process."""
    return _html(code, language, _lexer_class(language))


def _workers() -> ProcessPool:
    """The process's pool, started on first use, and waited for once: starting it is not the
    code's time."""
    global _pool
    with _pool_lock:
        if _pool is None:
            # Not forked from this process, which holds threads and the embedding model.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([__name__])
            _pool = ProcessPool(WORKERS, initializer=os.nice, initargs=(_NICENESS,), context=context)
            try:
                _pool.schedule(highlight, args=("", "text")).result(timeout=_START_SECONDS)
            except (ProcessExpired, TimeoutError) as error:  # rather than pebble seeing all workers die
                raise BrokenProcessPool("The highlighter's workers did not start.") from error
        return _pool


def _forget_pool() -> None:
    """After its workers failed to start or died all at once: the next block starts a new pool."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool:
        pool.stop()


class Highlighter:
    """Highlights the code blocks of one answer, all of them within `seconds` of the first: past
    that, or past what is left for a block, a block shows as plain text in the same frame."""

    def __init__(self, seconds: float = SECONDS) -> None:
        self.seconds = seconds
        self.until: float | None = None

    def html(self, code: str, language: str) -> str:
        language = language[:_LANGUAGE_CHARS] or "text"
        try:
            workers = _workers()
            self.until = self.until or time.monotonic() + self.seconds
            seconds = self.until - time.monotonic()
            if seconds > 0:
                future = workers.schedule(highlight, args=(code, language), timeout=seconds)
                try:
                    return future.result(timeout=seconds)
                except (TimeoutError, CancelledError, ProcessExpired):
                    future.cancel()  # a worker still at it is killed
        except BrokenProcessPool:
            logger.exception("The code highlighter's processes failed; this code shows without colours.")
            _forget_pool()
        return _html(code, language, TextLexer)
