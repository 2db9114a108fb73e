"""What every response gets on its way out: the site's Content Security Policy unless the view set
its own (chatsite.content_security), and, on a request that came over HTTPS, Secure cookies.

Cookies are marked per request, so `make run` on http://127.0.0.1 keeps working while a deployment
behind TLS gets Secure cookies with no setting to forget. Behind a proxy that terminates TLS,
uvicorn must trust the proxy (FORWARDED_ALLOW_IPS) for its requests to count as HTTPS.

It sits outside the middleware that sets cookies.
"""

from django.http import HttpRequest, HttpResponseBase

from chatsite.content_security import POLICY
from chatsite.middleware import DualModeMiddleware


class ResponseSecurityMiddleware(DualModeMiddleware):
    def handle(self, request: HttpRequest) -> HttpResponseBase:
        return _secured(request, self.get_response(request))

    async def ahandle(self, request: HttpRequest) -> HttpResponseBase:
        return _secured(request, await self.get_response(request))


def _secured(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    response.headers.setdefault("Content-Security-Policy", POLICY)
    if request.is_secure():
        for cookie in response.cookies.values():
            cookie["secure"] = True
    return response
