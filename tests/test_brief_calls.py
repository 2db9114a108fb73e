"""Short calls beside the answer (translation, follow-up suggestions): only the reply's content is
kept, never its reasoning, and a failure gives None instead of an error."""

import asyncio

from chat import brief_calls
from tests.fake_llm import DEFAULT_CONTENT, DEFAULT_REASONING


def _reply(config, instructions="Translate into English.", text="年假有多少天？", **options):
    return asyncio.run(brief_calls.brief_reply(instructions, text, config=config, **options))


def test_the_reply_is_its_content_without_the_reasoning(fake_llm):
    fake_llm.script(content="  How many days of annual leave are there?\n")
    assert _reply(fake_llm.model_config()) == "How many days of annual leave are there?"
    [request] = fake_llm.requests
    assert request["messages"] == [
        {"role": "system", "content": "Translate into English."},
        {"role": "user", "content": "年假有多少天？"},
    ]
    assert request["max_tokens"] == brief_calls.REASONING_REPLY_TOKENS  # room for the reasoning too
    assert DEFAULT_REASONING not in _reply(fake_llm.model_config(reasoning=False))


def test_a_model_that_does_not_reason_gets_a_short_reply_budget(fake_llm):
    fake_llm.script(style="plain", content="Annual leave")
    assert _reply(fake_llm.model_config(reasoning=False, system_messages=False)) == "Annual leave"
    [request] = fake_llm.requests
    assert request["max_tokens"] == brief_calls.REPLY_TOKENS
    assert request["messages"] == [{"role": "user", "content": "Translate into English.\n\n年假有多少天？"}]


def test_a_distill_that_never_closes_its_think_tag_replies_with_all_it_wrote(fake_llm):
    fake_llm.script(style="plain", content="Annual leave days")
    assert _reply(fake_llm.model_config()) == "Annual leave days"


def test_a_failure_is_none_at_once_without_retries(fake_llm):
    fake_llm.script(status=503)
    assert _reply(fake_llm.model_config(retries=3)) is None
    assert len(fake_llm.requests) == 1


def test_a_slow_reply_is_given_up(fake_llm):
    fake_llm.script(delay=0.5)
    assert _reply(fake_llm.model_config(), timeout=0.3) is None


def test_an_empty_reply_is_none(fake_llm):
    fake_llm.script(style="plain", content="   ")
    assert _reply(fake_llm.model_config()) is None


def test_no_model_is_none(settings):
    settings.LLM_MODELS, settings.LLM_BASE_URL = None, ""
    assert _reply(None) is None


def test_rules_answer_some_requests_differently(fake_llm):
    fake_llm.when(asks="Translate", style="plain", content="annual leave")
    fake_llm.when(model="deepseek-chat", status=503)
    assert _reply(fake_llm.model_config()) == "annual leave"
    assert _reply(fake_llm.model_config(model="deepseek-chat"), instructions="Suggest.") is None
    assert _reply(fake_llm.model_config(), instructions="Suggest.") == DEFAULT_CONTENT.strip()
