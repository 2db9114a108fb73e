import pytest

from audit.log import record
from audit.models import AppendOnlyError, Event

pytestmark = pytest.mark.django_db


def test_it_records_the_user_by_account_and_by_name(django_user_model):
    user = django_user_model.objects.create_user("auditee")
    event = record(Event.Kind.UPLOAD, user=user, target="document:7", summary="guide.md", size=12)
    event.refresh_from_db()
    assert (event.user, event.username, event.target, event.detail) == (
        user,
        "auditee",
        "document:7",
        {"size": 12},
    )


def test_it_keeps_the_name_of_someone_who_is_not_a_user():
    event = record(Event.Kind.SIGN_IN_FAILED, username="nobody")
    assert (event.user, event.username) == (None, "nobody")


def test_it_keeps_the_event_when_the_user_is_deleted(django_user_model):
    user = django_user_model.objects.create_user("leaver")
    record(Event.Kind.SIGN_IN, user=user)
    user.delete()
    assert Event.objects.get().username == "leaver"


def test_it_refuses_to_change_or_delete_events():
    event = record(Event.Kind.SIGN_OUT, username="x")
    event.summary = "edited"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        Event.objects.filter(id=event.id).update(summary="edited")
    with pytest.raises(AppendOnlyError):
        Event.objects.all().delete()
    assert Event.objects.get().summary == ""
