"""The least a Django ASGI app can do for a chat stream: no middleware, no database. Served by
benchmarks/asgi_floor.py and benchmarks/part_floors.py.

- `/`: opens an event stream and sends one event.
- `/relay`: relays the model's stream from FLOOR_UPSTREAM (benchmarks/paced_upstream.py) to the
  client untouched, each read from aiohttp written as it came: what relaying an answer costs
  before anything reads, screens, saves or re-encodes a token.
"""

import json
import os

from django.conf import settings

settings.configure(
    DEBUG=False, ROOT_URLCONF=__name__, ALLOWED_HOSTS=["*"], MIDDLEWARE=[], SECRET_KEY="floor-only"
)

from collections.abc import AsyncIterator  # noqa: E402

import aiohttp  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402
from django.http import HttpRequest, StreamingHttpResponse  # noqa: E402
from django.urls import path  # noqa: E402

UPSTREAM = os.environ.get("FLOOR_UPSTREAM", "")
QUESTION = {"model": "deepseek-reasoner", "messages": [{"role": "user", "content": "floor"}], "stream": True}
_pool: list[aiohttp.ClientSession] = []


async def _one_event() -> AsyncIterator[bytes]:
    yield b"event: meta\ndata: {}\n\n"


async def stream(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(_one_event(), content_type="text/event-stream")


async def _relayed() -> AsyncIterator[bytes]:
    if not _pool:
        _pool.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1000)))
    headers = {"Content-Type": "application/json", "Authorization": "Bearer floor"}
    async with _pool[0].post(
        f"{UPSTREAM}/chat/completions", data=json.dumps(QUESTION), headers=headers
    ) as reply:
        async for data in reply.content.iter_any():
            yield data


async def relay(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(_relayed(), content_type="text/event-stream")


urlpatterns = [path("", stream), path("relay", relay)]
application = get_asgi_application()
