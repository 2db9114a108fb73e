"""The beat entry sends the syncs of the sources whose time has come, once each."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from sources import syncing, tasks
from sources.models import Source, SyncRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch) -> list[tuple]:
    sent: list[tuple] = []
    monkeypatch.setattr(tasks.sync_source, "delay", lambda *args: sent.append(args))
    return sent


def source(kb, name: str, **fields) -> Source:
    return Source.objects.create(knowledge_base=kb, name=name, url=f"https://{name}.example.com/", **fields)


def test_it_sends_due_sources_once(kb, queued, django_capture_on_commit_callbacks):
    now = timezone.now()
    due = source(kb, "due", next_sync_at=now - timedelta(minutes=1))
    new = source(kb, "new")
    source(kb, "later", next_sync_at=now + timedelta(hours=1))
    source(kb, "manual", interval_minutes=0)
    source(kb, "off", enabled=False)
    source(kb, "busy", syncing_since=now)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.sync_due_sources() == 2
        assert tasks.sync_due_sources() == 0
    assert sorted(queued) == sorted(
        [(due.id, SyncRun.Trigger.SCHEDULE, True), (new.id, SyncRun.Trigger.SCHEDULE, True)]
    )
    due.refresh_from_db()
    assert due.next_sync_at > now + timedelta(minutes=due.interval_minutes - 1)


def test_a_sync_left_running_too_long_is_taken_as_dead(kb, queued, django_capture_on_commit_callbacks):
    stale = timezone.now() - timedelta(seconds=settings.SOURCE_SYNC_STALE_SECONDS + 1)
    busy = source(kb, "busy", syncing_since=stale)
    with django_capture_on_commit_callbacks(execute=True):
        assert syncing.source_sync_later(source=busy, trigger=SyncRun.Trigger.MANUAL)
    assert queued == [(busy.id, SyncRun.Trigger.MANUAL, True)]


def test_the_beat_schedule_runs_the_sweep_on_the_sweep_queue():
    entry = settings.CELERY_BEAT_SCHEDULE["sync-due-sources"]
    assert entry["task"] == tasks.sync_due_sources.name
    assert settings.CELERY_TASK_ROUTES[entry["task"]]["queue"] == settings.SWEEP_QUEUE
