"""Where the async request path does its database work, so that no connection is held while an
answer streams.

Django keeps a thread's connection open until the request ends, which for a streaming answer is
minutes later; with PostgreSQL's pool (DATABASE_POOL_SIZE) a process then runs out of connections at
about as many open streams, and every request after waits for one. So a request does its own
database work (session, user, API key, the objects it names) in one hop to its thread and gives the
connection back at the end of it, and an answer's later work runs on pool threads that hold a
connection only while they query.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import connection, connections

P = ParamSpec("P")
T = TypeVar("T")


def _closing_connections(work: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Do the work, then close this thread's connections (with the pool: give them back)."""
    try:
        return work(*args, **kwargs)
    finally:
        connections.close_all()


async def in_request_thread(work: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run the request's database work in the request's thread, then give its connection back."""
    return await sync_to_async(partial(_closing_connections, work, *args, **kwargs))()


# SQLite lets one connection write at a time and makes the others sleep and try again, with longer
# sleeps each time: hundreds of answers writing at once spent seconds asleep. Their writes take
# turns on one thread instead. PostgreSQL writes from the pool.
_sqlite_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")


async def in_pool(work: Callable[..., T], /, *, writes: bool = False, **kwargs) -> T:
    """Run database work in a pool thread and close its connection after.

    Answers run outside any request, where the async ORM would queue every query of every answer
    being streamed on one shared thread; and no connection is held while the model streams, so
    hundreds of answers at once do not need hundreds of database connections.
    """
    executor = _sqlite_writer if writes and connection.vendor == "sqlite" else None
    run = partial(_closing_connections, work, **kwargs)
    return await sync_to_async(run, thread_sensitive=False, executor=executor)()
