"""Sources in the admin: managers of the knowledge base only, credentials never shown again,
"sync now", and the sync records."""

import pytest
from django.contrib.auth.models import Permission

from sources import tasks
from sources.models import Source, SyncRun
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db
ADD = "/admin/sources/source/add/"


@pytest.fixture
def managers(manager, other_manager) -> None:
    permissions = Permission.objects.filter(content_type__app_label="sources")
    for someone in (manager, other_manager):
        someone.user_permissions.add(*permissions)


@pytest.fixture
def source(kb) -> Source:
    return Source.objects.create(
        knowledge_base=kb,
        name="Wiki",
        url="https://wiki.example.com/",
        auth=Source.Auth.BASIC,
        auth_username="bot",
        auth_secret="pa55word-kept",
    )


@pytest.fixture
def queued(monkeypatch) -> list[tuple]:
    sent: list[tuple] = []
    monkeypatch.setattr(tasks.sync_source, "delay", lambda *args: sent.append(args))
    return sent


def form(kb, **fields) -> dict:
    data = {
        "knowledge_base": kb.id,
        "name": "Wiki",
        "kind": "web",
        "url": "https://wiki.example.com/a/",
        "prefix": "",
        "path": "",
        "max_depth": 2,
        "max_pages": 100,
        "interval_minutes": 1440,
        "enabled": "on",
        "auth": "none",
        "auth_username": "",
        "auth_header_name": "",
        "secret": "",
        "runs-TOTAL_FORMS": 0,
        "runs-INITIAL_FORMS": 0,
        "runs-MIN_NUM_FORMS": 0,
        "runs-MAX_NUM_FORMS": 0,
    }
    return {**data, **fields}


def test_it_adds_a_source_with_a_secret_it_never_shows_again(managers, manager, kb):
    client = signed_in(manager)
    response = client.post(
        ADD, form(kb, auth="header", auth_header_name="Authorization", secret="Bearer t0ken")
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    source = Source.objects.get()
    assert source.auth_secret == "Bearer t0ken"
    page = client.get(f"/admin/sources/source/{source.id}/change/").content.decode()
    assert "t0ken" not in page and "Set." in page


def test_it_keeps_the_secret_when_saved_without_one_and_forgets_it_when_asked(managers, manager, kb, source):
    client = signed_in(manager)
    change = f"/admin/sources/source/{source.id}/change/"
    client.post(change, form(kb, auth="basic", auth_username="bot"))
    source.refresh_from_db()
    assert source.auth_secret == "pa55word-kept"
    client.post(change, form(kb, clear_secret="on"))
    source.refresh_from_db()
    assert source.auth_secret == ""


def test_it_refuses_a_knowledge_base_the_manager_does_not_manage(managers, other_manager, kb):
    response = signed_in(other_manager).post(ADD, form(kb))
    assert response.status_code == 200 and "knowledge_base" in response.context["adminform"].form.errors
    assert not Source.objects.exists()


def test_it_refuses_a_url_that_is_not_http(managers, manager, kb):
    response = signed_in(manager).post(ADD, form(kb, url="ftp://files.example.com/"))
    assert response.status_code == 200 and not Source.objects.exists()


def test_it_hides_sources_from_other_managers_and_staff_without_permission(
    managers, other_manager, user, source
):
    change = f"/admin/sources/source/{source.id}/change/"
    other = signed_in(other_manager)
    assert "Wiki" not in other.get("/admin/sources/source/").content.decode()
    assert other.get(change).status_code == 302  # "does not exist" and back to the admin index
    assert signed_in(user).get(change).status_code == 302  # not staff: the login page


def test_it_syncs_now_and_shows_the_record(
    managers, manager, kb, source, queued, django_capture_on_commit_callbacks
):
    client = signed_in(manager)
    change = f"/admin/sources/source/{source.id}/change/"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            change, form(kb, auth="basic", auth_username="bot", _sync_now="1"), follow=True
        )
    assert queued == [(source.id, SyncRun.Trigger.MANUAL, True)]
    assert "1 source queued to sync." in response.content.decode()
    run = SyncRun.objects.create(
        source=source,
        trigger="manual",
        status="partial",
        failed=1,
        problems=[{"location": "https://wiki.example.com/x", "reason": "HTTP 500"}],
        duplicates=[{"location": "https://wiki.example.com/y", "same_as": "https://wiki.example.com/z"}],
    )
    assert "Done, with failures" in client.get(change).content.decode()
    record = client.get(f"/admin/sources/syncrun/{run.id}/change/").content.decode()
    assert "https://wiki.example.com/x" in record and "HTTP 500" in record
    assert "<code>https://wiki.example.com/y</code> — https://wiki.example.com/z" in record


def test_it_says_a_sync_is_already_running_instead_of_queuing_a_second(
    managers, manager, kb, source, queued, django_capture_on_commit_callbacks
):
    client = signed_in(manager)
    action = {"action": "sync_now", "_selected_action": [source.id]}
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post("/admin/sources/source/", action, follow=True).content.decode()
        second = client.post("/admin/sources/source/", action, follow=True).content.decode()
        button = client.post(
            f"/admin/sources/source/{source.id}/change/",
            form(kb, auth="basic", auth_username="bot", _sync_now="1"),
            follow=True,
        ).content.decode()
    assert queued == [(source.id, SyncRun.Trigger.MANUAL, True)]  # queued, not started yet
    assert "1 source queued to sync." in first
    for page in (second, button):
        assert "A sync is already running (or queued) for: Wiki." in page and "queued to sync" not in page


def test_it_deletes_a_source_with_its_documents(managers, manager, kb, source, tmp_path):
    from knowledge.models import Document
    from sources.models import SourceItem
    from tests.conftest import ingest

    path = tmp_path / "page.html"
    path.write_text("<p>Synced page.</p>")
    document = ingest(kb, path)
    SourceItem.objects.create(
        source=source, location="https://wiki.example.com/page", document=document, content_hash="x"
    )
    signed_in(manager).post(f"/admin/sources/source/{source.id}/delete/", {"post": "yes"})
    assert not Source.objects.exists() and not Document.objects.exists()
