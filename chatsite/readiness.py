"""What /readyz checks (READINESS_CHECKS): each a function returning whether its part is ready and a
short detail for the operator. Details name a state or an error's kind, never a URL, a password or a
trace: the answer is public.
"""

import os
import threading
import time
from pathlib import Path

from django.conf import settings
from kombu import Connection

from chatsite import database_probe
from knowledge import embedding, index_sync

Result = tuple[bool, str]

# A probe storm must not become a connection storm on the broker: its state is reused this long.
BROKER_CHECK_CACHE_SECONDS = 2.0
BROKER_CONNECT_TIMEOUT_SECONDS = 0.3

_broker_lock = threading.Lock()
_broker_seen: dict[str, tuple[float, Result]] = {}


def database() -> Result:
    return database_probe.answers()


def broker() -> Result:
    url = settings.CELERY_BROKER_URL
    with _broker_lock:
        checked_at, result = _broker_seen.get(url, (float("-inf"), (False, "")))
        if time.monotonic() - checked_at < BROKER_CHECK_CACHE_SECONDS:
            return result
        result = _filesystem_broker() if url.startswith("filesystem:") else _broker_server(url)
        _broker_seen[url] = (time.monotonic(), result)
        return result


def _filesystem_broker() -> Result:
    """The embedded broker is a folder: it must be there and writable."""
    folder = Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        return False, "folder missing or not writable"
    return True, "ok (folder)"


def _broker_server(url: str) -> Result:
    try:
        with Connection(url, connect_timeout=BROKER_CONNECT_TIMEOUT_SECONDS) as broker_connection:
            broker_connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0)
    except Exception as error:  # kombu and the transports raise many kinds; each means "not reachable"
        return False, f"unreachable ({type(error).__name__})"
    return True, "ok"


def embedding_model() -> Result:
    if embedding.is_warm():
        return True, "loaded"
    return False, "loading"


def index() -> Result:
    """This node's search indexes are built and hold every change in the database: the probe applies
    any it lacks first (what a search would do), so a node that fell behind is not ready until it has
    caught up. Without a database it cannot tell, and asks it no further (PostgreSQL's pool would
    wait its whole timeout for a connection)."""
    reachable, _ = database()
    if not reachable:
        return False, "database unreachable"
    try:
        index_sync.ensure_current()
        state = index_sync.status()
    except Exception as error:  # the database's errors, and a rebuild that failed
        return False, f"not current ({type(error).__name__})"
    if not state.loaded:
        return False, "not built"
    if state.lag:
        return False, f"{state.lag} changes behind"
    return True, f"current (change {state.applied})"
