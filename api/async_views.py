"""DRF views whose handlers are coroutines, for answers that stream for minutes.

DRF's views are synchronous; a streaming answer held by a thread would cap a process at its
thread pool. `AsyncAPIView` runs DRF's own authentication, permission and throttle checks (which
touch the database and cache) in a worker thread, then awaits the handler on the event loop, so the
async endpoints are authenticated, limited, documented and their errors shaped exactly like the
synchronous ones.
"""

import asyncio

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponseBase
from rest_framework.views import APIView


class AsyncAPIView(APIView):
    async def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponseBase:  # type: ignore[override]
        self.args, self.kwargs = args, kwargs
        drf_request = self.initialize_request(request, *args, **kwargs)
        self.request = drf_request
        self.headers = self.default_response_headers
        try:
            await sync_to_async(self.initial)(drf_request, *args, **kwargs)
            method = drf_request.method.lower() if drf_request.method else ""
            handler = getattr(self, method, None) if method in self.http_method_names else None
            handler = handler or self.http_method_not_allowed
            if asyncio.iscoroutinefunction(handler):
                response = await handler(drf_request, *args, **kwargs)
            else:
                response = await sync_to_async(handler)(drf_request, *args, **kwargs)
        except Exception as exc:
            response = self.handle_exception(exc)
        self.response = self.finalize_response(drf_request, response, *args, **kwargs)
        return self.response
