"""Single sign-on against a real OIDC provider (tests/oidc_provider) in a process of its own, and the
app under uvicorn configured to use it: one of each for the whole test session."""

import dataclasses
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from playwright.sync_api import Page, expect

from accounts.oidc_config import OidcConfig, library_settings, oidc_config_from_env
from tests.browser import browser_page
from tests.processes import ROOT, _stop, asgi_server, free_port

CLIENT_ID = "knowledge-chat"
CLIENT_SECRET = "test-client-secret-0123456789"
PROVIDER_NAME = "Keycloak"


@dataclass(frozen=True)
class Provider:
    url: str  # the issuer: the provider's OAuth endpoints are under it
    directory: Path

    def set_people(self, people: dict[str, dict]) -> None:
        """Who may sign in at the provider now, and their claims (see tests/oidc_provider)."""
        self.directory.write_text(json.dumps(people))

    def app_settings(self) -> dict[str, str]:
        """The app's OIDC variables for this provider."""
        return {
            "OIDC_AUTHORIZATION_ENDPOINT": f"{self.url}/authorize/",
            "OIDC_TOKEN_ENDPOINT": f"{self.url}/token/",
            "OIDC_USERINFO_ENDPOINT": f"{self.url}/userinfo/",
            "OIDC_JWKS_ENDPOINT": f"{self.url}/.well-known/jwks.json",
            "OIDC_ISSUER": self.url,
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_PROVIDER_NAME": PROVIDER_NAME,
        }


def _signing_key() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@contextmanager
def oidc_provider(state_dir: Path, *, port: int, redirect_uri: str) -> Iterator[Provider]:
    """django-oauth-toolkit as an OIDC provider on `port`, with a new RS256 key, one confidential
    client redirecting to `redirect_uri`, and nobody in its directory yet."""
    (state_dir / "signing-key.pem").write_bytes(_signing_key())
    provider = Provider(url=f"http://127.0.0.1:{port}/o", directory=state_dir / "directory.json")
    provider.set_people({})
    env = {
        "PATH": "/usr/bin:/bin",
        "PROVIDER_STATE_DIR": str(state_dir),
        "PROVIDER_URL": provider.url,
        "PROVIDER_DIRECTORY": str(provider.directory),
    }
    command = [sys.executable, "-m", "tests.oidc_provider.serve", str(port), CLIENT_ID, CLIENT_SECRET]
    log = state_dir / "provider.log"
    with log.open("wb") as output:
        process = subprocess.Popen([*command, redirect_uri], cwd=ROOT, env=env, stdout=output, stderr=output)
        try:
            _wait_for(f"{provider.url}/.well-known/openid-configuration", process, log)
            yield provider
        finally:
            _stop(process)


def _wait_for(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url, timeout=5).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"The OIDC provider did not start:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.2)


@pytest.fixture(scope="session")
def sso(django_db_setup, tmp_path_factory) -> Iterator[tuple[str, Provider]]:
    """The app's base URL and the provider it signs in with."""
    app_port, provider_port = free_port(), free_port()
    app_url = f"http://127.0.0.1:{app_port}"
    with oidc_provider(
        tmp_path_factory.mktemp("oidc-provider"),
        port=provider_port,
        redirect_uri=f"{app_url}/accounts/oidc/callback/",
    ) as provider:
        data_dir = tmp_path_factory.mktemp("oidc-app")
        with asgi_server(data_dir, log=data_dir / "server.log", port=app_port, **provider.app_settings()):
            yield app_url, provider


def sign_in_at_provider(page: Page, username: str, *, approve: bool = True) -> None:
    """From our sign-in page: the provider's button, its sign-in form, then its consent page."""
    page.get_by_role("link", name=f"Sign in with {PROVIDER_NAME}").click()
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"{username}-provider-password")
    page.get_by_role("button", name="Sign in at the provider").click()
    expect(page.get_by_role("button", name="Authorize")).to_be_visible()
    page.get_by_role("button", name="Authorize" if approve else "Cancel").click()


def person_at_provider(username: str, *groups: str, **claims: str) -> dict:
    """A directory entry whose password sign_in_at_provider knows."""
    return {"password": f"{username}-provider-password", "groups": list(groups), **claims}


@pytest.fixture
def sso_page(request, chromium, sso, sync_orm_in_async) -> Iterator[Page]:
    """A browser on the app that signs in with the provider."""
    with browser_page(request, chromium, sso[0]) as page:
        yield page


def configure_oidc(settings, provider_url: str = "http://127.0.0.1:9/o", **changes) -> OidcConfig:
    """OIDC settings in this process, as settings.py makes them from the variables of a provider at
    `provider_url` (nothing listens on port 9: token requests fail to connect)."""
    provider = Provider(url=provider_url, directory=Path("/nonexistent"))
    with pytest.MonkeyPatch.context() as patch:
        for name, value in provider.app_settings().items():
            patch.setenv(name, value)
        config = dataclasses.replace(oidc_config_from_env(), **changes)
    settings.OIDC_CONFIG = config
    backends = [name for name in settings.AUTHENTICATION_BACKENDS if name != "accounts.oidc.OidcBackend"]
    settings.AUTHENTICATION_BACKENDS = [*backends, "accounts.oidc.OidcBackend"]
    for name, value in library_settings(config).items():
        setattr(settings, name, value)
    return config
