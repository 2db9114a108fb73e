"""A strict Content Security Policy on every response that does not set its own.

Pages run only scripts and style sheets from our origin: no inline script, event-handler attribute
or style attribute, so markup that slips through (an answer, a document title) cannot act or dress
itself up, and a page cannot be framed or post its forms elsewhere. Uploaded originals set their own,
stricter policy (knowledge/originals.py).

Sync- and async-capable, as chatsite.static_files is: a sync-only middleware would send every
request through a thread and back.
"""

from collections.abc import Callable
from functools import wraps

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def policy(**changes: str) -> str:
    """The site's policy with some directives changed (img_src="…" for img-src)."""
    directives = DIRECTIVES | {name.replace("_", "-"): value for name, value in changes.items()}
    return "; ".join(f"{name} {value}" for name, value in directives.items())


POLICY = policy()


def with_policy(view_policy: str) -> Callable:
    """A (sync) view decorator: the view's responses carry this policy instead of the site's."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def view_with_policy(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
            response = view(request, *args, **kwargs)
            response.headers["Content-Security-Policy"] = view_policy
            return response

        return view_with_policy

    return decorator


class ContentSecurityPolicyMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        return self._acall(request) if self._async else _with_policy(self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        return _with_policy(await self.get_response(request))


def _with_policy(response: HttpResponseBase) -> HttpResponseBase:
    response.headers.setdefault("Content-Security-Policy", POLICY)
    return response
