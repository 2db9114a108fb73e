"""Writing to the audit log: `record(kind, ...)` from anywhere that does something worth auditing."""

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpRequest

from audit.models import Event

SUMMARY_CHARS = 500
TARGET_CHARS = 200


def record(
    kind: Event.Kind,
    *,
    user: User | AnonymousUser | None = None,
    username: str = "",
    request: HttpRequest | None = None,
    target: str = "",
    summary: str = "",
    **detail: Any,
) -> Event:
    """Append one event. `user` defaults to the request's user; `username` names someone who is not a
    user (a failed sign-in). `detail` must be JSON-serialisable."""
    if user is None and request is not None:
        user = getattr(request, "user", None)
    if user is not None and not user.is_authenticated:
        user = None
    return Event.objects.create(
        kind=kind,
        user=user,
        username=(user.get_username() if user is not None else username)[:150],
        ip=_client_address(request),
        target=target[:TARGET_CHARS],
        summary=summary[:SUMMARY_CHARS],
        detail=detail,
    )


def _client_address(request: HttpRequest | None) -> str | None:
    """The peer address the server saw (a proxy in front is configured at the server, not trusted from
    headers here)."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None
