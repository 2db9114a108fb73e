"""Who an MCP request comes from, checked before the MCP server sees it: the `Authorization: Bearer
<key>` of the REST API and /v1 (api/authentication.py), the Host of Django's ALLOWED_HOSTS, and the
API's rate limits per key and per user (api/throttles.py), counted per HTTP request.

A missing, unknown or revoked key is a 401 with a challenge; over a limit, a 429 with Retry-After.
The key is looked up on every request, so a revoked key stops working at once; the tools find it
in the request's scope (`api_key_of`).
"""

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.utils.translation.trans_real import get_supported_language_variant, parse_accept_lang_header

from api.models import ApiKey
from api.services import api_key_for_secret
from api.throttles import ApiKeyRateThrottle, ApiUserRateThrottle
from chat import rate_limits
from chatsite.db_threads import in_pool
from chatsite.lifespan import ASGIApp, Receive, Scope, Send

SCOPE_KEY = "kbchat.api_key"  # where the request's scope carries the key for the tools
CHALLENGE = 'Bearer realm="mcp"'


def api_key_of(scope: Mapping[str, Any]) -> ApiKey:
    """The key a request to the MCP server was authorised with (every request that reaches it was)."""
    return scope[SCOPE_KEY]


def _header(scope: Scope, name: bytes) -> str:
    return next((value.decode("latin-1") for key, value in scope["headers"] if key == name), "")


def language_of(headers: Mapping[str, str] | None) -> str:
    """The language the client asks for (Accept-Language) among the app's, as Django's
    LocaleMiddleware picks it for the REST API; the default language otherwise."""
    for code, _quality in parse_accept_lang_header((headers or {}).get("accept-language", "")):
        try:
            return get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


def _secret(scope: Scope) -> str | None:
    scheme, _space, secret = _header(scope, b"authorization").partition(" ")
    secret = secret.strip()
    return secret if scheme.lower() == "bearer" and secret and " " not in secret else None


def _seconds_to_wait(key: ApiKey) -> int | None:
    """One use of the key's and its user's API budgets; the seconds to wait when either is spent."""
    for limit, who in ((ApiKeyRateThrottle.limit, key.id), (ApiUserRateThrottle.limit, key.user_id)):
        if wait := rate_limits.seconds_to_wait(limit, str(who)):
            return wait
    return None


async def _refuse(send: Send, status: int, message: str, headers: dict[str, str]) -> None:
    body = json.dumps({"error": message}, ensure_ascii=False).encode()
    fields = {"content-type": "application/json; charset=utf-8", "content-length": str(len(body))} | headers
    raw = [(name.encode(), value.encode()) for name, value in fields.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def authorised(app: ASGIApp) -> ASGIApp:
    """`app`, reached only by requests with an active API key, an allowed Host, and budget left."""

    async def application(scope: Scope, receive: Receive, send: Send) -> None:
        language = language_of({"accept-language": _header(scope, b"accept-language")})
        with translation.override(language):
            host, _port = split_domain_port(_header(scope, b"host"))
            if not validate_host(host, settings.ALLOWED_HOSTS):
                return await _refuse(send, 400, _("This host is not served here."), {})
            secret = _secret(scope)
            key = None if secret is None else await in_pool(api_key_for_secret, secret, writes=True)
            if key is None:
                message = _("Send an active API key as “Authorization: Bearer <key>”.")
                return await _refuse(send, 401, message, {"www-authenticate": CHALLENGE})
            if wait := await asyncio.to_thread(_seconds_to_wait, key):
                message = ngettext(
                    "Too many requests in a short time. Try again in %(seconds)d second.",
                    "Too many requests in a short time. Try again in %(seconds)d seconds.",
                    wait,
                ) % {"seconds": wait}
                return await _refuse(send, 429, message, {"retry-after": str(wait)})
        await app({**scope, SCOPE_KEY: key}, receive, send)

    return application
