"""OIDC settings are checked at start: a half configuration stops the app naming what is missing."""

import subprocess
import sys

import pytest

from tests.processes import ROOT

ENDPOINTS = {
    "OIDC_AUTHORIZATION_ENDPOINT": "https://id.example.com/realms/staff/protocol/openid-connect/auth",
    "OIDC_TOKEN_ENDPOINT": "https://id.example.com/realms/staff/protocol/openid-connect/token",
    "OIDC_USERINFO_ENDPOINT": "https://id.example.com/realms/staff/protocol/openid-connect/userinfo",
    "OIDC_JWKS_ENDPOINT": "https://id.example.com/realms/staff/protocol/openid-connect/certs",
}
CLIENT = {"OIDC_CLIENT_ID": "kbchat", "OIDC_CLIENT_SECRET": "s3cret"}


def start(tmp_path, **env: str) -> subprocess.CompletedProcess:
    code = "from django.conf import settings as s; print(s.OIDC_CONFIG and s.OIDC_CONFIG.mirror_groups)"
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"OIDC_CLIENT_ID": "kbchat"}, "OIDC_AUTHORIZATION_ENDPOINT is not set"),
        ({**ENDPOINTS, "OIDC_CLIENT_ID": "kbchat"}, "OIDC_CLIENT_SECRET is not set"),
        ({**ENDPOINTS, **CLIENT, "OIDC_JWKS_ENDPOINT": ""}, "OIDC_JWKS_ENDPOINT is not set"),
        ({**ENDPOINTS, **CLIENT, "OIDC_TOKEN_ENDPOINT": "id.example.com/token"}, "OIDC_TOKEN_ENDPOINT="),
        ({**ENDPOINTS, **CLIENT, "OIDC_SIGN_ALGO": "none"}, "OIDC_SIGN_ALGO="),
        ({**ENDPOINTS, **CLIENT, "OIDC_MIRROR_GROUPS": "*,sales"}, "OIDC_MIRROR_GROUPS"),
        ({"LOCAL_SIGN_IN": "false"}, "LOCAL_SIGN_IN=false leaves no way to sign in"),
    ],
)
def test_a_bad_configuration_stops_the_app_naming_it(tmp_path, env, named):
    result = start(tmp_path, **env)
    assert result.returncode != 0 and named in result.stderr.splitlines()[-1]


def test_a_full_configuration_starts(tmp_path):
    result = start(
        tmp_path, **ENDPOINTS, **CLIENT, OIDC_MIRROR_GROUPS="engineering, sales", LOCAL_SIGN_IN="false"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "('engineering', 'sales')"
