"""The secrets of a token-mode widget, and the signed values that stand for who asks.

A widget's secret (shown once in the admin, stored as its SHA-256 digest) lets the host page's
backend ask for a user token: a signed (widget key, user id) valid TOKEN_SECONDS, which the page puts
in its script tag and the loader hands to the panel. A ticket is signed into the panel's page and sent
back with each question: it binds the question to the widget and to the person the page was made
for, which is what a CSRF token does for the rest of the app (the panel is framed by another site,
where the CSRF cookie is not sent).
"""

import hmac
import secrets

from django.contrib.auth.models import User
from django.core import signing
from django.db.models import Q

from chatsite.digests import secret_digest
from widgets.models import Widget

TOKEN_SECONDS = 5 * 60
TICKET_SECONDS = 12 * 3600
_TOKEN_SALT = "widgets.user-token"
_TICKET_SALT = "widgets.ticket"


def widget_new_secret(*, widget: Widget) -> str:
    """A new secret for `widget` (the old one stops working); returned once, only its digest kept."""
    secret = "wgs_" + secrets.token_urlsafe(32)
    widget.secret_digest = secret_digest(secret)
    widget.save(update_fields=["secret_digest"])
    return secret


def secret_matches(widget: Widget, secret: str) -> bool:
    return bool(widget.secret_digest) and hmac.compare_digest(widget.secret_digest, secret_digest(secret))


def user_token(*, widget: Widget, user: User) -> str:
    return signing.dumps({"w": widget.key, "u": user.pk}, salt=_TOKEN_SALT, compress=True)


def token_user(*, widget: Widget, token: str) -> User | None:
    """The active user a token of this widget, signed within TOKEN_SECONDS, stands for; else None."""
    try:
        value = signing.loads(token, salt=_TOKEN_SALT, max_age=TOKEN_SECONDS)
    except signing.BadSignature:
        return None
    if not isinstance(value, dict) or value.get("w") != widget.key or not isinstance(value.get("u"), int):
        return None
    return User.objects.filter(pk=value["u"], is_active=True).first()


def named_user(name: str) -> User | None:
    """The one active user with this username or e-mail address."""
    found = list(User.objects.filter(Q(username=name) | Q(email__iexact=name), is_active=True)[:2])
    return found[0] if len(found) == 1 else None


def ticket(*, widget: Widget, user: User | None) -> str:
    return signing.dumps({"w": widget.key, "u": user.pk if user else None}, salt=_TICKET_SALT)


def ticket_valid(*, widget: Widget, user: User | None, value: str) -> bool:
    """Whether `value` is a ticket of this widget's page for `user` (None: nobody signed in)."""
    try:
        signed = signing.loads(value, salt=_TICKET_SALT, max_age=TICKET_SECONDS)
    except signing.BadSignature:
        return False
    return signed == {"w": widget.key, "u": user.pk if user else None}
