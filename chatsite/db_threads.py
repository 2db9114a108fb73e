"""Where the async request path does its database work, so that no connection is held while an
answer streams.

Django keeps a thread's connection open until the request ends, which for a streaming answer is
minutes later; with PostgreSQL's pool (DATABASE_POOL_SIZE) a process then runs out of connections at
about as many open streams, and every request after waits for one. So a request does its own
database work (session, user, API key, the objects it names) in one hop to a pool thread, and an
answer's later work runs on pool threads too; each hop gives PostgreSQL's connection back to the
pool as it ends.

SQLite's connections stay open on the pool threads, which live as long as the process: opening one
(Django's setup of a connection: its SQL functions and pragmas) cost 1.6 ms of CPU, and an answer
made eight hops.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import connection, connections

P = ParamSpec("P")
T = TypeVar("T")


def _releasing_connections(work: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Do the work, then close this thread's connections (with the pool: give them back), but for
    SQLite's when they are in a clean state."""
    try:
        return work(*args, **kwargs)
    finally:
        for used in connections.all(initialized_only=True):
            if used.vendor != "sqlite" or used.in_atomic_block or used.errors_occurred:
                used.close()


# SQLite lets one connection write at a time and makes the others sleep and try again, with longer
# sleeps each time: hundreds of answers writing at once spent seconds asleep. Their writes take
# turns on one thread instead. PostgreSQL writes from the pool.
_sqlite_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")


async def in_pool(work: Callable[..., T], /, *args, writes: bool = False, **kwargs) -> T:
    """Run database work in a pool thread, then release its connection (see the module docstring).

    A request's own work too: not in Django's thread for the request, which is made for each request
    and ends with it, so a connection opened there would be opened for every request. Answers run
    outside any request, where the async ORM would queue every query of every answer
    being streamed on one shared thread; and no connection is held while the model streams, so
    hundreds of answers at once do not need hundreds of database connections.
    """
    executor = _sqlite_writer if writes and connection.vendor == "sqlite" else None
    run = partial(_releasing_connections, work, *args, **kwargs)
    return await sync_to_async(run, thread_sensitive=False, executor=executor)()
