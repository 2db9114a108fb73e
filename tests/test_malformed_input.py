"""Malformed ids, forms and JSON are a 400 naming the problem, never a 500."""

import pytest
from django.urls import reverse

from chat.models import Conversation
from tests.api_fixtures import ApiClient, key_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("api_test")]
NOT_IDS = ["²", "٣", "9" * 30, str(2**63), "-1", "1.0", " 1", ""]


def test_the_conversation_list_refuses_a_current_that_is_not_an_id(client, user, exchange):
    client.force_login(user)
    response = client.get(reverse("chat:conversations"), {"current": "abc"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "“current” is not a valid id."
    listed = client.get(reverse("chat:conversations"), {"current": exchange.id})
    assert listed.status_code == 200 and "is-current" in listed.content.decode()


def test_asking_and_resending_refuse_knowledge_bases_that_are_not_ids(client, user, kb, exchange):
    client.force_login(user)
    for value in NOT_IDS:
        asked = client.post(reverse("chat:ask"), {"question": "Leave?", "knowledge_base": [kb.id, value]})
        assert asked.status_code == 400, value
        assert asked.json()["error"]["message"] == "“knowledge_base” is not a valid id."
        resent = client.post(reverse("chat:resend", args=[exchange.id]), {"knowledge_base": value})
        assert resent.status_code == 400, value
    assert Conversation.objects.count() == 1 and exchange.messages.count() == 2


def test_asking_refuses_a_conversation_that_is_not_an_id(client, user, kb, exchange):
    client.force_login(user)
    for value in NOT_IDS[:-1]:  # none: a new conversation
        response = client.post(reverse("chat:ask"), {"question": "Leave?", "conversation": value})
        assert response.status_code == 400, value
        assert response.json()["error"]["message"] == "“conversation” is not a valid id."
    assert exchange.messages.count() == 2


def test_deeply_nested_json_is_a_400_in_each_apis_error_shape(user, kb):
    api = ApiClient(key_for(user))
    nested = "[" * 100_000
    rest = api.post_json_text("/api/v1/conversations/", nested)
    assert rest.status_code == 400
    assert rest.json()["error"] == {"code": "too_deep", "message": "The JSON is nested too deeply."}
    v1 = api.post_json_text("/v1/chat/completions", nested)
    assert v1.status_code == 400
    assert v1.json()["error"]["type"] == "invalid_request_error" and v1.json()["error"]["code"] == "too_deep"


def test_a_form_that_cannot_be_read_is_a_400(client, user, exchange):
    client.force_login(user)
    url = reverse("chat:rename", args=[exchange.id])
    response = client.post(url, b"title=Mine", content_type="multipart/form-data")  # no boundary
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "The form data could not be read."
    exchange.refresh_from_db()
    assert exchange.title == "Leave"


def test_a_next_address_that_is_a_single_word_is_no_server_error(client, user, exchange):
    client.force_login(user)
    response = client.post(reverse("chat:rename", args=[exchange.id]), {"title": "Annual leave", "next": "0"})
    assert response.status_code == 302  # was a 500: redirect() took "0" for the name of a view
    exchange.refresh_from_db()
    assert exchange.title == "Annual leave"


@pytest.mark.parametrize("value", ["²", "٣", "99999999999999999999"])
def test_the_document_admin_refuses_ids_that_are_not_ids(client, manager, kb, value):
    client.force_login(manager)
    assert client.get("/admin/knowledge/document/progress/", {"ids": f"1,{value}"}).status_code == 400
    listing = client.get("/admin/knowledge/document/", {"knowledge_base__id__exact": value})
    assert listing.status_code < 500
    again = client.post("/admin/knowledge/document/reindex-failed/", {"knowledge_base": value})
    assert again.status_code == 302
