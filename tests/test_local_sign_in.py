"""LOCAL_SIGN_IN=false: the sign-in page offers single sign-on alone and takes no password; superusers
still sign in with theirs on the admin's sign-in page, the way in when the provider is down."""

import pytest
from django.contrib.auth.models import User

from tests.conftest import person
from tests.oidc import configure_oidc

pytestmark = pytest.mark.django_db
LOGIN, ADMIN_LOGIN = "/accounts/login/", "/admin/login/"


@pytest.fixture(autouse=True)
def _single_sign_on_only(settings) -> None:
    configure_oidc(settings, provider_name="Entra ID")
    settings.LOCAL_SIGN_IN = False


def test_the_sign_in_page_offers_the_provider_alone(client):
    page = client.get(LOGIN, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "使用 Entra ID 登录" in page and 'name="password"' not in page
    assert "无法登录？请联系管理员。" in page


def test_it_refuses_a_password_on_the_sign_in_page(client, user):
    response = client.post(LOGIN, {"username": "alice", "password": "alice-password-1"})
    assert response.status_code == 403 and "_auth_user_id" not in client.session
    assert "Signing in with a password is switched off here." in response.content.decode()


def test_it_refuses_a_superusers_password_on_the_sign_in_page_too(client):
    User.objects.create_superuser("root", password="root-password-1")
    assert client.post(LOGIN, {"username": "root", "password": "root-password-1"}).status_code == 403


def test_a_superuser_signs_in_on_the_admin_sign_in_page(client):
    User.objects.create_superuser("root", password="root-password-1")
    response = client.post(
        ADMIN_LOGIN, {"username": "root", "password": "root-password-1", "next": "/admin/"}
    )
    assert response.status_code == 302 and client.session["_auth_user_id"]


def test_other_staff_cannot_sign_in_with_a_password_on_the_admin_page(client, readers):
    staff = person("carol", readers)
    staff.is_staff = True
    staff.save()
    response = client.post(ADMIN_LOGIN, {"username": "carol", "password": "carol-password-1"})
    assert response.status_code == 200 and "_auth_user_id" not in client.session


def test_with_local_sign_in_on_both_ways_are_offered_and_passwords_work(client, settings, user):
    settings.LOCAL_SIGN_IN = True
    page = client.get(LOGIN).content.decode()
    assert "Sign in with Entra ID" in page and 'name="password"' in page and "or with a password" in page
    assert client.post(LOGIN, {"username": "alice", "password": "alice-password-1"}).status_code == 302
