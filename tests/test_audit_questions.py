"""Every question is audited once, by the answer engine, whichever way it was asked: the chat page
(and the `ask` command), the REST ask and /v1. The text only with AUDIT_QUESTION_TEXT."""

import asyncio
from contextlib import aclosing

import pytest

from audit.models import Event
from chat import engine
from chat.models import Conversation
from tests.conftest import QUESTION, ask

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("api_test")]
USAGE = {"prompt_tokens": 1000, "completion_tokens": 500, "prompt_cache_miss_tokens": 1000}


@pytest.fixture
def priced(settings, llm):
    settings.LLM_MODELS = [
        {"model": "deepseek-reasoner", "base_url": llm.base_url, "price": [0.14, 0.55, 2.19]}
    ]
    llm.script(usage=USAGE)
    return llm


def question_event() -> Event:
    return Event.objects.get(kind=Event.Kind.QUESTION)


def test_a_question_on_the_chat_page_records_user_knowledge_bases_model_and_cost(user, kb, guide, priced):
    ask(user, kb)
    event = question_event()
    assert (event.user, event.target, event.summary) == (user, f"knowledge_base:{kb.id}", "Guide")
    detail = event.detail
    assert (detail["knowledge_bases"], detail["model"], detail["mode"]) == (
        ["Guide"],
        "deepseek-reasoner",
        "llm",
    )
    assert (detail["status"], detail["prompt_tokens"], detail["completion_tokens"]) == ("complete", 1000, 500)
    assert detail["error_code"] == ""
    assert detail["cost_usd"] == pytest.approx((1000 * 0.55 + 500 * 2.19) / 1e6)


def test_the_text_is_not_recorded_by_default(user, kb, guide):
    ask(user, kb)
    assert QUESTION not in str(Event.objects.values().get(kind=Event.Kind.QUESTION))


def test_the_text_is_recorded_when_the_setting_asks_for_it(settings, user, kb, guide):
    settings.AUDIT_QUESTION_TEXT = True
    ask(user, kb)
    event = question_event()
    assert (event.summary, event.detail["question"]) == (QUESTION, QUESTION)


def test_a_retrieval_only_answer_records_its_mode_and_no_cost(user, kb, guide):
    ask(user, kb)
    detail = question_event().detail
    assert (detail["model"], detail["mode"], detail["cost_usd"]) == ("", "retrieval-only", None)


def test_a_failed_answer_is_recorded_as_failed(user, kb, guide, llm):
    llm.script(status=402)
    ask(user, kb)
    assert question_event().detail["status"] == "failed"


def test_the_rest_ask_records_one_question(as_owner, user, kb, guide, llm):
    conversation = Conversation.objects.create(user=user)
    conversation.knowledge_bases.set([kb])
    assert (
        as_owner.post(f"/api/v1/conversations/{conversation.id}/ask/", {"question": QUESTION}).status_code
        == 200
    )
    assert (question_event().user, question_event().detail["mode"]) == (user, "llm")


def completion(client, **extra):
    body = {"model": "kb:guide", "messages": [{"role": "user", "content": QUESTION}], **extra}
    return client.post("/v1/chat/completions", body)


def test_v1_records_one_question(as_owner, user, kb, guide, priced):
    assert completion(as_owner).status_code == 200
    event = question_event()
    assert (event.user, event.target, event.detail["cost_usd"] > 0) == (user, f"knowledge_base:{kb.id}", True)


def streamed(response) -> bytes:
    async def read() -> bytes:
        return b"".join([part async for part in response.streaming_content])

    return asyncio.run(read())


def test_a_v1_stream_records_one_question(as_owner, user, kb, guide, llm):
    response = completion(as_owner, stream=True)
    assert b"[DONE]" in streamed(response)
    assert (question_event().user, question_event().detail["status"]) == (user, "complete")


def test_a_v1_stream_ended_by_an_error_still_records_the_question(as_owner, user, kb, guide, llm):
    llm.script(mid_stream_error="boom")
    body = streamed(completion(as_owner, stream=True))
    assert b"[DONE]" not in body
    assert question_event().detail["status"] == "failed"


def test_a_refused_question_records_nothing(as_outsider, kb, guide, llm):
    assert completion(as_outsider).status_code == 404
    assert not Event.objects.filter(kind=Event.Kind.QUESTION).exists()


def test_a_caller_that_stops_reading_still_leaves_the_question_recorded(user, kb, guide):
    answer = engine.Answer(engine.Question(text=QUESTION, knowledge_bases=[kb], asker=user))

    async def read_one() -> None:
        async with aclosing(answer.events()) as events:
            await anext(events)  # Searching; then the caller goes away

    asyncio.run(read_one())
    assert (question_event().user, question_event().detail["status"]) == (user, "complete")
