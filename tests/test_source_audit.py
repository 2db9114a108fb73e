"""Sources in the audit log: added, changed (which settings; of credentials only that they changed),
deleted, and every sync with what it did."""

import json

import pytest

from audit.models import Event
from sources import syncing
from sources.models import Source, SyncRun
from tests.conftest import signed_in
from tests.test_admin_sources import form
from tests.test_api_sources import may_manage_sources, new

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("api_test")]
SECRETS = ("pa55word", "n3w-s3cret", "Bearer s3cret-token")


@pytest.fixture
def source(kb, manager) -> Source:
    may_manage_sources(manager)
    return Source.objects.create(
        knowledge_base=kb,
        name="Wiki",
        url="https://wiki.example.com/handbook/",
        auth=Source.Auth.HEADER,
        auth_header_name="Authorization",
        auth_secret="Bearer s3cret-token",
    )


def source_events(kind: Event.Kind) -> list[Event]:
    events = list(Event.objects.filter(kind=kind))
    written = json.dumps([[event.summary, event.detail] for event in events])
    assert not any(secret in written for secret in SECRETS)
    return events


def test_it_records_a_new_source(manager, as_manager, kb):
    may_manage_sources(manager)
    as_manager.post(
        "/api/v1/knowledge-bases/guide/sources/", new(auth="basic", auth_username="b", secret="pa55word")
    )
    [event] = source_events(Event.Kind.SOURCE)
    assert (event.user, event.target) == (manager, f"source:{Source.objects.get().id}")
    assert event.summary == "Wiki: added" and event.detail["credentials_set"] is True


def test_it_records_the_settings_that_changed_and_only_that_credentials_did(manager, as_manager, source):
    as_manager.patch(f"/api/v1/sources/{source.id}/", {"max_pages": 50, "secret": "n3w-s3cret"})
    as_manager.patch(f"/api/v1/sources/{source.id}/", {"max_pages": 50})  # no change: no event
    [event] = source_events(Event.Kind.SOURCE)
    assert event.summary == "Wiki: max_pages, credentials changed"
    assert event.detail["changes"] == {"max_pages": [100, 50]}
    assert event.detail["credentials_changed"] is True


def test_it_records_a_change_in_the_admin(manager, kb, source):
    change = f"/admin/sources/source/{source.id}/change/"
    data = form(kb, url="https://wiki.example.com/handbook/new/", auth="basic", auth_username="bot")
    signed_in(manager).post(change, {**data, "secret": "pa55word"})
    [event] = source_events(Event.Kind.SOURCE)
    assert event.user == manager
    assert set(event.detail["changes"]) == {"url", "auth", "auth_username", "auth_header_name"}
    assert event.detail["changes"]["url"][1] == "https://wiki.example.com/handbook/new/"
    assert event.detail["credentials_changed"] is True


def test_it_records_a_deleted_source(manager, as_manager, source):
    as_manager.delete(f"/api/v1/sources/{source.id}/")
    [event] = source_events(Event.Kind.DELETE)
    assert (event.user, event.target, event.summary) == (manager, f"source:{source.id}", "Wiki")
    assert event.detail["documents"] == 0


def test_it_records_each_sync_with_its_counts(kb, site, sent):
    source = Source.objects.create(knowledge_base=kb, name="Handbook", url=f"{site.base}/docs/index.html")
    run = syncing.source_sync(source_id=source.id, trigger=SyncRun.Trigger.MANUAL)
    assert run is not None
    [event] = source_events(Event.Kind.SOURCE_SYNC)
    assert event.target == f"source:{source.id}" and event.user is None
    assert event.summary == "Handbook: partial · 5 added, 0 changed, 0 unchanged, 0 removed, 2 failed"
    assert event.detail["sync"] == run.id
    assert {key: event.detail[key] for key in ("added", "failed", "status")} == {
        "added": 5,
        "failed": 2,
        "status": "partial",
    }
