"""Fallback models: a model unavailable before its first byte (429 or 503 once its retries are spent,
a timeout, no connection) hands the answer to the next of its fallbacks, and the answer says which
model wrote it. Two models on the test upstream, told apart by their upstream ids."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async

from audit.models import Event
from chat import engine, llm
from chat.models import Conversation, Message
from chat.providers import Content, Error, Reasoning
from tests.api_fixtures import key_for
from tests.conftest import QUESTION, ask, signed_in
from tests.processes import free_port
from tests.scripted_model import UNREACHABLE

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("api_test")]
NOTE = "Answered by R1 B because R1 A was unavailable."
USAGE = {"prompt_tokens": 1000, "completion_tokens": 500, "prompt_cache_miss_tokens": 1000}


def configure(settings, base_url: str, *, first: dict | None = None, second: dict | None = None) -> None:
    """R1 A (the default; retried once, its fallback R1 B) and R1 B, which wants its instructions in
    the user turn: the prompt it gets is built for it."""
    settings.LLM_MODELS = [
        {"name": "R1 A", "model": "r1-a", "base_url": base_url, "retries": 1, "fallback": ["R1 B"]}
        | (first or {}),
        {"name": "R1 B", "model": "r1-b", "base_url": base_url, "system_messages": False} | (second or {}),
    ]


@pytest.fixture
def models(settings, fake_llm):
    configure(settings, fake_llm.base_url)
    return fake_llm


def asked(fake_llm) -> list[str]:
    return [request["model"] for request in fake_llm.requests]


def run(answer_: engine.Answer) -> engine.Outcome:
    async def collect() -> engine.Outcome:
        async for _event in answer_.events():
            pass
        return answer_.outcome()

    return asyncio.run(collect())


def answer() -> Message:
    return Message.objects.get(role=Message.Role.ASSISTANT)


def test_it_answers_with_the_fallback_when_the_model_is_overloaded(user, kb, guide, models):
    models.when(model="r1-a", status=503, retry_after="0")
    done = ask(user, kb)[-1][1]
    assert asked(models) == ["r1-a", "r1-a", "r1-b"]  # its own retry first
    assert (done["status"], done["mode"], done["model"]) == ("complete", "llm", "r1-b")
    assert done["fallback_note"] == NOTE and "25 days" in done["html"] and done["citations"]
    saved = answer()
    assert (saved.model, saved.model_name, saved.fallback_for) == ("r1-b", "R1 B", "R1 A")
    assert (saved.error_code, saved.content.startswith("Staff get 25 days")) == ("", True)


def test_the_fallback_gets_a_prompt_built_for_it(user, kb, guide, models):
    models.when(model="r1-a", status=503, retry_after="0")
    ask(user, kb)
    first, fallback = models.requests[0]["messages"], models.requests[-1]["messages"]
    assert first[0]["role"] == "system" and {m["role"] for m in fallback} == {"user"}
    assert answer().prompt == fallback  # what the model that answered was sent


def test_it_falls_back_when_a_rate_limit_outlasts_the_retries(user, kb, guide, models):
    models.when(model="r1-a", status=429, retry_after="0")
    done = ask(user, kb)[-1][1]
    assert asked(models) == ["r1-a", "r1-a", "r1-b"]
    assert (done["status"], done["fallback_note"]) == ("complete", NOTE)


def test_a_rate_limit_that_passes_within_the_retries_keeps_the_model(user, kb, guide, models):
    models.when(model="r1-a", status=429, failures=1, retry_after="0")
    done = ask(user, kb)[-1][1]
    assert asked(models) == ["r1-a", "r1-a"]
    assert (done["model"], done["fallback_note"]) == ("r1-a", "")
    assert (answer().model_name, answer().fallback_for) == ("R1 A", "")


def test_it_falls_back_when_the_model_cannot_be_reached(settings, user, kb, guide, fake_llm):
    configure(settings, fake_llm.base_url, first={"base_url": f"http://127.0.0.1:{free_port()}/v1"})
    done = ask(user, kb)[-1][1]
    assert asked(fake_llm) == ["r1-b"] and done["fallback_note"] == NOTE
    assert answer().mode == Message.Mode.LLM


def test_a_failure_after_the_model_started_does_not_fall_back(user, kb, guide, models):
    models.when(model="r1-a", mid_stream_error="The model crashed")
    events = ask(user, kb)
    assert asked(models) == ["r1-a"] and "error" in dict(events)
    saved = answer()
    assert (saved.status, saved.model, saved.fallback_for) == ("failed", "r1-a", "")


def test_when_every_model_is_out_of_reach_the_passages_answer(settings, user, kb, guide, fake_llm):
    configure(settings, fake_llm.base_url, second={"base_url": f"http://127.0.0.1:{free_port()}/v1"})
    fake_llm.when(model="r1-a", status=503, retry_after="0")
    done = ask(user, kb)[-1][1]
    assert (done["mode"], done["status"], done["fallback_note"]) == ("retrieval-only", "complete", "")
    assert "The language model could not be reached" in done["html"] and done["citations"]
    assert (answer().error_code, answer().fallback_for) == ("unreachable", "")


def test_when_every_model_is_overloaded_the_last_ones_error_ends_it(user, kb, guide, models):
    models.when(model="r1-a", status=503, retry_after="0")
    models.when(model="r1-b", status=503, retry_after="0")
    events = ask(user, kb)
    assert asked(models) == ["r1-a", "r1-a", "r1-b", "r1-b", "r1-b"]  # R1 B has the default 2 retries
    assert dict(events)["error"]["code"] == "overloaded" and answer().status == Message.Status.FAILED


def test_the_cost_is_the_answering_models_and_the_audit_names_it(settings, user, kb, guide, fake_llm):
    configure(settings, fake_llm.base_url, first={"price": [1, 1, 1]}, second={"price": [0.14, 0.55, 2.19]})
    fake_llm.when(model="r1-a", status=503, retry_after="0")
    fake_llm.script(usage=USAGE)
    ask(user, kb)
    cost = round((1000 * 0.55 + 500 * 2.19) / 1_000_000, 6)
    assert answer().cost_usd == cost
    detail = Event.objects.get(kind=Event.Kind.QUESTION).detail
    assert (detail["model"], detail["cost_usd"]) == ("r1-b", cost)


def test_a_reloaded_page_says_which_model_answered_in_both_languages(user, kb, guide, models):
    models.when(model="r1-a", status=503, retry_after="0")
    ask(user, kb)
    url = Conversation.objects.get().get_absolute_url()
    assert NOTE in signed_in(user).get(url).content.decode()
    chinese = signed_in(user).get(url, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "R1 A 暂时不可用，此回答由 R1 B 给出。" in chinese


def test_an_answer_without_fallback_has_no_note(user, kb, guide, models):
    ask(user, kb)
    url = Conversation.objects.get().get_absolute_url()
    assert "is-fallback" not in signed_in(user).get(url).content.decode()


def test_the_rest_ask_reports_the_answering_model(as_owner, user, kb, guide, models):
    models.when(model="r1-a", status=503, retry_after="0")
    conversation = Conversation.objects.create(user=user)
    conversation.knowledge_bases.set([kb])
    body = as_owner.post(f"/api/v1/conversations/{conversation.id}/ask/", {"question": QUESTION}).json()
    assert (body["status"], body["model"], body["model_name"], body["fallback_for"]) == (
        "complete",
        "r1-b",
        "R1 B",
        "R1 A",
    )


def test_v1_reports_the_fallback_as_the_model(as_owner, guide, models):
    models.when(model="r1-a", status=503, retry_after="0")
    question = {"role": "user", "content": QUESTION}
    body = as_owner.post("/v1/chat/completions", {"model": "kb:guide", "messages": [question]}).json()
    assert body["model"] == "kb:guide@R1 B" and body["choices"][0]["message"]["content"].startswith("Staff")


def test_v1_without_a_fallback_reports_the_model_asked(as_owner, guide, models):
    question = {"role": "user", "content": QUESTION}
    body = as_owner.post("/v1/chat/completions", {"model": "kb:guide@r1-a", "messages": [question]}).json()
    assert body["model"] == "kb:guide@r1-a" and asked(models) == ["r1-a"]


@pytest.mark.anyio
async def test_a_v1_stream_names_the_fallback_in_its_chunks(async_client, user, guide, models):
    models.when(model="r1-a", status=503, retry_after="0")
    secret = await sync_to_async(key_for)(user)
    body = {"model": "kb:guide", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    response = await async_client.post(
        "/v1/chat/completions",
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )
    raw = b"".join([part async for part in response.streaming_content]).decode()
    chunks = [json.loads(line[6:]) for line in raw.split("\n\n") if line.startswith("data: {")]
    content = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
    assert content and {c["model"] for c in content} == {"kb:guide@R1 B"}


def test_a_timeout_after_the_model_started_does_not_fall_back(settings, kb, guide):
    """The engine alone, the models scripted: R1 A thinks a little, then times out."""
    configure(settings, "http://model.invalid/v1")
    timeout = Error("timeout", "The language model took too long to answer.", retryable=True)
    replies = {"r1-a": [Reasoning("Let me see."), timeout], "r1-b": [Content("From R1 B.")]}
    called = []

    async def stream_chat(config, messages):
        called.append(config.model)
        for event in replies[config.model]:
            yield event

    question = engine.Question(text=QUESTION, knowledge_bases=[kb], config=llm.model_config())
    outcome = run(engine.Answer(question, stream_chat=stream_chat))
    assert called == ["r1-a"] and (outcome.status, outcome.error.code) == ("failed", "timeout")
    replies["r1-a"] = [UNREACHABLE]
    outcome = run(engine.Answer(question, stream_chat=stream_chat))
    assert called[1:] == ["r1-a", "r1-b"] and outcome.content == "From R1 B."
    assert (outcome.model.name, outcome.fallback_for) == ("R1 B", "R1 A")
