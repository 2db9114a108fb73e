"""Fixtures of the API tests: clients that send the API key of conftest's owner, other reader,
outsider or manager."""

import json

import pytest
from django.contrib.auth.models import User
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
        return self.post_json_text(path, json.dumps(data or {}, ensure_ascii=False))

    def post_json_text(self, path: str, body: str):
        """JSON as written: escapes such as \\ud800 reach the server as they are."""
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
def api_test(sync_orm_in_async) -> None:
    """Used by every API test module (pytestmark): the ORM usable around async views (rate limits
    start fresh in every test, see conftest)."""


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
