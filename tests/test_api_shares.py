"""Exporting and sharing conversations over the REST API: your own only, as on the pages."""

import json

import pytest

from audit.models import Event
from chat import sharing
from chat.models import Share
from tests.share_fixtures import REASONING, share_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("api_test")]


def _export(conversation_id: int) -> str:
    return f"/api/v1/conversations/{conversation_id}/export/"


def _shares(conversation_id: int) -> str:
    return f"/api/v1/conversations/{conversation_id}/shares/"


def test_it_exports_markdown_with_footnotes(as_owner, answered):
    response = as_owner.get(_export(answered.id), format="markdown", reasoning="true")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    body = response.content.decode()
    assert "[^1]: DeepSeek 指南.pdf, p. 3" in body and REASONING in body


def test_it_exports_json(as_owner, answered):
    response = as_owner.get(_export(answered.id), format="json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    data = json.loads(response.content)
    assert data["conversation"]["title"] == "模型参数 / parameters"
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"]
    assert Event.objects.get(kind=Event.Kind.EXPORT).detail["format"] == "json"


def test_it_refuses_an_unknown_format_by_name(as_owner, answered):
    response = as_owner.get(_export(answered.id), format="pdf")
    assert response.status_code == 400
    assert "format" in response.json()["error"]["fields"]


def test_only_the_owner_exports_or_lists_or_makes_links(as_other, as_outsider, anonymous, answered):
    for client in (as_other, as_outsider):
        assert client.get(_export(answered.id), format="json").status_code == 404
        assert client.get(_shares(answered.id)).status_code == 404
        assert client.post(_shares(answered.id), {}).status_code == 404
    assert anonymous.get(_export(answered.id)).status_code == 401
    assert anonymous.post(_shares(answered.id), {}).status_code == 401
    assert not Share.objects.exists() and not Event.objects.filter(kind=Event.Kind.EXPORT).exists()


def test_it_makes_a_link_that_opens_the_shared_page(as_owner, answered, client):
    response = as_owner.post(_shares(answered.id), {"show_reasoning": True})
    assert response.status_code == 201
    made = response.json()
    assert (made["conversation"], made["show_reasoning"]) == (answered.id, True)
    assert made["signed_in_only"] is False
    assert made["is_active"] and made["revoked_at"] is None
    page = client.get(made["url"].removeprefix("http://testserver"))
    assert page.status_code == 200 and REASONING in page.content.decode()


def test_it_lists_a_conversations_links_without_their_tokens(as_owner, answered):
    token = share_of(answered, signed_in_only=True)
    listed = as_owner.get(_shares(answered.id)).json()["results"]
    assert [(s["signed_in_only"], s["is_active"]) for s in listed] == [(True, True)]
    assert "url" not in listed[0] and token not in json.dumps(listed)


def test_it_revokes_a_link_for_its_owner_only(as_owner, as_other, as_outsider, anonymous, answered, client):
    token = share_of(answered)
    share = Share.objects.get()
    for other in (as_other, as_outsider):
        assert other.delete(f"/api/v1/shares/{share.id}/").status_code == 404
    assert anonymous.delete(f"/api/v1/shares/{share.id}/").status_code == 401
    assert client.get(f"/s/{token}/").status_code == 200
    assert as_owner.delete(f"/api/v1/shares/{share.id}/").status_code == 204
    assert as_owner.delete(f"/api/v1/shares/{share.id}/").status_code == 204  # again: still revoked
    assert client.get(f"/s/{token}/").status_code == 404
    assert as_owner.get(_shares(answered.id)).json()["results"][0]["is_active"] is False


def test_it_refuses_more_links_than_allowed(as_owner, answered, settings):
    settings.SHARE_MAX_ACTIVE_PER_USER = 1
    assert as_owner.post(_shares(answered.id), {}).status_code == 201
    refused = as_owner.post(_shares(answered.id), {})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "too_many_shares"
    sharing.share_revoke(share=Share.objects.get())
    assert as_owner.post(_shares(answered.id), {}).status_code == 201


def test_it_refuses_options_that_are_not_booleans(as_owner, answered):
    response = as_owner.post(_shares(answered.id), {"signed_in_only": "perhaps"})
    assert response.status_code == 400 and "signed_in_only" in response.json()["error"]["fields"]


def test_exports_share_the_pages_budget(as_owner, answered, settings):
    settings.EXPORT_RATE_PER_USER = "1/min"
    assert as_owner.get(_export(answered.id), format="json").status_code == 200
    refused = as_owner.get(_export(answered.id), format="json")
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "throttled"
