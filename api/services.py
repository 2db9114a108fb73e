"""API keys: creating, revoking, and finding the key a request presents."""

import secrets
from datetime import timedelta

from django.utils import timezone

from api.models import ApiKey
from audit.log import record
from audit.models import Event
from chatsite.digests import secret_digest

KEY_PREFIX = "kb-"
VISIBLE_CHARS = 10
# Recording every use would write to the database on every request; once a minute says enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def api_key_create(*, user, name: str) -> tuple[ApiKey, str]:
    """A new key for the user, and its secret (the only time the secret is known)."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        user=user, name=name, prefix=secret[:VISIBLE_CHARS], digest=secret_digest(secret)
    )
    record(Event.Kind.API_KEY_CREATED, user=user, target=f"api_key:{key.id}", summary=name, prefix=key.prefix)
    return key, secret


def api_key_revoke(*, api_key: ApiKey, user=None) -> None:
    """Revoke the key; `user` did (its owner, or an administrator; None: a command)."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        record(
            Event.Kind.API_KEY_REVOKED,
            user=user,
            target=f"api_key:{api_key.id}",
            summary=api_key.name,
            prefix=api_key.prefix,
            owner=api_key.user.get_username(),
        )


def api_key_for_secret(secret: str) -> ApiKey | None:
    """The active key with this secret, its use recorded; None for unknown or revoked keys."""
    key = ApiKey.objects.active().select_related("user").filter(digest=secret_digest(secret)).first()
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(id=key.id).update(last_used_at=now)
        key.last_used_at = now
    return key
