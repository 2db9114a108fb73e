"""With the language model out of reach, staff get a plain message and the passages; administrators
also get the technical detail. The chat page and the REST ask fall back to the passages; /v1 keeps
OpenAI's error object (a program asked for the model's answer)."""

import asyncio
import json

import pytest
from django.core.management import call_command

from chat import answering, providers
from chat.models import Conversation, Message
from tests.conftest import QUESTION, ask, signed_in
from tests.processes import free_port
from tests.scripted_model import UNREACHABLE, ScriptedModel

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("api_test")]


@pytest.fixture
def unreachable(llm, monkeypatch) -> None:
    monkeypatch.setattr(providers, "stream_chat", ScriptedModel(UNREACHABLE))


def make_staff(user) -> None:
    user.is_staff = True
    user.save(update_fields=["is_staff"])


def test_the_chat_page_gets_the_passages_and_a_plain_message(user, kb, guide, unreachable):
    events = ask(user, kb)
    assert [name for name, _ in events] == ["meta", "searching", "passages", "content", "done"]
    done = events[-1][1]
    assert (done["mode"], done["status"]) == ("retrieval-only", "complete") and done["citations"]
    assert "The language model could not be reached" in done["html"] and "6710亿" in done["html"]
    assert "gpu-7.internal" not in str(events) and "error_detail" not in done
    answer = Message.objects.get(role=Message.Role.ASSISTANT)
    assert (answer.mode, answer.status, answer.error_code) == ("retrieval-only", "complete", "unreachable")
    assert answer.error == UNREACHABLE.message


def test_the_chat_page_gives_administrators_the_detail(user, kb, guide, unreachable):
    make_staff(user)
    done = ask(user, kb)[-1][1]
    assert "Detail for administrators" in done["html"] and "gpu-7.internal" in done["html"]
    assert done["error_detail"] == UNREACHABLE.detail
    assert "gpu-7.internal" not in Message.objects.get(role=Message.Role.ASSISTANT).error


def test_a_reloaded_page_still_says_why_the_passages_are_shown(user, kb, guide, unreachable):
    ask(user, kb)
    answer = Message.objects.get(role=Message.Role.ASSISTANT)
    html = answering.answer_html(answer, answering.citation_cards(answer.citations))
    assert "The language model could not be reached" in html and "No language model is configured" not in html


def test_a_reloaded_page_gives_administrators_the_detail(user, kb, guide, unreachable):
    make_staff(user)
    ask(user, kb)
    conversation = Conversation.objects.get()
    page = signed_in(user).get(conversation.get_absolute_url()).content.decode()
    assert "Detail for administrators" in page and "gpu-7.internal" in page


def test_a_reloaded_page_keeps_the_detail_from_ordinary_users(user, kb, guide, unreachable):
    ask(user, kb)
    assert Message.objects.get(role=Message.Role.ASSISTANT).error_detail == UNREACHABLE.detail
    page = signed_in(user).get(Conversation.objects.get().get_absolute_url()).content.decode()
    assert "The language model could not be reached" in page
    assert "Detail for administrators" not in page and "gpu-7.internal" not in page


@pytest.mark.parametrize("staff", [False, True])
def test_a_reloaded_failed_answer_gives_only_administrators_the_detail(
    user, kb, guide, llm, monkeypatch, staff
):
    broken = providers.Error(
        "upstream_error", "The model stopped answering.", detail="HTTP 500 from gpu-7.internal"
    )
    monkeypatch.setattr(providers, "stream_chat", ScriptedModel(providers.Content("Half an"), broken))
    if staff:
        make_staff(user)
    ask(user, kb)
    assert Message.objects.get(role=Message.Role.ASSISTANT).status == Message.Status.FAILED
    page = signed_in(user).get(Conversation.objects.get().get_absolute_url()).content.decode()
    assert "The model stopped answering." in page
    assert ("(HTTP 500 from gpu-7.internal)" in page) == staff


def test_a_model_server_that_refuses_connections_is_answered_with_the_passages(user, kb, guide, settings):
    settings.LLM_BASE_URL = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    events = ask(user, kb)
    assert "error" not in dict(events)
    assert events[-1][1]["mode"] == "retrieval-only" and events[-1][1]["citations"]
    assert Message.objects.get(role=Message.Role.ASSISTANT).error_code == "unreachable"


def test_the_ask_command_says_it_answered_with_the_passages(admin_user, kb, guide, unreachable, capsys):
    call_command("ask", QUESTION, kb="guide", json=True)
    result = json.loads(capsys.readouterr().out)
    assert (result["mode"], result["error"]) == ("retrieval-only", "")
    assert result["answer"].startswith("**The language model could not be reached**") and result["citations"]


def ask_rest(client, user, kb):
    conversation = Conversation.objects.create(user=user)
    conversation.knowledge_bases.set([kb])
    return client.post(f"/api/v1/conversations/{conversation.id}/ask/", {"question": QUESTION})


def test_the_rest_ask_gets_the_passages_without_the_detail(as_owner, user, kb, guide, unreachable):
    body = ask_rest(as_owner, user, kb).json()
    assert (body["mode"], body["status"], body["error_code"]) == ("retrieval-only", "complete", "unreachable")
    assert body["error"] == UNREACHABLE.message and body["citations"]
    assert "error_detail" not in body


def test_the_rest_ask_gives_administrators_the_detail(as_owner, user, kb, guide, unreachable):
    make_staff(user)
    body = ask_rest(as_owner, user, kb).json()
    assert body["mode"] == "retrieval-only" and body["error_detail"] == UNREACHABLE.detail


def ask_v1(client, **extra):
    messages = [{"role": "user", "content": QUESTION}]
    return client.post("/v1/chat/completions", {"model": "kb:guide", "messages": messages, **extra})


@pytest.mark.parametrize("staff", [False, True])
def test_v1_answers_with_a_retryable_openai_error(as_owner, user, kb, guide, unreachable, staff):
    if staff:
        make_staff(user)
    response = ask_v1(as_owner)
    assert response.status_code == 503
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("server_error", "unreachable")
    assert error["message"].startswith(UNREACHABLE.message)
    assert ("gpu-7.internal" in error["message"]) == staff


def test_v1_streaming_ends_with_the_error_object(as_owner, kb, guide, unreachable):
    response = ask_v1(as_owner, stream=True)

    async def body() -> bytes:
        return b"".join([part async for part in response.streaming_content])

    text = asyncio.run(body()).decode()
    assert '"code": "unreachable"' in text and UNREACHABLE.message in text
    assert "gpu-7.internal" not in text and "[DONE]" not in text
