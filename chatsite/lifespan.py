"""The ASGI lifespan protocol, which Django does not speak: work done before the server listens."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

logger = logging.getLogger(__name__)

# As Django's ASGIHandler spells them.
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def with_startup(app: ASGIApp, startup: Callable[[], None]) -> ASGIApp:
    """`app`, with `startup` run (in a thread) when the server starts and before it takes requests.
    A startup that raises fails the server's start, so a broken setting shows at once."""

    async def application(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await asyncio.to_thread(startup)
                except Exception as error:
                    logger.exception("Start-up failed.")
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    return application
