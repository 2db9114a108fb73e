"""API keys: creating, revoking, and finding the key a request presents."""

import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone

from api.models import ApiKey

KEY_PREFIX = "kb-"
VISIBLE_CHARS = 10
# Recording every use would write to the database on every request; once a minute says enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _digest(secret: str) -> str:
    # Keys are 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_create(*, user, name: str) -> tuple[ApiKey, str]:
    """A new key for the user, and its secret (the only time the secret is known)."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(user=user, name=name, prefix=secret[:VISIBLE_CHARS], digest=_digest(secret))
    return key, secret


def api_key_revoke(*, api_key: ApiKey) -> None:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])


def api_key_for_secret(secret: str) -> ApiKey | None:
    """The active key with this secret, its use recorded; None for unknown or revoked keys."""
    key = ApiKey.objects.active().select_related("user").filter(digest=_digest(secret)).first()
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(id=key.id).update(last_used_at=now)
        key.last_used_at = now
    return key
