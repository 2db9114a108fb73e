"""Sign-in throttle: too many failed sign-ins for an account or from an address pause signing in
there, even with the right password; every attempt is recorded."""

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.auth.models import User
from django.test import Client

from tests.conftest import person

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"


@pytest.fixture(autouse=True)
def _limit(settings) -> None:
    settings.AXES_FAILURE_LIMIT = 3


def sign_in(client: Client, username: str, password: str, *, address: str = "10.0.0.1", path: str = LOGIN):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_it_refuses_the_right_password_after_too_many_wrong_ones(client, user):
    for _ in range(2):
        assert sign_in(client, "alice", "wrong").status_code == 200  # the form again, with its error
    assert sign_in(client, "alice", "wrong").status_code == 429  # the third failure pauses it
    refused = sign_in(client, "alice", "alice-password-1")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) == 15 * 60
    assert "signing in is paused for 15 minutes" in refused.content.decode()
    assert "_auth_user_id" not in client.session


def test_it_pauses_an_account_whatever_address_the_attempts_come_from(client, user):
    for number in range(3):
        sign_in(client, "alice", "wrong", address=f"10.0.0.{number + 1}")
    assert sign_in(client, "alice", "alice-password-1", address="10.9.9.9").status_code == 429


def test_it_pauses_an_address_that_tries_many_accounts(client, user, other):
    for name in ("carol", "dave", "erin"):
        sign_in(client, name, "guess")
    assert sign_in(client, "bob", "bob-password-1").status_code == 429
    assert sign_in(Client(), "bob", "bob-password-1", address="10.0.0.2").status_code == 302


def test_a_success_before_the_limit_starts_the_count_again(client, user):
    for _ in range(2):
        sign_in(client, "alice", "wrong")
    assert sign_in(client, "alice", "alice-password-1").status_code == 302
    client.logout()
    for _ in range(2):
        sign_in(client, "alice", "wrong")
    assert sign_in(client, "alice", "alice-password-1").status_code == 302


def test_the_admin_sign_in_is_throttled_too(client):
    User.objects.create_superuser("root", password="root-password-1")
    for _ in range(3):
        sign_in(client, "root", "wrong", path=ADMIN_LOGIN)
    refused = sign_in(client, "root", "root-password-1", path=ADMIN_LOGIN)
    assert refused.status_code == 429 and "_auth_user_id" not in client.session


def test_it_explains_the_pause_in_chinese(client, user):
    for _ in range(3):
        sign_in(client, "alice", "wrong")
    refused = client.post(
        LOGIN,
        {"username": "alice", "password": "alice-password-1"},
        REMOTE_ADDR="10.0.0.1",
        HTTP_ACCEPT_LANGUAGE="zh-CN",
    )
    assert "登录已暂停" in refused.content.decode()


def test_every_failure_is_recorded_for_administrators(client, user):
    for _ in range(2):
        sign_in(client, "alice", "wrong", address="10.0.0.7")
    attempt = AccessAttempt.objects.get(username="alice")
    assert attempt.ip_address == "10.0.0.7" and attempt.failures_since_start == 2
    assert AccessFailureLog.objects.filter(username="alice").count() == 2
    admin = Client()
    admin.force_login(person("root"))
    User.objects.filter(username="root").update(is_staff=True, is_superuser=True)
    listing = admin.get("/admin/axes/accessfailurelog/")
    assert listing.status_code == 200 and "10.0.0.7" in listing.content.decode()
