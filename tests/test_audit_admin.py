"""The audit log in the admin: superusers and holders of "Can view audit event" read it, nobody adds,
changes or deletes an event, and the filtered list exports to CSV that Excel opens in Chinese."""

import asyncio
import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from audit.log import record
from audit.models import Event
from tests.conftest import person, signed_in

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:audit_event_changelist")
EXPORT = reverse("admin:audit_event_export")


def auditor(name: str = "erin", *, may_view: bool = True):
    """A staff member, with or without the permission to read the audit log."""
    staff = person(name)
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    if may_view:
        staff.user_permissions.add(Permission.objects.get(codename="view_event"))
    return staff


@pytest.fixture
def events() -> list[Event]:
    """Three events (the test clients' own sign-ins are recorded too, and left out below)."""
    return [
        record(Event.Kind.SIGN_IN_FAILED, username="张三"),
        record(Event.Kind.UPLOAD, username="alice", target="document:7", summary="年假制度.pdf"),
        record(Event.Kind.DELETE, username="bob", target="document:8", summary='=HYPERLINK("x")'),
    ]


def listed(client, **params) -> list[str]:
    response = client.get(CHANGELIST, params)
    assert response.status_code == 200
    return [event.summary for event in response.context["cl"].result_list if event.kind != "sign_in"]


def test_superusers_and_holders_of_the_permission_read_the_list(admin_client, events):
    assert listed(admin_client) == ['=HYPERLINK("x")', "年假制度.pdf", ""]
    assert listed(signed_in(auditor())) == ['=HYPERLINK("x")', "年假制度.pdf", ""]


def test_staff_without_the_permission_and_other_users_are_refused(events, user):
    assert signed_in(auditor(may_view=False)).get(CHANGELIST).status_code == 403
    response = signed_in(user).get(CHANGELIST)
    assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))


def test_it_filters_by_kind_and_user_name_and_searches(admin_client, events):
    assert listed(admin_client, kind__exact="upload") == ["年假制度.pdf"]
    assert listed(admin_client, q="张三") == [""]
    assert listed(admin_client, q="document:8") == ['=HYPERLINK("x")']


def test_it_filters_by_user(admin_client, user):
    record(Event.Kind.SIGN_OUT, user=user)
    record(Event.Kind.SIGN_OUT, username="someone else")
    shown = admin_client.get(CHANGELIST, {"user__id__exact": user.id}).context["cl"].result_list
    assert [(event.kind, event.username) for event in shown] == [("sign_out", "alice")]


def test_nobody_adds_changes_or_deletes_an_event_even_a_superuser(admin_client, events):
    event = events[1]
    change = reverse("admin:audit_event_change", args=[event.id])
    assert admin_client.get(reverse("admin:audit_event_add")).status_code == 403
    assert admin_client.post(change, {"summary": "edited"}).status_code == 403
    assert (
        admin_client.post(reverse("admin:audit_event_delete", args=[event.id]), {"post": "yes"}).status_code
        == 403
    )
    bulk = {"action": "delete_selected", "_selected_action": [event.id], "post": "yes"}
    admin_client.post(CHANGELIST, bulk)
    event.refresh_from_db()
    assert (event.summary, Event.objects.exclude(kind="sign_in").count()) == ("年假制度.pdf", 3)


def test_an_event_opens_read_only(admin_client, events):
    page = admin_client.get(reverse("admin:audit_event_change", args=[events[1].id])).content.decode()
    assert "年假制度.pdf" in page
    assert 'name="summary"' not in page and 'name="_save"' not in page


def exported(client, **params) -> str:
    response = client.get(EXPORT, params)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-log-')

    async def read() -> bytes:
        return b"".join([part async for part in response.streaming_content])

    body = asyncio.run(read())
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads the file as UTF-8
    return body.decode("utf-8-sig")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("sync_orm_in_async")
def test_the_export_is_csv_in_chinese_with_formulas_defused(admin_client, events):
    rows = list(csv.reader(io.StringIO(exported(admin_client, kind__in="delete,upload,sign_in_failed"))))
    assert rows[0] == ["Time", "Event", "User name", "Address", "Object", "Summary", "Detail"]
    assert [row[1:3] for row in rows[1:]] == [
        ["Deleted", "bob"],
        ["Document uploaded", "alice"],
        ["Sign-in failed", "张三"],
    ]
    assert rows[1][5] == '\'=HYPERLINK("x")' and rows[2][5] == "年假制度.pdf"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("sync_orm_in_async")
def test_the_export_has_the_filters_of_the_list_and_the_readers_language(admin_client, events):
    admin_client.cookies["django_language"] = "zh-hans"
    rows = list(csv.reader(io.StringIO(exported(admin_client, kind__exact="upload"))))
    assert len(rows) == 2 and rows[1][4:6] == ["document:7", "年假制度.pdf"]
    assert rows[0][0] == "时间"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("sync_orm_in_async")
def test_the_export_streams_every_row_in_batches(admin_client, monkeypatch):
    monkeypatch.setattr("audit.export.BATCH", 3)
    for number in range(8):
        record(Event.Kind.SIGN_OUT, username=f"user{number}")
    rows = list(csv.reader(io.StringIO(exported(admin_client, kind__exact="sign_out"))))
    assert [row[2] for row in rows[1:]] == [f"user{number}" for number in reversed(range(8))]


def test_the_export_is_refused_to_those_who_may_not_read_the_log(events, user):
    assert signed_in(auditor(may_view=False)).get(EXPORT).status_code == 403
    assert signed_in(user).get(EXPORT).status_code == 302


def test_an_invalid_filter_is_a_400(admin_client):
    assert admin_client.get(EXPORT, {"at__gte": "not a date"}).status_code == 400


def test_the_list_links_to_the_export_with_its_filters(admin_client, events):
    page = admin_client.get(CHANGELIST, {"kind__exact": "upload"}).content.decode()
    assert f'href="{EXPORT}?kind__exact=upload"' in page
