"""Sources through the REST API: managed knowledge bases only, credentials never returned, bounded
input refused with 400, and "sync now"."""

import pytest
from django.contrib.auth.models import Permission

from sources.models import Source, SyncRun

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("api_test")]
LIST = "/api/v1/knowledge-bases/guide/sources/"


def may_manage_sources(*users) -> None:
    permissions = Permission.objects.filter(content_type__app_label="sources")
    for user in users:
        user.user_permissions.add(*permissions)


@pytest.fixture
def managers(manager, other_manager) -> None:
    may_manage_sources(manager, other_manager)


@pytest.fixture
def source(kb) -> Source:
    return Source.objects.create(
        knowledge_base=kb,
        name="Wiki",
        url="https://wiki.example.com/handbook/",
        auth=Source.Auth.HEADER,
        auth_header_name="Authorization",
        auth_secret="Bearer s3cret-token",
    )


def new(**fields) -> dict:
    return {"name": "Wiki", "url": "https://wiki.example.com/handbook/index.html", **fields}


def test_it_creates_a_source_and_never_returns_its_secret(managers, as_manager, kb):
    response = as_manager.post(LIST, new(auth="basic", auth_username="bot", secret="pa55word"))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["secret_set"] is True and "secret" not in body and "pa55word" not in response.content.decode()
    assert Source.objects.get().auth_secret == "pa55word"
    listed = as_manager.get(LIST)
    assert (
        "pa55word" not in listed.content.decode() and listed.json()["results"][0]["knowledge_base"] == "guide"
    )


def test_it_takes_an_intranet_host_without_a_dot(managers, as_manager, kb):
    response = as_manager.post(LIST, new(url="http://wiki:8080/handbook/"))
    assert response.status_code == 201, response.json()


def test_it_keeps_the_secret_on_an_update_without_one(managers, as_manager, source):
    response = as_manager.patch(f"/api/v1/sources/{source.id}/", {"max_pages": 50})
    assert response.status_code == 200 and response.json()["secret_set"] is True
    source.refresh_from_db()
    assert (source.max_pages, source.auth_secret) == (50, "Bearer s3cret-token")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"url": "ftp://files.example.com/"}, "url"),
        ({"url": "https://example.com/" + "a" * 2100}, "url"),
        ({"url": "https://bob:pw@example.com/"}, "url"),
        ({"max_pages": 10**9}, "max_pages"),
        ({"max_depth": 99}, "max_depth"),
        ({"interval_minutes": 1}, "interval_minutes"),
        ({"prefix": "https://other.example.com/"}, "prefix"),
        ({"auth": "basic", "auth_username": "bot"}, "auth"),
        ({"auth": "header", "auth_header_name": "Bad Header:", "secret": "x"}, "auth_header_name"),
        ({"secret": "line\nbreak"}, "secret"),
        ({"kind": "folder", "path": "/etc"}, "path"),
        ({"kind": "ftp"}, "kind"),
        ({"max_pages": "many"}, "max_pages"),
    ],
)
def test_it_refuses_bad_input_with_400(managers, as_manager, kb, fields, field):
    response = as_manager.post(LIST, new(**fields))
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not Source.objects.exists()


def test_it_hides_sources_from_other_managers_readers_and_outsiders(
    managers, source, as_manager, as_owner, as_outsider, other_manager
):
    from tests.api_fixtures import ApiClient, key_for

    as_other_manager = ApiClient(key_for(other_manager))
    assert as_manager.get(f"/api/v1/sources/{source.id}/").status_code == 200
    assert as_other_manager.get(f"/api/v1/sources/{source.id}/").status_code == 404
    assert as_other_manager.get(LIST).status_code == 404
    assert as_other_manager.post(f"/api/v1/sources/{source.id}/sync/").status_code == 404
    assert as_other_manager.delete(f"/api/v1/sources/{source.id}/").status_code == 404
    assert as_owner.get(LIST).status_code == 403  # reads the knowledge base, manages nothing
    assert as_outsider.get(LIST).status_code == 404  # does not know it exists
    for client in (as_owner, as_outsider):
        assert client.post(f"/api/v1/sources/{source.id}/sync/").status_code in (403, 404)
        assert client.get(f"/api/v1/sources/{source.id}/syncs/").status_code in (403, 404)
    assert Source.objects.filter(id=source.id).exists()


def test_it_queues_a_sync_now_and_refuses_a_second_while_one_runs(
    managers, as_manager, source, monkeypatch, django_capture_on_commit_callbacks
):
    from sources import tasks

    queued: list[tuple] = []
    monkeypatch.setattr(tasks.sync_source, "delay", lambda *args: queued.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        response = as_manager.post(f"/api/v1/sources/{source.id}/sync/")
    assert response.status_code == 202 and queued == [(source.id, SyncRun.Trigger.MANUAL, True)]
    # Queued and not started yet counts as running: a second one is not queued to find it running.
    assert as_manager.post(f"/api/v1/sources/{source.id}/sync/").status_code == 409
    assert len(queued) == 1


def test_it_lists_the_syncs_of_a_source(managers, as_manager, source):
    SyncRun.objects.create(
        source=source,
        trigger="schedule",
        status="partial",
        failed=1,
        problems=[{"location": "https://wiki.example.com/handbook/x", "reason": "HTTP 500"}],
    )
    runs = as_manager.get(f"/api/v1/sources/{source.id}/syncs/").json()["results"]
    assert [(run["status"], run["failed"]) for run in runs] == [("partial", 1)]
    assert runs[0]["problems"][0]["reason"] == "HTTP 500"
