"""OIDC single sign-on settings, read from the environment and checked at start.

Endpoints are given explicitly (the provider's `/.well-known/openid-configuration` lists them): the
app never needs the provider on the network to start, and a typo is caught at start, not at the
first sign-in. OIDC is on when any OIDC_ variable that names the provider or the client is set; then
all the required ones must be, and the app stops naming the first one missing.
"""

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from chatsite.env import env_int, env_list, env_str, env_url

REQUIRED = (
    "OIDC_AUTHORIZATION_ENDPOINT",
    "OIDC_TOKEN_ENDPOINT",
    "OIDC_USERINFO_ENDPOINT",
    "OIDC_CLIENT_ID",
    "OIDC_CLIENT_SECRET",
)
# Asymmetric algorithms check the ID token against the provider's published keys (OIDC_JWKS_ENDPOINT);
# HS256 checks it with the client secret.
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "HS256")
_ENDPOINTS = (*REQUIRED[:3], "OIDC_JWKS_ENDPOINT", "OIDC_ISSUER")


@dataclass(frozen=True, kw_only=True)
class OidcConfig:
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_endpoint: str
    issuer: str
    client_id: str
    client_secret: str
    provider_name: str
    scopes: str
    signing_algorithm: str
    groups_claim: str
    # None: the groups the claim gives now or gave before (accounts/groups.py); ("*",): all of them.
    mirror_groups: tuple[str, ...] | None
    timeout_seconds: int


def oidc_config_from_env() -> OidcConfig | None:
    """The OIDC settings, or None when OIDC is not configured; ImproperlyConfigured naming the variable
    when it is configured by half or with a bad value."""
    if not any(env_str(name) for name in (*REQUIRED, "OIDC_JWKS_ENDPOINT", "OIDC_ISSUER")):
        return None
    missing = [name for name in REQUIRED if not env_str(name)]
    if missing:
        raise ImproperlyConfigured(f"{missing[0]} is not set; OIDC sign-in needs {', '.join(REQUIRED)}.")
    endpoints = {name: env_url(name, schemes=("https", "http")) for name in _ENDPOINTS}
    algorithm = env_str("OIDC_SIGN_ALGO", "RS256")
    if algorithm not in SIGNING_ALGORITHMS:
        raise ImproperlyConfigured(
            f"OIDC_SIGN_ALGO={algorithm!r} is not one of {', '.join(SIGNING_ALGORITHMS)}."
        )
    if not algorithm.startswith("HS") and not endpoints["OIDC_JWKS_ENDPOINT"]:
        raise ImproperlyConfigured(
            f"OIDC_JWKS_ENDPOINT is not set; it is needed to check {algorithm} ID tokens (OIDC_SIGN_ALGO)."
        )
    scopes = env_str("OIDC_SCOPES", "openid email profile")
    if "openid" not in scopes.split():
        raise ImproperlyConfigured(f"OIDC_SCOPES={scopes!r} must include openid.")
    return OidcConfig(
        authorization_endpoint=endpoints["OIDC_AUTHORIZATION_ENDPOINT"],
        token_endpoint=endpoints["OIDC_TOKEN_ENDPOINT"],
        userinfo_endpoint=endpoints["OIDC_USERINFO_ENDPOINT"],
        jwks_endpoint=endpoints["OIDC_JWKS_ENDPOINT"],
        issuer=endpoints["OIDC_ISSUER"],
        client_id=env_str("OIDC_CLIENT_ID"),
        client_secret=env_str("OIDC_CLIENT_SECRET"),
        provider_name=env_str("OIDC_PROVIDER_NAME", "SSO"),
        scopes=scopes,
        signing_algorithm=algorithm,
        groups_claim=env_str("OIDC_GROUPS_CLAIM", "groups"),
        mirror_groups=_mirror_groups(),
        timeout_seconds=env_int("OIDC_TIMEOUT_SECONDS", 10, minimum=1),
    )


def library_settings(config: OidcConfig) -> dict[str, Any]:
    """The settings mozilla-django-oidc reads, for `config`."""
    return {
        "OIDC_OP_AUTHORIZATION_ENDPOINT": config.authorization_endpoint,
        "OIDC_OP_TOKEN_ENDPOINT": config.token_endpoint,
        "OIDC_OP_USER_ENDPOINT": config.userinfo_endpoint,
        "OIDC_OP_JWKS_ENDPOINT": config.jwks_endpoint or None,
        "OIDC_RP_CLIENT_ID": config.client_id,
        "OIDC_RP_CLIENT_SECRET": config.client_secret,
        "OIDC_RP_SIGN_ALGO": config.signing_algorithm,
        "OIDC_RP_SCOPES": config.scopes,
        "OIDC_USE_PKCE": True,
        "OIDC_TIMEOUT": config.timeout_seconds,
    }


def _mirror_groups() -> tuple[str, ...] | None:
    names = env_list("OIDC_MIRROR_GROUPS", [])
    if "*" in names and len(names) > 1:
        raise ImproperlyConfigured("OIDC_MIRROR_GROUPS is either * or a list of group names, not both.")
    return tuple(names) or None


def current() -> OidcConfig:
    """The OIDC configuration of a process where single sign-on is on (its views and backend run only
    then); ImproperlyConfigured if asked for while it is off."""
    config: OidcConfig | None = settings.OIDC_CONFIG
    if config is None:
        raise ImproperlyConfigured("OIDC sign-in is not configured.")
    return config
