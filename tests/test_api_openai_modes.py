"""The OpenAI-compatible endpoint's modes and errors, in process: retrieval-only, nothing found,
picking the model, and OpenAI's error objects."""

from unittest.mock import Mock

import pytest
from django.db import OperationalError

from api import authentication
from chat import engine
from chat.models import Conversation

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("api_test")]
COMPLETIONS = "/v1/chat/completions"
QUESTION = "DeepSeek-V3 有多少参数？"


def ask(client, model: str = "kb:guide", question: str = QUESTION, **extra):
    return client.post(
        COMPLETIONS, {"model": model, "messages": [{"role": "user", "content": question}], **extra}
    )


def test_without_a_model_it_says_so_and_returns_the_passages(as_owner, guide):
    response = ask(as_owner)
    assert response.status_code == 200
    body = response.json()
    message = body["choices"][0]["message"]
    assert message["content"].startswith("**No language model is configured**")
    assert message["reasoning_content"] is None
    assert len(body["citations"]) >= 1 and "6710亿（671B）" in body["citations"][0]["text"]
    assert body["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def test_it_is_stateless(as_owner, guide, llm):
    assert ask(as_owner).status_code == 200
    assert not Conversation.objects.exists()


def test_with_nothing_relevant_it_gives_the_knowledge_base_reply_without_calling_the_model(
    as_owner, kb, guide, llm
):
    kb.relevance_floor = 0.99
    kb.nothing_found_reply = "文档里没有这个问题的答案。"
    kb.save()
    body = ask(as_owner, question="What is the airspeed of an unladen swallow?").json()
    assert body["choices"][0]["message"]["content"] == "文档里没有这个问题的答案。"
    # The model only translated the English question for the Chinese documents; it did not answer.
    [translation] = llm.requests
    assert translation["messages"][0]["content"].startswith("Translate the user's question into Chinese")
    assert body["citations"] == []


def test_with_nothing_relevant_it_may_answer_from_general_knowledge(as_owner, kb, guide, llm):
    kb.relevance_floor = 0.99
    kb.when_nothing_found = "general"
    kb.save()
    llm.script(content="This is not from the company's documents: about 11 m/s.")
    body = ask(as_owner, question="What is the airspeed of an unladen swallow?").json()
    assert body["choices"][0]["message"]["content"].startswith("This is not from")
    assert "general knowledge" in llm.requests[-1]["messages"][0]["content"]


def test_a_distill_reply_without_a_closing_tag_is_the_answer_not_reasoning(as_owner, guide, llm):
    llm.script(style="plain", content="DeepSeek-V3 有 6710 亿参数 [1]。")
    message = ask(as_owner).json()["choices"][0]["message"]
    assert message["content"] == "DeepSeek-V3 有 6710 亿参数 [1]。"
    assert message["reasoning_content"] is None


def test_a_model_suffix_picks_the_language_model(as_owner, guide, two_models):
    assert ask(as_owner, model="kb:guide@deepseek-chat").status_code == 200
    assert two_models.requests[-1]["model"] == "deepseek-chat"
    assert ask(as_owner, model="kb:guide@DeepSeek-R1").status_code == 200
    assert two_models.requests[-1]["model"] == "deepseek-reasoner"
    assert ask(as_owner, model="kb:guide").status_code == 200
    assert two_models.requests[-1]["model"] == "deepseek-reasoner"


def test_a_model_named_with_a_slash_is_retrieved(settings, as_owner, kb, fake_llm):
    vllm = {"name": "R1 on vLLM", "model": "deepseek-ai/DeepSeek-R1", "base_url": fake_llm.base_url}
    settings.LLM_MODELS = [vllm]
    response = as_owner.get("/v1/models/kb:guide@deepseek-ai/DeepSeek-R1")
    assert response.status_code == 200 and response.json()["id"] == "kb:guide@deepseek-ai/DeepSeek-R1"


def test_a_model_name_with_a_line_break_is_not_found_in_openais_shape(as_owner, kb):
    response = as_owner.get("/v1/models/kb:guide%0A%7C%C2%80%08")
    assert response.status_code == 404 and response.json()["error"]["code"] == "model_not_found"


@pytest.mark.parametrize("model", ["kb:guide@gpt-9", "kb:nope", "deepseek-chat", "guide"])
def test_an_unknown_model_is_not_found_in_openais_shape(as_owner, kb, two_models, model):
    response = ask(as_owner, model=model)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "model_not_found" and error["type"] == "invalid_request_error"
    assert model in error["message"] and set(error) == {"message", "type", "param", "code"}


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ([], "messages"),
        ([{"role": "assistant", "content": "hi"}], "messages"),
        ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], "messages"),
        ([{"role": "robot", "content": "hi"}], "messages.0.role"),
        ([{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}], "messages.0.content"),
    ],
)
def test_invalid_messages_are_a_400_naming_the_parameter(as_owner, kb, messages, param):
    response = as_owner.post(COMPLETIONS, {"model": "kb:guide", "messages": messages})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)


def test_text_content_parts_are_read_as_the_question(as_owner, guide, llm):
    parts = [{"type": "text", "text": "DeepSeek-V3 "}, {"type": "text", "text": "有多少参数？"}]
    response = as_owner.post(
        COMPLETIONS, {"model": "kb:guide", "messages": [{"role": "user", "content": parts}]}
    )
    assert response.status_code == 200
    assert llm.requests[-1]["messages"][-1] == {"role": "user", "content": QUESTION}


def test_missing_credentials_are_a_401_in_openais_shape(anonymous, kb):
    response = ask(anonymous)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert anonymous.get("/v1/models").status_code == 401
    assert anonymous.get("/v1/models/kb:guide").status_code == 401


def test_rate_limits_answer_429_with_retry_after_in_openais_shape(settings, as_owner, kb):
    settings.API_RATE_PER_KEY = "1/min"
    assert as_owner.get("/v1/models").status_code == 200
    response = ask(as_owner)
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert response.json()["error"]["type"] == "rate_limit_error"


def test_null_content_is_read_as_empty(as_owner, guide, llm):
    messages = [
        {"role": "user", "content": "What is DeepSeek-V3?"},
        {"role": "assistant", "content": None},
        {"role": "user", "content": None},
    ]
    response = as_owner.post(COMPLETIONS, {"model": "kb:guide", "messages": messages})
    assert response.status_code == 400 and response.json()["error"]["param"] == "messages"
    messages[-1]["content"] = QUESTION
    assert as_owner.post(COMPLETIONS, {"model": "kb:guide", "messages": messages}).status_code == 200


def user_says(*texts: str) -> list[dict]:
    return [{"role": "user", "content": text} for text in texts]


@pytest.mark.parametrize(
    ("messages", "param", "limit"),
    [
        (user_says("问" * 8001), "messages.0.content", "8000"),
        ([{"role": "system", "content": "x" * 32_001}, *user_says(QUESTION)], "messages.0.content", "32000"),
        ([{"role": "system", "content": "x" * 30_000}] * 7 + user_says(QUESTION), "messages", "200000"),
        (user_says(*[QUESTION] * 201), "messages", "200"),
        ([{"role": "user", "content": [{"type": "text", "text": "x"}] * 101}], "messages.0.content", "100"),
    ],
    ids=["question", "message", "all messages", "message count", "content parts"],
)
def test_oversized_requests_are_a_400_naming_the_limit(as_owner, kb, llm, messages, param, limit):
    response = as_owner.post(COMPLETIONS, {"model": "kb:guide", "messages": messages})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param) and limit in error["message"]
    assert llm.requests == []


def test_the_message_count_is_checked_before_any_message_is_read(as_owner, kb):
    messages = [{"role": "robot", "content": "hi"}] * 60_000  # each one invalid
    response = as_owner.post(COMPLETIONS, {"model": "kb:guide", "messages": messages})
    assert response.status_code == 400 and response.json()["error"]["param"] == "messages"


def test_an_unexpected_failure_while_answering_is_an_openai_error_not_a_page(as_owner, kb, llm, monkeypatch):
    monkeypatch.setattr(engine, "retrieve_passages", Mock(side_effect=RuntimeError("a bug")))
    as_owner.client.raise_request_exception = False
    response = ask(as_owner)
    assert response.status_code == 500 and response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("server_error", "internal") and "a bug" not in error["message"]
    assert set(error) == {"message", "type", "param", "code"}


def test_no_free_database_connection_is_a_503_openai_error(as_owner, kb, monkeypatch):
    timeout = OperationalError("couldn't get a connection after 60.00 sec")
    monkeypatch.setattr(authentication, "api_key_for_secret", Mock(side_effect=timeout))
    as_owner.client.raise_request_exception = False
    response = ask(as_owner)
    assert response.status_code == 503
    assert (
        response.json()["error"]["type"] == "server_error"
        and "try again" in response.json()["error"]["message"]
    )
