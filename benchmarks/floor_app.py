"""The least a Django ASGI app can do for a chat stream: no middleware, no database, one async view
that opens an event stream and sends one event. Served by benchmarks/asgi_floor.py."""

from django.conf import settings

settings.configure(
    DEBUG=False, ROOT_URLCONF=__name__, ALLOWED_HOSTS=["*"], MIDDLEWARE=[], SECRET_KEY="floor-only"
)

from collections.abc import AsyncIterator  # noqa: E402

from django.core.asgi import get_asgi_application  # noqa: E402
from django.http import HttpRequest, StreamingHttpResponse  # noqa: E402
from django.urls import path  # noqa: E402


async def _one_event() -> AsyncIterator[bytes]:
    yield b"event: meta\ndata: {}\n\n"


async def stream(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(_one_event(), content_type="text/event-stream")


urlpatterns = [path("", stream)]
application = get_asgi_application()
