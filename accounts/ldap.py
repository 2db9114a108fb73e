"""LDAP / Active Directory sign-in (django-auth-ldap): its settings, built from LDAP_* environment
variables and checked at start, so that a half-configured directory stops the app naming what is
missing instead of failing people's sign-ins later.

Users are found either by a search (a service account binds, searches LDAP_USER_SEARCH_BASE with
LDAP_USER_FILTER, then the user's own DN is bound with their password) or by a DN template (the
user's DN is built from the name typed and bound directly). Names and e-mail are copied from the
directory at every sign-in; so are the memberships of the Django groups LDAP_MIRROR_GROUPS names,
which decide the knowledge bases a person may read.
"""

from pathlib import Path
from typing import Any

import ldap
from django.core.exceptions import ImproperlyConfigured
from django_auth_ldap.config import (
    ActiveDirectoryGroupType,
    GroupOfNamesType,
    GroupOfUniqueNamesType,
    LDAPGroupType,
    LDAPSearch,
    NestedActiveDirectoryGroupType,
    NestedGroupOfNamesType,
    NestedGroupOfUniqueNamesType,
    PosixGroupType,
)

from chatsite.env import env_bool, env_int, env_list, env_str

BACKEND = "accounts.ldap_backend.DirectoryBackend"
# Each LDAP_GROUP_TYPE: the django-auth-ldap class that reads memberships, and the filter that
# finds group entries under LDAP_GROUP_SEARCH_BASE unless LDAP_GROUP_FILTER gives another.
GROUP_TYPES: dict[str, tuple[type[LDAPGroupType], str]] = {
    "groupOfNames": (GroupOfNamesType, "(objectClass=groupOfNames)"),
    "nestedGroupOfNames": (NestedGroupOfNamesType, "(objectClass=groupOfNames)"),
    "groupOfUniqueNames": (GroupOfUniqueNamesType, "(objectClass=groupOfUniqueNames)"),
    "nestedGroupOfUniqueNames": (NestedGroupOfUniqueNamesType, "(objectClass=groupOfUniqueNames)"),
    "posixGroup": (PosixGroupType, "(objectClass=posixGroup)"),
    "activeDirectory": (ActiveDirectoryGroupType, "(objectClass=group)"),
    "nestedActiveDirectory": (NestedActiveDirectoryGroupType, "(objectClass=group)"),
}
# Every variable read here: setting any of them without LDAP_SERVER_URI is a mistake worth stopping for.
VARIABLES = (
    "LDAP_SERVER_URI",
    "LDAP_START_TLS",
    "LDAP_CA_CERT_FILE",
    "LDAP_TIMEOUT_SECONDS",
    "LDAP_BIND_DN",
    "LDAP_BIND_PASSWORD",
    "LDAP_USER_DN_TEMPLATE",
    "LDAP_USER_SEARCH_BASE",
    "LDAP_USER_FILTER",
    "LDAP_ATTR_FIRST_NAME",
    "LDAP_ATTR_LAST_NAME",
    "LDAP_ATTR_EMAIL",
    "LDAP_GROUP_SEARCH_BASE",
    "LDAP_GROUP_TYPE",
    "LDAP_GROUP_FILTER",
    "LDAP_GROUP_NAME_ATTR",
    "LDAP_MIRROR_GROUPS",
)


def with_ldap_backend(backends: list[str]) -> list[str]:
    """AUTHENTICATION_BACKENDS with LDAP's after the sign-in throttle's, so that directory sign-ins
    are throttled and counted too, and before the others (local accounts), which keep working."""
    after = backends.index("axes.backends.AxesStandaloneBackend") + 1
    return [*backends[:after], BACKEND, *backends[after:]]


def ldap_settings() -> dict[str, Any]:
    """The AUTH_LDAP_* settings from the environment; none when LDAP_SERVER_URI is unset (LDAP off)."""
    uri = env_str("LDAP_SERVER_URI")
    if not uri:
        stray = [name for name in VARIABLES if env_str(name)]
        if stray:
            raise ImproperlyConfigured(f"{stray[0]} is set but LDAP_SERVER_URI is not; set both or neither.")
        return {}
    return {
        **_connection_settings(uri),
        **_bind_settings(),
        **_user_settings(),
        **_group_settings(),
    }


def _connection_settings(uri: str) -> dict[str, Any]:
    for one in uri.split():
        if not one.lower().startswith(("ldap://", "ldaps://")):
            raise ImproperlyConfigured(
                f"LDAP_SERVER_URI={uri!r}: each address must start with ldap:// or ldaps://."
            )
    start_tls = env_bool("LDAP_START_TLS", False)
    if start_tls and "ldaps://" in uri.lower():
        raise ImproperlyConfigured("LDAP_START_TLS is for ldap:// addresses; ldaps:// is encrypted already.")
    seconds = env_int("LDAP_TIMEOUT_SECONDS", 5, minimum=1)
    # The timeouts make an unreachable or silent directory fail the sign-in in seconds; referrals off
    # because Active Directory answers searches from the domain root with referrals that libldap
    # would follow anonymously, failing the search.
    options: dict[Any, Any] = {
        ldap.OPT_NETWORK_TIMEOUT: seconds,
        ldap.OPT_TIMEOUT: seconds,
        ldap.OPT_REFERRALS: 0,
    }
    ca_file = env_str("LDAP_CA_CERT_FILE")
    if ca_file:
        if not start_tls and "ldaps://" not in uri.lower():
            raise ImproperlyConfigured("LDAP_CA_CERT_FILE is for ldaps:// addresses or LDAP_START_TLS=true.")
        if not Path(ca_file).is_file():
            raise ImproperlyConfigured(f"LDAP_CA_CERT_FILE={ca_file!r} is not a readable file.")
        options[ldap.OPT_X_TLS_CACERTFILE] = ca_file
        options[ldap.OPT_X_TLS_REQUIRE_CERT] = ldap.OPT_X_TLS_DEMAND
        options[ldap.OPT_X_TLS_NEWCTX] = 0  # last: applies the TLS options above to this connection
    return {
        "AUTH_LDAP_SERVER_URI": uri,
        "AUTH_LDAP_START_TLS": start_tls,
        "AUTH_LDAP_CONNECTION_OPTIONS": options,
    }


def _bind_settings() -> dict[str, Any]:
    bind_dn, password = env_str("LDAP_BIND_DN"), env_str("LDAP_BIND_PASSWORD")
    if bind_dn and not password:
        raise ImproperlyConfigured(
            "LDAP_BIND_DN is set but LDAP_BIND_PASSWORD is not; set the service account's password."
        )
    if password and not bind_dn:
        raise ImproperlyConfigured(
            "LDAP_BIND_PASSWORD is set but LDAP_BIND_DN is not; set the service account's DN."
        )
    # Without a service account the user's own bind reads their entry and groups (directories
    # seldom let anonymous clients read them).
    return {
        "AUTH_LDAP_BIND_DN": bind_dn,
        "AUTH_LDAP_BIND_PASSWORD": password,
        "AUTH_LDAP_BIND_AS_AUTHENTICATING_USER": not bind_dn,
    }


def _user_settings() -> dict[str, Any]:
    template, base = env_str("LDAP_USER_DN_TEMPLATE"), env_str("LDAP_USER_SEARCH_BASE")
    if template and base:
        raise ImproperlyConfigured("Set LDAP_USER_DN_TEMPLATE or LDAP_USER_SEARCH_BASE, not both.")
    if not template and not base:
        raise ImproperlyConfigured(
            "LDAP_SERVER_URI is set but neither LDAP_USER_SEARCH_BASE nor LDAP_USER_DN_TEMPLATE is; "
            "set one, so the directory can find the user who signs in."
        )
    attributes = {
        "first_name": env_str("LDAP_ATTR_FIRST_NAME", "givenName"),
        "last_name": env_str("LDAP_ATTR_LAST_NAME", "sn"),
        "email": env_str("LDAP_ATTR_EMAIL", "mail"),
    }
    if template:
        if env_str("LDAP_USER_FILTER"):
            raise ImproperlyConfigured(
                "LDAP_USER_FILTER is for LDAP_USER_SEARCH_BASE, not LDAP_USER_DN_TEMPLATE."
            )
        _require_user_placeholder("LDAP_USER_DN_TEMPLATE", template)
        return {"AUTH_LDAP_USER_DN_TEMPLATE": template, "AUTH_LDAP_USER_ATTR_MAP": attributes}
    user_filter = _filter("LDAP_USER_FILTER", "(uid=%(user)s)")
    _require_user_placeholder("LDAP_USER_FILTER", user_filter)
    return {
        "AUTH_LDAP_USER_SEARCH": LDAPSearch(base, ldap.SCOPE_SUBTREE, user_filter),
        "AUTH_LDAP_USER_ATTR_MAP": attributes,
    }


def _group_settings() -> dict[str, Any]:
    base, mirrored = env_str("LDAP_GROUP_SEARCH_BASE"), env_list("LDAP_MIRROR_GROUPS", [])
    if not base:
        for name in ("LDAP_MIRROR_GROUPS", "LDAP_GROUP_TYPE", "LDAP_GROUP_FILTER", "LDAP_GROUP_NAME_ATTR"):
            if env_str(name):
                raise ImproperlyConfigured(f"{name} is set but LDAP_GROUP_SEARCH_BASE is not.")
        return {}
    if not mirrored:
        raise ImproperlyConfigured(
            "LDAP_GROUP_SEARCH_BASE is set but LDAP_MIRROR_GROUPS is not; name the Django groups the "
            "directory decides (comma-separated), or * for all of them."
        )
    kind = env_str("LDAP_GROUP_TYPE", "groupOfNames")
    if kind not in GROUP_TYPES:
        raise ImproperlyConfigured(f"LDAP_GROUP_TYPE={kind!r} is not one of: {', '.join(GROUP_TYPES)}.")
    group_type, default_filter = GROUP_TYPES[kind]
    return {
        "AUTH_LDAP_GROUP_SEARCH": LDAPSearch(
            base, ldap.SCOPE_SUBTREE, _filter("LDAP_GROUP_FILTER", default_filter)
        ),
        "AUTH_LDAP_GROUP_TYPE": group_type(name_attr=env_str("LDAP_GROUP_NAME_ATTR", "cn")),
        "AUTH_LDAP_MIRROR_GROUPS": True if mirrored == ["*"] else mirrored,
    }


def _filter(name: str, default: str) -> str:
    value = env_str(name, default)
    if not (value.startswith("(") and value.endswith(")") and value.count("(") == value.count(")")):
        raise ImproperlyConfigured(f"{name}={value!r} is not an LDAP filter; write it in parentheses.")
    return value


def _require_user_placeholder(name: str, value: str) -> None:
    if "%(user)s" not in value:
        raise ImproperlyConfigured(f"{name}={value!r} must contain %(user)s, where the typed user name goes.")
