"""Cookies set on a request that came over HTTPS are marked Secure, so a browser never sends them
over plain HTTP. Deciding per request keeps `make run` on http://127.0.0.1 working while a
deployment behind TLS gets Secure cookies with no setting to forget. Behind a proxy that terminates
TLS, uvicorn must trust the proxy (FORWARDED_ALLOW_IPS) for requests to count as HTTPS."""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase


class HttpsCookiesMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if self._async:
            return self._acall(request)
        return _secured(request, self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        return _secured(request, await self.get_response(request))


def _secured(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    if request.is_secure():
        for cookie in response.cookies.values():
            cookie["secure"] = True
    return response
