"""A small local model (llama.cpp's server with a 4096-token context) gets the passages and a cap on
its answer, through the whole answer path: the reserve used to take the whole context."""

import pytest

from tests.conftest import ask

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sync_orm_in_async")]


def test_a_4096_token_model_is_sent_passages_and_max_tokens(user, kb, guide, llm, settings):
    settings.LLM_API_KEY, settings.LLM_MODEL, settings.LLM_CONTEXT_TOKENS = "", "r1-distill-qwen-1.5b", 4096
    events = ask(user, kb)
    assert events[0][1]["mode"] == "llm"
    [request] = llm.requests
    assert request["max_tokens"] == 1024
    assert any(m["content"].startswith("[1] Source: deepseek-r1-guide") for m in request["messages"])
    assert sum(len(m["content"]) for m in request["messages"]) * 0.6 < 4096 - 1024


def test_an_answer_reserve_set_in_the_environment_is_sent(user, kb, guide, llm, settings):
    settings.LLM_CONTEXT_TOKENS, settings.LLM_ANSWER_TOKENS = 8192, 3000
    ask(user, kb)
    assert llm.requests[-1]["max_tokens"] == 3000
