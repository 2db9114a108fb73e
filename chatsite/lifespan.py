"""The ASGI lifespan protocol, which Django does not speak: work done before the server listens, and
after it has stopped taking requests."""

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any

logger = logging.getLogger(__name__)

# As Django's ASGIHandler spells them.
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# A plain function runs in a thread (loading a model must not hold the loop); a coroutine function
# runs on the server's loop (what must be done there: signal handlers, tasks of its own).
Startup = Callable[[], None] | Callable[[], Awaitable[None]]
Shutdown = Startup


async def _run(step: Startup) -> None:
    if inspect.iscoroutinefunction(step):
        await step()
    else:
        await asyncio.to_thread(step)


def with_lifespan(
    app: ASGIApp, *, startup: Sequence[Startup] = (), shutdown: Sequence[Shutdown] = ()
) -> ASGIApp:
    """`app`, with `startup` run in order when the server starts and before it takes requests, and
    `shutdown` in order once it has stopped taking them. A startup that raises fails the server's
    start, so a broken setting shows at once; a shutdown that raises is logged and the rest still run."""

    async def application(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    for step in startup:
                        await _run(step)
                except Exception as error:
                    logger.exception("Start-up failed.")
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for stop in shutdown:
                    try:
                        await _run(stop)
                    except Exception:
                        logger.exception("Shutting down failed in %s.", getattr(stop, "__qualname__", stop))
                await send({"type": "lifespan.shutdown.complete"})
                return

    return application


def entered(context: Callable[[], AbstractAsyncContextManager[Any]]) -> tuple[Startup, Shutdown]:
    """A start-up that enters the async context manager `context()` makes, and the shutdown that
    exits it. Both run on the lifespan's own task, as a context holding a task group must."""
    stack = AsyncExitStack()

    async def enter() -> None:
        await stack.enter_async_context(context())

    async def exit_() -> None:
        await stack.aclose()

    return enter, exit_
