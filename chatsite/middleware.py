"""The base of our middleware: on the event loop under ASGI, in the request's thread under WSGI.

Django runs a sync-only middleware in a thread and the rest of the chain back on the event loop, so
under ASGI every request would pay two thread hops and hold a thread while it ran; with hundreds of
chat streams starting at once those hops were most of the time before an answer began.
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase


class DualModeMiddleware:
    """Subclasses implement `handle` (sync) and `ahandle` (async) around `self.get_response`."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        return self.ahandle(request) if self._async else self.handle(request)

    def handle(self, request: HttpRequest) -> HttpResponseBase:
        raise NotImplementedError

    async def ahandle(self, request: HttpRequest) -> HttpResponseBase:
        raise NotImplementedError
