"""The two ends of the OIDC redirect in this process: the start sends the browser to the provider with
state, nonce and a PKCE challenge; a callback that fails, for whatever reason, shows the sign-in page
with the reason (never a server error), and counts as a failed sign-in."""

from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import SuspiciousOperation
from django.test import Client

from accounts.oidc import OidcBackend
from tests.oidc import configure_oidc

pytestmark = pytest.mark.django_db
START, CALLBACK, LOGIN = "/accounts/oidc/start/", "/accounts/oidc/callback/", "/accounts/login/"


@pytest.fixture
def oidc(settings):
    return configure_oidc(settings, provider_name="Authing")


@pytest.fixture
def failures() -> list[dict]:
    seen: list[dict] = []

    def record(sender, credentials, request, **kwargs):
        seen.append(credentials)

    user_login_failed.connect(record)
    yield seen
    user_login_failed.disconnect(record)


def started(client: Client) -> dict[str, str]:
    """Start a sign-in; the query the provider is sent."""
    response = client.get(START, {"next": "/c/"})
    assert response.status_code == 302
    return {key: values[0] for key, values in parse_qs(urlsplit(response["Location"]).query).items()}


def test_it_sends_the_browser_to_the_provider_with_pkce_state_and_nonce(client, oidc):
    query = started(client)
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["client_id"] == "knowledge-chat" and query["scope"] == "openid email profile"
    assert query["redirect_uri"] == "http://testserver/accounts/oidc/callback/"
    assert query["state"] in client.session["oidc_states"] and query["nonce"]


def test_the_sign_in_page_offers_the_provider(client, oidc):
    page = client.get(LOGIN, {"next": "/c/"}).content.decode()
    assert f'href="{START}?next=/c/"' in page and "Sign in with Authing" in page
    assert 'name="password"' in page


def test_a_state_from_another_session_is_refused_on_the_sign_in_page(client, oidc, failures):
    started(client)
    response = Client().get(CALLBACK, {"code": "c0de", "state": "forged"})
    assert response.status_code == 400 and "_auth_user_id" not in response.wsgi_request.session
    assert "This sign-in link has expired or is not valid." in response.content.decode()
    assert 'role="alert"' in response.content.decode() and len(failures) == 1


def test_a_forged_state_in_the_signed_in_browser_is_refused_too(client, oidc):
    started(client)
    response = client.get(CALLBACK, {"code": "c0de", "state": "forged"})
    assert response.status_code == 400


def test_the_provider_refusing_is_shown_in_the_users_language(client, oidc, failures):
    query = started(client)
    response = client.get(
        CALLBACK, {"error": "access_denied", "state": query["state"]}, HTTP_ACCEPT_LANGUAGE="zh-CN"
    )
    assert response.status_code == 403 and "Authing 未完成登录，请重试。" in response.content.decode()
    assert query["state"] not in client.session["oidc_states"] and len(failures) == 1


def test_a_provider_that_cannot_be_reached_is_a_clean_error(client, oidc, failures):
    query = started(client)
    response = client.get(CALLBACK, {"code": "c0de", "state": query["state"]})
    assert response.status_code == 502 and "Authing could not be reached." in response.content.decode()
    assert len(failures) == 1


def test_a_forged_error_does_not_sign_the_user_out(client, oidc, user):
    client.force_login(user)
    response = client.get(CALLBACK, {"error": "access_denied", "state": "forged"})
    assert response.status_code == 400 and client.session["_auth_user_id"] == str(user.pk)


def test_a_callback_without_code_or_error_is_refused(client, oidc):
    assert client.get(CALLBACK).status_code == 400


def test_a_burst_of_failed_callbacks_pauses_sign_in_from_that_address(client, oidc, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        client.get(CALLBACK, {"code": "c0de", "state": "forged"}, REMOTE_ADDR="10.0.0.5")
    query = started(client)
    response = client.get(CALLBACK, {"code": "c0de", "state": query["state"]}, REMOTE_ADDR="10.0.0.5")
    assert response.status_code == 429


def test_without_oidc_there_is_no_single_sign_on(client):
    assert client.get(START).status_code == 404 and client.get(CALLBACK).status_code == 404
    assert "Sign in with" not in client.get(LOGIN).content.decode()


def id_token(**claims) -> str:
    return jwt.encode({"nonce": "n0nce", **claims}, "a-shared-secret-of-at-least-32-bytes", algorithm="HS256")


@pytest.mark.parametrize(
    ("claims", "accepted"),
    [
        ({"aud": "knowledge-chat", "iss": "https://id.example.com"}, True),
        ({"aud": ["other", "knowledge-chat"], "iss": "https://id.example.com"}, True),
        ({"aud": "another-client", "iss": "https://id.example.com"}, False),
        ({"iss": "https://id.example.com"}, False),
        ({"aud": "knowledge-chat", "iss": "https://evil.example.com"}, False),
    ],
)
def test_an_id_token_must_be_for_this_client_from_this_issuer(settings, claims, accepted):
    configure_oidc(settings, issuer="https://id.example.com")
    settings.OIDC_RP_SIGN_ALGO, settings.OIDC_RP_CLIENT_SECRET = (
        "HS256",
        "a-shared-secret-of-at-least-32-bytes",
    )
    if accepted:
        assert OidcBackend().verify_token(id_token(**claims), nonce="n0nce")["iss"] == claims["iss"]
    else:
        with pytest.raises(SuspiciousOperation):
            OidcBackend().verify_token(id_token(**claims), nonce="n0nce")
