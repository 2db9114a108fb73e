"""Chat widgets in the admin: scoped as the knowledge bases are (a manager gives a widget only
knowledge bases they manage, and sees only such widgets), each with its snippet, listed on its
knowledge base's page, a token widget's secret shown once, and every change audited."""

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from audit.models import Event
from tests.conftest import signed_in
from tests.test_admin import messages_of
from widgets import tokens
from widgets.models import Widget

ADD = reverse("admin:widgets_widget_add")
ORIGIN = "https://intranet.example.com"


def with_widget_permissions(manager: User) -> Client:
    manager.user_permissions.add(*Permission.objects.filter(content_type__app_label="widgets"))
    return signed_in(manager)


def form(kb, **fields) -> dict:
    return {
        "name": "Intranet help",
        "knowledge_bases": [kb.id],
        "allowed_origins": f"{ORIGIN}/ \n\nhttp://LOCALHOST:8000",
        "access": Widget.Access.ANONYMOUS,
        "rate": "10/min",
        "questions_per_day": 100,
        "enabled": "on",
        **fields,
    }


@pytest.fixture
def owner_admin(manager) -> Client:
    return with_widget_permissions(manager)


def test_it_creates_a_widget_with_its_origins_normalised_and_audited(owner_admin, manager, kb):
    response = owner_admin.post(ADD, form(kb))
    assert response.status_code == 302
    widget = Widget.objects.get()
    assert widget.origin_list() == [ORIGIN, "http://localhost:8000"] and widget.created_by == manager
    event = Event.objects.get(kind=Event.Kind.WIDGET)
    assert event.detail["action"] == "created" and event.detail["knowledge_bases"] == ["Guide"]


NOT_ORIGINS = ["https://*.example.com", "intranet.example.com", "https://a.com/path", ""]


@pytest.mark.parametrize("origins", NOT_ORIGINS)
def test_it_refuses_origins_that_are_not_bare_origins(owner_admin, kb, origins):
    response = owner_admin.post(ADD, form(kb, allowed_origins=origins))
    assert response.status_code == 200 and response.context["adminform"].form.errors["allowed_origins"]
    assert not Widget.objects.exists()


def test_a_manager_cannot_give_a_widget_another_groups_knowledge_base(owner_admin, kb, other_kb):
    response = owner_admin.post(ADD, form(kb, knowledge_bases=[kb.id, other_kb.id]))
    assert response.status_code == 200 and response.context["adminform"].form.errors["knowledge_bases"]
    assert not Widget.objects.exists()


def test_a_manager_sees_only_widgets_of_knowledge_bases_they_manage(owner_admin, kb, other_kb):
    theirs = Widget.objects.create(name="Sales help", allowed_origins=ORIGIN)
    theirs.knowledge_bases.set([other_kb])
    assert owner_admin.get(reverse("admin:widgets_widget_change", args=[theirs.pk])).status_code == 302
    listed = owner_admin.get(reverse("admin:widgets_widget_changelist")).context["cl"].result_list
    assert list(listed) == []


def test_its_page_shows_the_snippet_and_its_knowledge_base_lists_it(owner_admin, kb):
    owner_admin.post(ADD, form(kb))
    widget = Widget.objects.get()
    page = owner_admin.get(reverse("admin:widgets_widget_change", args=[widget.pk])).content.decode()
    assert f"&lt;script src=&quot;http://testserver/widget/{widget.key}/loader.js&quot; async&gt;" in page
    kb_page = owner_admin.get(reverse("admin:knowledge_knowledgebase_change", args=[kb.id])).content.decode()
    assert reverse("admin:widgets_widget_change", args=[widget.pk]) in kb_page
    assert f"{ADD}?knowledge_bases={kb.id}" in kb_page


def test_a_token_widget_shows_its_secret_once_and_a_new_one_on_request(owner_admin, kb):
    response = owner_admin.post(ADD, form(kb, access=Widget.Access.TOKEN), follow=True)
    widget = Widget.objects.get()
    secret = next(m for m in messages_of(response) if "shown this once" in m).rsplit(" ", 1)[1]
    assert tokens.secret_matches(widget, secret)
    change = reverse("admin:widgets_widget_change", args=[widget.pk])
    page = owner_admin.get(change).content.decode()
    assert secret not in page and "data-token" in page
    owner_admin.post(change, form(kb, access=Widget.Access.TOKEN, new_secret="on"))
    widget.refresh_from_db()
    assert not tokens.secret_matches(widget, secret)
    assert Event.objects.filter(kind=Event.Kind.WIDGET, detail__action="new-secret").count() == 2


def test_widget_questions_are_found_in_the_audit_admin(admin_client, kb):
    Event.objects.create(kind=Event.Kind.QUESTION, detail={"via": "widget:Intranet help"})
    Event.objects.create(kind=Event.Kind.QUESTION, detail={})
    found = admin_client.get(reverse("admin:audit_event_changelist"), {"q": "widget:"}).context["cl"]
    assert found.result_count == 1
