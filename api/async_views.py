"""DRF views whose answers stream for minutes without holding a thread or a database connection.

DRF's views are synchronous; a streaming answer held by a thread would cap a process at its
thread pool, and one holding the request's database connection would cap it at the connection pool.
An `AsyncAPIView`'s handler is a plain method that runs with DRF's own authentication, permission
and throttle checks in one hop to a pool thread (chatsite.db_threads): it validates the input,
looks up what it needs and returns a response, or an awaitable of one for the long work. The hop's
connection is released as it ends, and the awaitable runs on the event loop, where
the answer's database work goes through pool threads. So the async endpoints are authenticated,
limited, documented and their errors shaped exactly like the synchronous ones.
"""

import inspect
from collections.abc import Awaitable

from django.http import HttpRequest, HttpResponseBase
from rest_framework.request import Request
from rest_framework.views import APIView

from chatsite.db_threads import in_pool

Handled = HttpResponseBase | Awaitable[HttpResponseBase]


class AsyncAPIView(APIView):
    view_is_async = True  # Django awaits `dispatch`, whatever the handlers are

    async def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponseBase:  # type: ignore[override]
        self.args, self.kwargs = args, kwargs
        drf_request = self.initialize_request(request, *args, **kwargs)
        self.request = drf_request
        self.headers = self.default_response_headers
        try:
            response = await in_pool(self._handle, drf_request, *args, **kwargs)
            if inspect.isawaitable(response):
                response = await response
        except Exception as exc:
            response = self.handle_exception(exc)
        # The stubs ask for a Response; DRF finalizes any HttpResponseBase (a stream, here).
        self.response = self.finalize_response(drf_request, response, *args, **kwargs)  # type: ignore[arg-type]
        return self.response

    def _handle(self, request: Request, *args, **kwargs) -> Handled:
        self.initial(request, *args, **kwargs)
        method = request.method.lower() if request.method else ""
        handler = getattr(self, method, None) if method in self.http_method_names else None
        return (handler or self.http_method_not_allowed)(request, *args, **kwargs)
