"""The origins a widget may be embedded on: written one per line as scheme://host[:port], checked
against the Origin a browser sends (CORS) and the page that frames the widget (Referer, or the
Sec-Fetch headers of an iframe's navigation).

An origin is compared as browsers serialise it: lower case, without a default port or a trailing
slash. No wildcards: a widget that answers from a company's documents names the pages that host it.
"""

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _

MAX_ORIGINS = 50
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalised_origin(text: str) -> str | None:
    """`text` as a browser serialises an origin, or None when it is not a bare http(s) origin."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in _DEFAULT_PORTS or not host or "*" in host or parts.username or parts.password:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + (f":{port}" if port and port != _DEFAULT_PORTS[scheme] else "")


def parse_origins(text: str) -> list[str]:
    """The origins written one per line in `text`, normalised; a ValidationError names a bad line."""
    origins: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        origin = normalised_origin(line)
        if origin is None:
            raise ValidationError(
                _("%(line)s is not an origin: write scheme://host or scheme://host:port, without a path.")
                % {"line": line.strip()[:200]}
            )
        if origin not in origins:
            origins.append(origin)
    if not origins:
        raise ValidationError(_("Name at least one origin that may embed the widget."))
    if len(origins) > MAX_ORIGINS:
        raise ValidationError(_("Name at most %(max)d origins.") % {"max": MAX_ORIGINS})
    return origins


def request_origin(request: HttpRequest) -> str | None:
    """The Origin a cross-origin request came with (fetch, CORS), normalised."""
    return normalised_origin(request.headers.get("Origin", ""))


def embedding_origin(request: HttpRequest) -> str | None:
    """The origin of the page that frames this navigation: its Referer's (browsers send at least the
    origin to another origin, by default). A navigation the browser says is not for an iframe, or
    with no Referer, has none."""
    if request.headers.get("Sec-Fetch-Dest", "iframe") != "iframe":
        return None
    referer = request.headers.get("Referer", "")
    try:
        parts = urlsplit(referer)
    except ValueError:
        return None
    return normalised_origin(f"{parts.scheme}://{parts.netloc}") if parts.netloc else None
