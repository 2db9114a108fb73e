"""OIDC single sign-on: the authentication backend (mozilla-django-oidc's, authorization code flow with
PKCE) and what a sign-in does to the local user.

A user is found by the provider's subject (`sub`), created at the first sign-in, and given the
provider's name, e-mail address and groups at every sign-in. Claims come from the ID token and the
userinfo endpoint together: some providers put groups in one only (Entra ID in the ID token).
"""

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.http import HttpRequest
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from accounts import oidc_config
from accounts.groups import claimed_group_names, mirror_groups
from accounts.models import OidcIdentity

# The lengths of django.contrib.auth's User fields: first_name and last_name, username, email.
_NAME_LENGTH, _USERNAME_LENGTH, _EMAIL_LENGTH = 150, 150, 254


class OidcBackend(OIDCAuthenticationBackend):
    """Signs in the user the provider vouches for; called by the callback view alone."""

    def authenticate(self, request: HttpRequest | None, **credentials: Any) -> User | None:
        # The callback passes exactly these two; a password sign-in (or anything else) is not ours.
        if set(credentials) != {"nonce", "code_verifier"} or credentials["nonce"] is None:
            return None
        return super().authenticate(request, **credentials)

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        """The library checks the signature and the nonce; an ID token must also be meant for this
        client and, when OIDC_ISSUER is set, come from that issuer."""
        payload = super().verify_token(token, **kwargs)
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if oidc_config.current().client_id not in audiences:
            raise SuspiciousOperation("The ID token is meant for another client (aud).")
        issuer = oidc_config.current().issuer
        if issuer and payload.get("iss") != issuer:
            raise SuspiciousOperation("The ID token comes from another issuer (iss).")
        return payload

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> User:
        userinfo = self.get_userinfo(access_token, id_token, payload)
        if not isinstance(userinfo, dict) or userinfo.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("The userinfo answer is about another subject than the ID token.")
        return oidc_user_sign_in(claims={**payload, **userinfo})


def oidc_user_sign_in(*, claims: dict[str, Any]) -> User:
    """The user the provider's `claims` describe, created if new, with name, e-mail and groups
    brought up to date."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not 0 < len(subject) <= 255:
        raise SuspiciousOperation("The provider sent no usable subject (sub).")
    config = oidc_config.current()
    with transaction.atomic():
        identity = (
            OidcIdentity.objects.select_for_update().select_related("user").filter(subject=subject).first()
        )
        if identity is None:
            user = User.objects.create_user(_free_username(claims))
            identity = OidcIdentity(user=user, subject=subject)
        user = identity.user
        _copy_profile(user=user, claims=claims)
        claimed = claimed_group_names(claims.get(config.groups_claim))
        mirror_groups(
            user=user, claimed=claimed, claimed_before=identity.claimed_groups, managed=config.mirror_groups
        )
        identity.claimed_groups = claimed
        identity.save()
    return user


def _copy_profile(*, user: User, claims: dict[str, Any]) -> None:
    given, family, name = (_text(claims, key, _NAME_LENGTH) for key in ("given_name", "family_name", "name"))
    user.first_name, user.last_name = (given, family) if given or family else (name, "")
    user.email = _text(claims, "email", _EMAIL_LENGTH)
    user.save()


def _free_username(claims: dict[str, Any]) -> str:
    """The provider's user name (or e-mail address, or subject), with a number added when a local
    account already has it: the subject, not the name, ties the two together."""
    base = _text(claims, "preferred_username", _USERNAME_LENGTH - 4) or _text(
        claims, "email", _USERNAME_LENGTH - 4
    )
    base = base or str(claims["sub"])[: _USERNAME_LENGTH - 4]
    candidate, number = base, 1
    while User.objects.filter(username__iexact=candidate).exists():
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def _text(claims: dict[str, Any], key: str, length: int) -> str:
    value = claims.get(key)
    return value.strip()[:length] if isinstance(value, str) else ""
