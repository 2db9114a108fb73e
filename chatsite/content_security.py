"""A strict Content Security Policy on every response that does not set its own.

Pages run only scripts and style sheets from our origin: no inline script, event-handler attribute
or style attribute, so markup that slips through (an answer, a document title) cannot act or dress
itself up, and a page cannot be framed or post its forms elsewhere. Uploaded originals set their own,
stricter policy (knowledge/originals.py).
chatsite.response_security puts it on responses.
"""

from collections.abc import Callable
from functools import wraps

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
