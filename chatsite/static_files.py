"""WhiteNoise's static file serving, in the async request path as well as the sync one.

WhiteNoise's middleware is sync-only. Under ASGI, Django runs a sync middleware in a thread and the
rest of the chain back on the event loop, so every request, not only those for static files, paid
two thread hops and held a thread while it ran. With hundreds of chat streams starting at once
those hops were most of the time before an answer began.
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        super().__init__(get_response)
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        return self._acall(request) if self._async else super().__call__(request)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        # The same lookup as WhiteNoise's own __call__: a dictionary, or the disk when autorefresh
        # (DEBUG) is on.
        path = request.path_info
        static_file = self.find_file(path) if self.autorefresh else self.files.get(path)
        if static_file is not None:
            return self.serve(static_file, request)
        return await self.get_response(request)
