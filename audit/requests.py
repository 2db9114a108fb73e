"""The request being served, for audit records made where no request is at hand (signal receivers).

The middleware keeps it in a context variable for the length of the view, sync or async; outside a
request (a worker, a command) there is none."""

from collections.abc import Awaitable, Callable
from contextvars import ContextVar

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponseBase
from django.utils.decorators import sync_and_async_middleware

_current: ContextVar[HttpRequest | None] = ContextVar("audit_request", default=None)


def current() -> HttpRequest | None:
    return _current.get()


@sync_and_async_middleware
def remember_request(get_response: Callable) -> Callable:
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponseBase:
            token = _current.set(request)
            try:
                response: Awaitable[HttpResponseBase] = get_response(request)
                return await response
            finally:
                _current.reset(token)

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponseBase:
        token = _current.set(request)
        try:
            return get_response(request)
        finally:
            _current.reset(token)

    return middleware
