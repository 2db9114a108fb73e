"""Static files under ASGI, and a middleware chain with no sync-only link in it."""

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import AsyncClient
from django.utils.module_loading import import_string


def test_every_middleware_runs_on_the_event_loop() -> None:
    # One sync-only middleware sends every ASGI request through a thread and back.
    sync_only = [path for path in settings.MIDDLEWARE if not import_string(path).async_capable]
    assert sync_only == []


@pytest.mark.django_db(transaction=True)
def test_static_files_are_served_to_async_requests() -> None:
    async def fetch(path: str) -> tuple[int, str, bytes]:
        response = await AsyncClient().get(path)
        body = b"".join([chunk async for chunk in response]) if response.streaming else response.content
        return response.status_code, response.get("Content-Type", ""), body

    status, content_type, body = async_to_sync(fetch)("/static/js/chat.js")
    assert (status, content_type.split(";")[0]) == (200, "text/javascript")
    assert body == (settings.BASE_DIR / "static" / "js" / "chat.js").read_bytes()
    assert async_to_sync(fetch)("/static/js/no-such-file.js")[0] == 404
    assert async_to_sync(fetch)("/accounts/login/")[0] == 200
