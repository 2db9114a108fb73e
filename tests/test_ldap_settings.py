"""LDAP settings from LDAP_* variables: a half or wrong configuration stops the app at start naming
the variable; a whole one puts the directory between the sign-in throttle and local accounts."""

import subprocess
import sys

import ldap
import pytest
from django.core.exceptions import ImproperlyConfigured
from django_auth_ldap.config import NestedActiveDirectoryGroupType

from accounts.ldap import VARIABLES, ldap_settings
from tests.processes import ROOT

SEARCH = {
    "LDAP_SERVER_URI": "ldap://dc1.corp.example.com",
    "LDAP_BIND_DN": "CN=kbchat,OU=Service Accounts,DC=corp,DC=example,DC=com",
    "LDAP_BIND_PASSWORD": "service-password-1",
    "LDAP_USER_SEARCH_BASE": "OU=Staff,DC=corp,DC=example,DC=com",
}


def settings_from(monkeypatch, **variables: str) -> dict:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return ldap_settings()


def test_it_is_off_without_a_server(monkeypatch):
    assert settings_from(monkeypatch) == {}


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"LDAP_USER_SEARCH_BASE": "ou=people,dc=example,dc=com"}, "LDAP_SERVER_URI"),
        ({"LDAP_SERVER_URI": "ldap://dc1"}, "LDAP_USER_SEARCH_BASE"),
        ({**SEARCH, "LDAP_SERVER_URI": "dc1.corp.example.com"}, "LDAP_SERVER_URI"),
        ({**SEARCH, "LDAP_BIND_PASSWORD": ""}, "LDAP_BIND_PASSWORD"),
        ({**SEARCH, "LDAP_BIND_DN": ""}, "LDAP_BIND_DN"),
        ({**SEARCH, "LDAP_USER_DN_TEMPLATE": "uid=%(user)s,dc=x"}, "LDAP_USER_DN_TEMPLATE"),
        ({**SEARCH, "LDAP_USER_FILTER": "(sAMAccountName=alice)"}, "LDAP_USER_FILTER"),
        ({**SEARCH, "LDAP_USER_FILTER": "sAMAccountName=%(user)s"}, "LDAP_USER_FILTER"),
        ({**SEARCH, "LDAP_GROUP_SEARCH_BASE": "OU=Groups,DC=corp"}, "LDAP_MIRROR_GROUPS"),
        ({**SEARCH, "LDAP_MIRROR_GROUPS": "*"}, "LDAP_GROUP_SEARCH_BASE"),
        (
            {
                **SEARCH,
                "LDAP_GROUP_SEARCH_BASE": "OU=Groups",
                "LDAP_MIRROR_GROUPS": "*",
                "LDAP_GROUP_TYPE": "ad",
            },
            "LDAP_GROUP_TYPE",
        ),
        ({**SEARCH, "LDAP_SERVER_URI": "ldaps://dc1", "LDAP_START_TLS": "true"}, "LDAP_START_TLS"),
        ({**SEARCH, "LDAP_TIMEOUT_SECONDS": "0"}, "LDAP_TIMEOUT_SECONDS"),
        (
            {**SEARCH, "LDAP_START_TLS": "true", "LDAP_CA_CERT_FILE": "/nonexistent/ca.pem"},
            "LDAP_CA_CERT_FILE",
        ),
        ({**SEARCH, "LDAP_CA_CERT_FILE": __file__}, "LDAP_CA_CERT_FILE"),  # plain ldap:// uses no certificate
        ({**SEARCH, "LDAP_GROUP_TYPE": "activeDirectory"}, "LDAP_GROUP_SEARCH_BASE"),
        (
            {
                **SEARCH,
                "LDAP_USER_SEARCH_BASE": "",
                "LDAP_USER_DN_TEMPLATE": "uid=%(user)s,dc=x",
                "LDAP_USER_FILTER": "(uid=%(user)s)",
            },
            "LDAP_USER_FILTER",
        ),
    ],
)
def test_a_half_or_wrong_configuration_names_the_variable(monkeypatch, variables, named):
    with pytest.raises(ImproperlyConfigured, match=named):
        settings_from(monkeypatch, **variables)


def test_an_active_directory_configuration(monkeypatch):
    built = settings_from(
        monkeypatch,
        **SEARCH,
        LDAP_USER_FILTER="(sAMAccountName=%(user)s)",
        LDAP_GROUP_SEARCH_BASE="OU=Groups,DC=corp,DC=example,DC=com",
        LDAP_GROUP_TYPE="nestedActiveDirectory",
        LDAP_MIRROR_GROUPS="Engineering, Finance",
        LDAP_START_TLS="true",
        LDAP_TIMEOUT_SECONDS="3",
    )
    assert built["AUTH_LDAP_USER_SEARCH"].filterstr == "(sAMAccountName=%(user)s)"
    assert isinstance(built["AUTH_LDAP_GROUP_TYPE"], NestedActiveDirectoryGroupType)
    assert built["AUTH_LDAP_GROUP_SEARCH"].filterstr == "(objectClass=group)"
    assert built["AUTH_LDAP_MIRROR_GROUPS"] == ["Engineering", "Finance"]
    assert built["AUTH_LDAP_START_TLS"] is True
    assert built["AUTH_LDAP_CONNECTION_OPTIONS"][ldap.OPT_NETWORK_TIMEOUT] == 3
    assert built["AUTH_LDAP_CONNECTION_OPTIONS"][ldap.OPT_REFERRALS] == 0


def test_a_star_mirrors_every_group(monkeypatch):
    built = settings_from(
        monkeypatch, **SEARCH, LDAP_GROUP_SEARCH_BASE="ou=groups,dc=x", LDAP_MIRROR_GROUPS="*"
    )
    assert built["AUTH_LDAP_MIRROR_GROUPS"] is True


def test_a_ca_certificate_is_demanded_of_the_server(monkeypatch, tmp_path):
    certificate = tmp_path / "ca.pem"
    certificate.write_text("-----BEGIN CERTIFICATE-----\n")
    options = settings_from(monkeypatch, **SEARCH, LDAP_START_TLS="true", LDAP_CA_CERT_FILE=str(certificate))[
        "AUTH_LDAP_CONNECTION_OPTIONS"
    ]
    assert options[ldap.OPT_X_TLS_CACERTFILE] == str(certificate)
    assert list(options)[-1] == ldap.OPT_X_TLS_NEWCTX  # applied last, so the options above take effect


def manage(tmp_path, command: list[str], **variables: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), **variables}
    return subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_app_refuses_to_start_half_configured(tmp_path):
    result = manage(tmp_path, ["check"], LDAP_SERVER_URI="ldap://dc1.corp.example.com")
    assert result.returncode != 0
    assert "LDAP_USER_SEARCH_BASE" in result.stderr.splitlines()[-1]


def test_the_directory_is_asked_after_the_throttle_and_before_local_accounts(tmp_path):
    code = "from django.conf import settings; print(' '.join(settings.AUTHENTICATION_BACKENDS))"
    result = manage(tmp_path, ["shell", "-c", code], **SEARCH)
    assert result.stdout.split()[-3:] == [
        "axes.backends.AxesStandaloneBackend",
        "accounts.ldap_backend.DirectoryBackend",
        "accounts.local.LocalPasswordBackend",
    ]
