"""Fixtures of the API tests: keys for the owner, another reader, an outsider and a manager."""

import json

import pytest
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from django.test import Client

from api.services import api_key_create


class ApiClient:
    """Django's test client, sending an API key and JSON."""

    def __init__(self, secret: str | None) -> None:
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {secret}"} if secret else {}

    def get(self, path: str, **params):
        return self.client.get(path, params, headers=self.headers)

    def post(self, path: str, data: dict | None = None):
        body = json.dumps(data or {}, ensure_ascii=False)
        return self.client.post(path, body, content_type="application/json", headers=self.headers)

    def patch(self, path: str, data: dict):
        body = json.dumps(data, ensure_ascii=False)
        return self.client.patch(path, body, content_type="application/json", headers=self.headers)

    def delete(self, path: str):
        return self.client.delete(path, headers=self.headers)

    def upload(self, path: str, files: list):
        return self.client.post(path, {"files": files}, headers=self.headers)


def key_for(user: User) -> str:
    return api_key_create(user=user, name="tests")[1]


@pytest.fixture
def api_test(monkeypatch) -> None:
    """Used by every API test module (pytestmark): fresh rate limits, and the ORM usable around
    async views."""
    cache.clear()  # throttles count in the cache
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def other(readers) -> User:
    """Reads the same knowledge base as the owner, but owns nothing of theirs."""
    bob = User.objects.create_user("bob", password="bob-password-1")
    bob.groups.add(readers)
    return bob


@pytest.fixture
def manager(readers) -> User:
    """May read the knowledge base and manage knowledge bases and documents."""
    carol = User.objects.create_user("carol", password="carol-password-1")
    carol.groups.add(readers)
    codenames = [
        f"{action}_{model}"
        for action in ("add", "change", "view", "delete")
        for model in ("document", "knowledgebase")
    ]
    carol.user_permissions.set(
        Permission.objects.filter(content_type__app_label="knowledge", codename__in=codenames)
    )
    return carol


@pytest.fixture
def as_owner(user) -> ApiClient:
    return ApiClient(key_for(user))


@pytest.fixture
def as_other(other) -> ApiClient:
    return ApiClient(key_for(other))


@pytest.fixture
def as_outsider(outsider) -> ApiClient:
    return ApiClient(key_for(outsider))


@pytest.fixture
def as_manager(manager) -> ApiClient:
    return ApiClient(key_for(manager))


@pytest.fixture
def anonymous(db) -> ApiClient:
    return ApiClient(None)
