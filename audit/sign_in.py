"""Sign-ins, failed sign-ins and sign-outs, from Django's own signals: they fire for every way of
signing in (local accounts, LDAP, OIDC), so no sign-in path records them itself."""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.http import HttpRequest

from audit.log import record
from audit.models import Event


def _signed_in(sender: Any, *, request: HttpRequest | None, user: Any, **_kwargs: Any) -> None:
    # How: the authentication backend that accepted the user (local accounts, LDAP, OIDC).
    record(Event.Kind.SIGN_IN, user=user, request=request, backend=getattr(user, "backend", "") or "")


def _sign_in_failed(
    sender: Any, *, credentials: dict, request: HttpRequest | None = None, **_kwargs: Any
) -> None:
    # Only the name given: Django has already masked the password in `credentials`, and it stays out.
    record(Event.Kind.SIGN_IN_FAILED, username=str(credentials.get("username", "")), request=request)


def _signed_out(sender: Any, *, request: HttpRequest | None, user: Any, **_kwargs: Any) -> None:
    if user is not None:  # signing out when not signed in is nothing
        record(Event.Kind.SIGN_OUT, user=user, request=request)


def connect() -> None:
    user_logged_in.connect(_signed_in, dispatch_uid="audit.sign_in")
    user_login_failed.connect(_sign_in_failed, dispatch_uid="audit.sign_in_failed")
    user_logged_out.connect(_signed_out, dispatch_uid="audit.sign_out")
