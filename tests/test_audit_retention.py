"""The retention purge: old events go, recent ones stay, and the purge is itself recorded; daily from
the sweeper's beat, or by hand with `manage.py purge_audit_log`."""

from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit import retention
from audit.models import AskedKnowledgeBase, Event
from audit.tasks import purge_audit_log

pytestmark = pytest.mark.django_db


def event_aged(days: float, kind: Event.Kind = Event.Kind.SIGN_IN) -> Event:
    return Event.objects.create(kind=kind, username="alice", at=timezone.now() - timedelta(days=days))


def test_it_removes_old_events_keeps_recent_ones_and_records_itself():
    old, older, recent = event_aged(400), event_aged(800), event_aged(300)
    now = timezone.now()
    purge = retention.purge_expired(days=365, now=now)
    assert (purge.removed, purge.cutoff) == (2, now - timedelta(days=365))
    assert not Event.objects.filter(id__in=[old.id, older.id]).exists()
    recorded = Event.objects.get(kind=Event.Kind.PURGE)
    assert recorded.detail == {"removed": 2, "cutoff": purge.cutoff.isoformat(), "retention_days": 365}
    assert set(Event.objects.values_list("id", flat=True)) == {recent.id, recorded.id}


def test_the_knowledge_bases_of_a_purged_question_go_with_it_and_are_not_counted_as_events():
    old, recent = event_aged(400, Event.Kind.QUESTION), event_aged(300, Event.Kind.QUESTION)
    for event in (old, recent):
        AskedKnowledgeBase.objects.create(event=event, knowledge_base_id=1, name="Guide")
    assert retention.purge_expired(days=365).removed == 1
    assert list(AskedKnowledgeBase.objects.values_list("event_id", flat=True)) == [recent.id]


def test_a_retention_of_zero_days_keeps_everything():
    event_aged(5000)
    assert retention.purge_expired(days=0) == retention.Purge(removed=0, cutoff=None)
    assert list(Event.objects.values_list("kind", flat=True)) == ["sign_in"]


def test_nothing_expired_records_nothing():
    event_aged(1)
    assert retention.purge_expired(days=30).removed == 0
    assert not Event.objects.filter(kind=Event.Kind.PURGE).exists()


def test_an_earlier_purge_record_is_purged_in_its_turn():
    event_aged(40, Event.Kind.PURGE)
    retention.purge_expired(days=30)
    assert Event.objects.get(kind=Event.Kind.PURGE).detail["removed"] == 1


def test_the_periodic_task_keeps_the_configured_days(settings):
    settings.AUDIT_RETENTION_DAYS = 30
    event_aged(31)
    event_aged(29)
    assert purge_audit_log() == 1
    assert Event.objects.exclude(kind=Event.Kind.PURGE).count() == 1


def test_the_sweeper_runs_the_task_daily_on_its_own_queue():
    entry = django_settings.CELERY_BEAT_SCHEDULE["purge-audit-log"]
    assert (entry["task"], entry["schedule"]) == ("audit.tasks.purge_audit_log", 86400.0)
    assert django_settings.CELERY_TASK_ROUTES[entry["task"]] == {"queue": django_settings.SWEEP_QUEUE}
    assert purge_audit_log.name == entry["task"]


def test_the_command_purges_with_the_setting_or_the_days_given(settings):
    settings.AUDIT_RETENTION_DAYS = 100
    event_aged(50)
    event_aged(150)
    out = StringIO()
    call_command("purge_audit_log", stdout=out)
    assert out.getvalue().startswith("Removed 1 audit events from before ")
    call_command("purge_audit_log", "--days", "40", stdout=StringIO())
    assert Event.objects.filter(kind=Event.Kind.SIGN_IN).count() == 0


def test_the_command_says_when_events_are_kept_forever(settings):
    settings.AUDIT_RETENTION_DAYS = 0
    out = StringIO()
    call_command("purge_audit_log", stdout=out)
    assert "kept forever" in out.getvalue()


def test_the_command_refuses_negative_days():
    with pytest.raises(CommandError, match="--days must be 0 or more"):
        call_command("purge_audit_log", "--days", "-1")


def test_the_command_refuses_to_keep_less_than_the_month_quotas_count():
    event_aged(20)
    with pytest.raises(CommandError, match="--days must be 0 or at least 32: quotas count a month"):
        call_command("purge_audit_log", "--days", "31")
    assert Event.objects.count() == 1
