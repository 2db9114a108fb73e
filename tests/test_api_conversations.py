"""Conversations over the REST API: own only; asking as JSON or as the chat page's SSE events."""

import json
from unittest.mock import Mock

import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError
from django.test import Client

from api import authentication
from api.services import api_key_create, api_key_revoke
from chat.models import Conversation, Message
from tests.api_fixtures import key_for
from tests.sse import events_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("api_test")]
CONVERSATIONS = "/api/v1/conversations/"
QUESTION = "DeepSeek-V3 有多少参数？"


@pytest.fixture
def conversation(user, kb) -> Conversation:
    started = Conversation.objects.create(user=user, title="Alice's secret")
    started.knowledge_bases.set([kb])
    Message.objects.create(conversation=started, role="user", content="salary question")
    return started


def test_it_creates_a_conversation_on_a_readable_knowledge_base(as_owner, user, kb):
    response = as_owner.post(CONVERSATIONS, {"knowledge_bases": ["guide"], "title": "假期"})
    assert response.status_code == 201
    assert response.json()["knowledge_bases"] == ["guide"]
    assert Conversation.objects.get(id=response.json()["id"]).user == user


def test_it_refuses_a_knowledge_base_the_user_may_not_read(as_outsider, kb):
    response = as_outsider.post(CONVERSATIONS, {"knowledge_bases": ["guide"]})
    assert response.status_code == 400
    assert "knowledge_bases" in response.json()["error"]["fields"]
    assert not Conversation.objects.exists()


def test_it_refuses_an_unknown_model(as_owner, kb, llm):
    response = as_owner.post(CONVERSATIONS, {"knowledge_bases": ["guide"], "model": "GPT-9"})
    assert response.status_code == 400 and "model" in response.json()["error"]["fields"]


def test_it_lists_only_ones_own_conversations(as_owner, as_other, conversation):
    assert [c["title"] for c in as_owner.get(CONVERSATIONS).json()["results"]] == ["Alice's secret"]
    assert as_other.get(CONVERSATIONS).json()["results"] == []


def test_it_shows_a_conversation_with_its_messages_to_its_owner_only(
    as_owner, as_other, as_outsider, conversation
):
    url = f"{CONVERSATIONS}{conversation.id}/"
    assert [m["content"] for m in as_owner.get(url).json()["messages"]] == ["salary question"]
    for client in (as_other, as_outsider):
        response = client.get(url)
        assert response.status_code == 404 and "salary" not in response.content.decode()


def test_only_the_owner_renames_or_deletes(as_owner, as_other, conversation):
    url = f"{CONVERSATIONS}{conversation.id}/"
    assert as_other.patch(url, {"title": "mine now"}).status_code == 404
    assert as_other.delete(url).status_code == 404
    assert as_owner.patch(url, {"title": "年假问题"}).json()["title"] == "年假问题"
    assert (
        as_owner.client.put(url, "{}", content_type="application/json", headers=as_owner.headers).status_code
        == 405
    )
    assert as_owner.delete(url).status_code == 204
    assert not Conversation.objects.exists()


def test_it_answers_as_json_with_reasoning_and_citations(as_owner, conversation, guide, llm):
    llm.script(reasoning="资料 [1] 说是 6710 亿。", content="DeepSeek-V3 有 6710 亿参数 [citation:1]。")
    response = as_owner.post(f"{CONVERSATIONS}{conversation.id}/ask/", {"question": QUESTION})
    assert response.status_code == 200
    message = response.json()
    assert message["role"] == "assistant" and message["status"] == "complete"
    assert message["content"] == "DeepSeek-V3 有 6710 亿参数 [1]。"
    assert message["reasoning"] == "资料 [1] 说是 6710 亿。"
    assert "6710亿（671B）" in message["citations"][0]["text"]
    assert message["usage"]["prompt_tokens"] > 0
    assert conversation.messages.count() == 3


def test_an_upstream_failure_is_an_error_with_the_saved_message(as_owner, conversation, guide, llm):
    llm.script(status=402)
    response = as_owner.post(f"{CONVERSATIONS}{conversation.id}/ask/", {"question": QUESTION})
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "balance" and "balance" in error["message"]
    assert Message.objects.get(id=error["message_id"]).status == Message.Status.FAILED


def test_nobody_else_can_ask_in_a_conversation(as_other, as_outsider, conversation, guide):
    for client in (as_other, as_outsider):
        response = client.post(f"{CONVERSATIONS}{conversation.id}/ask/", {"question": QUESTION})
        assert response.status_code == 404
    assert conversation.messages.count() == 1


def test_asking_needs_a_question(as_owner, conversation):
    response = as_owner.post(f"{CONVERSATIONS}{conversation.id}/ask/", {"question": ""})
    assert response.status_code == 400 and "question" in response.json()["error"]["fields"]


@pytest.mark.anyio
async def test_it_streams_the_chat_page_events(async_client, user, conversation, guide, llm):
    secret = await sync_to_async(key_for)(user)
    llm.script(reasoning="想一想。", content="6710 亿 [1]。")
    response = await async_client.post(
        f"{CONVERSATIONS}{conversation.id}/ask/",
        json.dumps({"question": QUESTION, "stream": True}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response["Content-Type"].startswith("text/event-stream")
    body = b"".join([part async for part in response.streaming_content])
    events = events_in(body)
    names = [name for name, _ in events]
    assert names[0] == "meta" and names[-1] == "done" and "reasoning" in names
    assert "".join(data["text"] for name, data in events if name == "reasoning") == "想一想。"
    assert "6710 亿".encode() in body  # UTF-8 on the wire, not \\u escapes
    assert events[-1][1]["citations"][0]["n"] == 1
    assert await conversation.messages.acount() == 3


def test_a_session_must_send_the_csrf_token_to_ask(user, conversation):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    url = f"{CONVERSATIONS}{conversation.id}/ask/"
    response = browser.post(url, {"question": QUESTION}, content_type="application/json")
    assert response.status_code == 403 and "CSRF" in response.json()["error"]["message"]
    assert conversation.messages.count() == 1


@pytest.mark.anyio
async def test_revoking_the_key_ends_its_open_stream_and_keeps_what_was_said(
    async_client, user, conversation, guide, llm
):
    key, secret = await sync_to_async(api_key_create)(user=user, name="wiki bot")
    llm.script(reasoning="想" * 200, chunk_chars=1, delay=0.05)  # ten seconds of reasoning
    response = await async_client.post(
        f"{CONVERSATIONS}{conversation.id}/ask/",
        json.dumps({"question": QUESTION, "stream": True}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )
    body = []
    async for part in response.streaming_content:
        body.append(part)
        if len(body) == 5:
            await sync_to_async(api_key_revoke)(api_key=key)
    events = events_in(b"".join(body))
    assert events[-2][0] == "error" and events[-2][1]["code"] == "invalid_api_key"
    assert events[-1][0] == "done" and events[-1][1]["status"] == "failed"
    reasoning = "".join(data["text"] for name, data in events if name == "reasoning")
    assert 0 < len(reasoning) < 100  # of 200
    answer = await Message.objects.aget(id=events[-1][1]["message_id"])
    assert (answer.status, answer.error_code, answer.reasoning) == ("failed", "invalid_api_key", reasoning)
    assert await sync_to_async(llm.hangs_up)()


def test_no_free_database_connection_is_a_503_error_body_not_a_page(as_owner, conversation, monkeypatch):
    timeout = OperationalError("couldn't get a connection after 60.00 sec")
    monkeypatch.setattr(authentication, "api_key_for_secret", Mock(side_effect=timeout))
    as_owner.client.raise_request_exception = False
    response = as_owner.post(f"{CONVERSATIONS}{conversation.id}/ask/", {"question": QUESTION})
    assert response.status_code == 503 and response.json()["error"]["code"] == "unavailable"
