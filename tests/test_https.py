"""Served over HTTPS: HSTS, and cookies that are Secure; scripts never read a cookie (HttpOnly)."""

import pytest

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"


def sign_in(client, *, secure: bool):
    form = {"username": "alice", "password": "alice-password-1"}
    return client.post(LOGIN, form, secure=secure, REMOTE_ADDR="10.1.0.1")


def test_over_https_browsers_are_told_to_keep_to_https(client):
    hsts = client.get(LOGIN, secure=True)["Strict-Transport-Security"]
    assert hsts == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in client.get(LOGIN)


def test_over_https_every_cookie_is_secure_and_out_of_scripts_reach(client, user):
    page = client.get(LOGIN, secure=True)
    signed_in = sign_in(client, secure=True)
    language = client.post("/i18n/setlang/", {"language": "zh-hans"}, secure=True)
    cookies = {**page.cookies, **signed_in.cookies, **language.cookies}
    assert {"csrftoken", "sessionid", "django_language"} <= cookies.keys()
    for name, cookie in cookies.items():
        assert cookie["secure"] and cookie["httponly"], name


def test_over_plain_http_cookies_still_work(client, user):
    signed_in = sign_in(client, secure=False)
    assert signed_in.status_code == 302
    assert not signed_in.cookies["sessionid"]["secure"] and signed_in.cookies["sessionid"]["httponly"]
