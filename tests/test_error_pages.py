"""Error pages in the site's look, with a way back to the chat, as served with DEBUG off (the tests'
setting); the 500 page renders with neither the database nor the context processors."""

import copy

import pytest
from django.contrib.auth.models import Permission
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path, reverse

from chat.models import Conversation
from chatsite import urls as site_urls
from chatsite.content_security import POLICY
from tests.conftest import person, signed_in


def broken_view(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


def failing_context_processor(request: HttpRequest) -> dict:
    raise RuntimeError("a context processor that needs what has failed")


urlpatterns = [path("broken/", broken_view), *site_urls.urlpatterns]


def assert_error_page(response, status: int, heading: str) -> None:
    page = response.content.decode()
    assert response.status_code == status
    assert f"<h1>{heading}</h1>" in page and f'<p class="error-code">{status}</p>' in page
    assert f'href="{reverse("chat:home")}"' in page and "/static/css/app.css" in page
    assert response["Content-Security-Policy"] == POLICY
    assert "<script" not in page and "style=" not in page  # nothing the policy would refuse


@pytest.mark.django_db
def test_it_shows_a_deleted_conversation_as_not_found(user):
    conversation = Conversation.objects.create(user=user, title="Holidays")
    url = conversation.get_absolute_url()
    conversation.delete()
    client = signed_in(user)
    assert_error_page(client.get(url), 404, "Page not found")
    assert_error_page(client.get(url, HTTP_ACCEPT_LANGUAGE="zh-CN"), 404, "页面不存在")


@pytest.mark.django_db
def test_it_shows_another_users_conversation_as_not_found(user, other):
    conversation = Conversation.objects.create(user=user, title="Holidays")
    assert_error_page(signed_in(other).get(conversation.get_absolute_url()), 404, "Page not found")


@pytest.mark.django_db
def test_it_shows_a_page_refused_as_not_allowed(db):
    clerk = person("clerk")  # staff, but may not add documents
    clerk.is_staff = True
    clerk.save()
    clerk.user_permissions.add(Permission.objects.get(codename="view_document"))
    response = signed_in(clerk).get(reverse("admin:knowledge_document_add"), HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert_error_page(response, 403, "无权访问")


@pytest.mark.urls(__name__)
def test_a_server_error_page_needs_no_database_nor_context_processors(settings):
    # No django_db mark: any query in rendering the page fails the test.
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["OPTIONS"]["context_processors"].append(f"{__name__}.failing_context_processor")
    settings.TEMPLATES = templates
    client = Client(raise_request_exception=False)
    assert_error_page(client.get("/broken/"), 500, "Something went wrong")
    assert_error_page(client.get("/broken/", HTTP_ACCEPT_LANGUAGE="zh-CN"), 500, "出错了")


@pytest.mark.django_db
def test_it_shows_a_form_refused_for_its_csrf_token_as_expired(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    conversation = Conversation.objects.create(user=user, title="Holidays")
    url = reverse("chat:rename", args=[conversation.id])
    assert_error_page(client.post(url, {"title": "Leave"}), 403, "This page has expired")
    assert_error_page(client.post(url, {"title": "Leave"}, HTTP_ACCEPT_LANGUAGE="zh-CN"), 403, "页面已过期")
    assert Conversation.objects.get().title == "Holidays"
