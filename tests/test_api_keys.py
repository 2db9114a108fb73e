import re

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from api.models import ApiKey
from api.services import api_key_create, api_key_revoke
from tests.api_fixtures import ApiClient, key_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("api_test")]
KB_LIST = "/api/v1/knowledge-bases/"


def test_it_stores_only_a_digest_of_the_key(user):
    key, secret = api_key_create(user=user, name="wiki bot")
    assert secret.startswith("kb-") and len(secret) > 40
    assert secret not in (key.digest, key.prefix) and secret.startswith(key.prefix)
    assert not ApiKey.objects.filter(digest__contains=secret[10:]).exists()


def test_it_authenticates_with_a_bearer_key_and_records_its_use(user, kb):
    key, secret = api_key_create(user=user, name="wiki bot")
    response = ApiClient(secret).get(KB_LIST)
    assert response.status_code == 200
    assert [item["slug"] for item in response.json()["results"]] == ["guide"]
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_it_refuses_requests_without_credentials(db):
    response = ApiClient(None).get(KB_LIST)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_refuses_an_unknown_key(db):
    response = ApiClient("kb-not-a-real-key").get(KB_LIST)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_it_refuses_a_revoked_key(user):
    key, secret = api_key_create(user=user, name="old")
    api_key_revoke(api_key=key)
    assert ApiClient(secret).get(KB_LIST).status_code == 401


def test_it_refuses_the_key_of_an_inactive_user(user):
    secret = key_for(user)
    user.is_active = False
    user.save()
    assert ApiClient(secret).get(KB_LIST).status_code == 401


def test_it_accepts_a_session_but_requires_csrf_for_writes(client, user, kb):
    client.force_login(user)
    assert client.get(KB_LIST).status_code == 200
    csrf_client = type(client)(enforce_csrf_checks=True)
    csrf_client.force_login(user)
    response = csrf_client.post("/api/v1/conversations/", {}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]


def test_it_limits_requests_per_key_with_retry_after(settings, user):
    settings.API_RATE_PER_KEY = "2/min"
    api = ApiClient(key_for(user))
    assert [api.get(KB_LIST).status_code for _ in range(2)] == [200, 200]
    response = api.get(KB_LIST)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 60
    assert ApiClient(key_for(user)).get(KB_LIST).status_code == 200  # another key has its own count


def test_it_limits_requests_per_user_across_keys(settings, user, other):
    settings.API_RATE_PER_USER = "3/min"
    first, second = ApiClient(key_for(user)), ApiClient(key_for(user))
    assert [
        first.get(KB_LIST).status_code,
        second.get(KB_LIST).status_code,
        first.get(KB_LIST).status_code,
    ] == [
        200,
        200,
        200,
    ]
    assert second.get(KB_LIST).status_code == 429
    assert ApiClient(key_for(other)).get(KB_LIST).status_code == 200


def test_the_command_prints_a_working_key(user, kb, capsys):
    call_command("create_api_key", "alice", name="nightly sync")
    secret = capsys.readouterr().out.strip()
    assert ApiKey.objects.get().name == "nightly sync"
    assert ApiClient(secret).get(KB_LIST).status_code == 200


def test_the_command_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="No user named"):
        call_command("create_api_key", "nobody")


def test_the_page_requires_login(client):
    response = client.get(reverse("api:keys"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_page_creates_a_key_and_shows_it_once(client, user, kb):
    client.force_login(user)
    page = client.post(reverse("api:keys"), {"name": "知识库机器人"}, follow=True).content.decode()
    secret = re.search(r'value="(kb-[^"]+)"', page).group(1)
    assert "知识库机器人" in page
    assert 'model="kb:guide"' in page  # the example names a knowledge base the user may read
    assert ApiClient(secret).get(KB_LIST).status_code == 200
    again = client.get(reverse("api:keys")).content.decode()
    assert secret not in again and secret[:10] in again


def test_the_page_lists_and_revokes_only_ones_own_keys(client, user, outsider):
    mine, _secret = api_key_create(user=user, name="mine")
    theirs, their_secret = api_key_create(user=outsider, name="theirs")
    client.force_login(user)
    page = client.get(reverse("api:keys")).content.decode()
    assert "mine" in page and "theirs" not in page
    assert client.post(reverse("api:key_revoke", args=[theirs.id])).status_code == 404
    assert ApiClient(their_secret).get(KB_LIST).status_code == 200
    client.post(reverse("api:key_revoke", args=[mine.id]))
    mine.refresh_from_db()
    assert mine.revoked_at is not None
    assert "revoked" in client.get(reverse("api:keys")).content.decode()


def test_administrators_revoke_keys_in_the_admin(admin_client, user):
    key, secret = api_key_create(user=user, name="leaked")
    changelist = "/admin/api/apikey/"
    assert "leaked" in admin_client.get(changelist).content.decode()
    admin_client.post(changelist, {"action": "revoke", "_selected_action": [key.id]})
    assert ApiClient(secret).get(KB_LIST).status_code == 401
