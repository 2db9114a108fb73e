"""Which models users can choose, from settings, and what their answers cost."""

import re

import pytest
from django.core.exceptions import ImproperlyConfigured

from chat import llm
from chat.model_config import ModelConfig, Price
from chat.providers import Usage


@pytest.fixture(autouse=True)
def _no_models(settings):
    settings.LLM_MODELS = None
    settings.LLM_BASE_URL = ""
    settings.LLM_API_KEY = ""
    settings.LLM_MODEL = "deepseek-reasoner"
    settings.LLM_TIMEOUT_SECONDS = settings.LLM_CONTEXT_TOKENS = settings.LLM_ANSWER_TOKENS = None
    settings.LLM_SYSTEM_MESSAGES = None
    settings.LLM_TASK_MODEL = ""


def test_no_model_means_retrieval_only():
    assert llm.models() == () and llm.model_config() is None


def test_a_deepseek_key_offers_the_reasoner_first_and_the_chat_model(settings):
    settings.LLM_BASE_URL, settings.LLM_API_KEY = "https://api.deepseek.com", "sk-x"
    reasoner, chat = llm.models()
    assert (reasoner.model, reasoner.reasoning, reasoner.temperature) == ("deepseek-reasoner", True, None)
    assert (chat.model, chat.reasoning) == ("deepseek-chat", False)
    assert reasoner.price == Price(0.14, 0.55, 2.19)
    assert (reasoner.context_tokens, reasoner.answer_reserve) == (65536, 8192)
    assert llm.model_config("DeepSeek-V3") == chat
    assert llm.model_config("a model removed since") == reasoner


def test_a_local_server_is_a_distill_with_temperature_0_6(settings):
    settings.LLM_BASE_URL, settings.LLM_MODEL = "http://127.0.0.1:11434/v1", "deepseek-r1:14b"
    settings.LLM_SYSTEM_MESSAGES = False
    [local] = llm.models()
    assert (local.name, local.temperature, local.system_messages, local.price) == (
        "deepseek-r1:14b",
        0.6,
        False,
        None,
    )
    assert (local.api, local.context_tokens, local.answer_reserve, local.timeout) == (
        "openai",
        32768,
        8192,
        300,
    )


def test_an_explicit_list_sets_every_field(settings):
    settings.LLM_MODELS = [
        {
            "name": "R1 (GPU box)",
            "model": "r1",
            "base_url": "http://gpu:8000/v1",
            "reasoning": True,
            "system_messages": False,
            "context_tokens": 16384,
            "answer_tokens": 2048,
            "price": {"input_cache_hit": 0, "input_cache_miss": 0.1, "output": 0.2},
            "retries": 0,
            "timeout": 90,
            "temperature": None,
            "api": "openai",
        }
    ]
    [model] = llm.models()
    assert (model.name, model.context_tokens, model.answer_reserve) == ("R1 (GPU box)", 16384, 2048)
    assert model.price == Price(0.0, 0.1, 0.2)
    assert (model.retries, model.timeout, model.temperature) == (0, 90, None)


def test_retries_must_be_a_count(settings):
    settings.LLM_MODELS = [{"model": "r1", "base_url": "http://gpu:8000/v1", "retries": -1}]
    with pytest.raises(ImproperlyConfigured, match="entry 1: retries must be a whole number"):
        llm.models()


def test_cost_uses_the_cache_split_or_counts_the_prompt_as_misses():
    model = ModelConfig(name="m", model="m", base_url="http://x", api_key="k", price=Price(0.14, 0.55, 2.19))
    split = Usage(prompt_tokens=1000, completion_tokens=500, cache_hit_tokens=800, cache_miss_tokens=200)
    assert model.cost(split) == pytest.approx((800 * 0.14 + 200 * 0.55 + 500 * 2.19) / 1e6)
    assert model.cost(Usage(1000, 500)) == pytest.approx((1000 * 0.55 + 500 * 2.19) / 1e6)
    unpriced = ModelConfig(name="m", model="m", base_url="http://x", api_key="k")
    assert unpriced.cost(split) is None


def test_the_variables_set_defaults_that_an_entry_overrides(settings):
    settings.LLM_TIMEOUT_SECONDS, settings.LLM_ANSWER_TOKENS = 45, 3000
    settings.LLM_MODELS = [
        {"name": "a", "model": "r1", "base_url": "http://gpu:8000/v1"},
        {"name": "b", "model": "r1", "base_url": "http://gpu:8000/v1", "timeout": 600, "answer_tokens": 2000},
    ]
    a, b = llm.models()
    assert (a.timeout, a.answer_reserve) == (45, 3000)
    assert (b.timeout, b.answer_reserve) == (600, 2000)


@pytest.mark.parametrize(("context", "reserve"), [(4096, 1024), (16384, 4096), (32768, 8192), (131072, 8192)])
def test_the_answer_reserve_is_a_quarter_of_the_context_at_most_8192(settings, context, reserve):
    settings.LLM_BASE_URL, settings.LLM_CONTEXT_TOKENS = "http://127.0.0.1:8080/v1", context
    assert llm.model_config().answer_reserve == reserve


def test_a_context_with_no_room_for_a_passage_stops_the_app_naming_the_numbers(settings):
    # The answer reserve used to be 4096 whatever the context: a 4096-token model got no passage.
    settings.LLM_BASE_URL, settings.LLM_MODEL = "http://127.0.0.1:8080/v1", "r1-distill"
    settings.LLM_CONTEXT_TOKENS, settings.LLM_ANSWER_TOKENS = 4096, 3500
    with pytest.raises(ImproperlyConfigured) as caught:
        llm.models()
    message = str(caught.value)
    assert "'r1-distill'" in message and "context_tokens=4096" in message and "answer_tokens=3500" in message
    assert "leaves 596 tokens" in message and "LLM_ANSWER_TOKENS" in message


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"timeout": 0}, "LLM_MODELS entry 1: timeout must be a number of seconds above 0"),
        ({"timeout": "slow"}, "LLM_MODELS entry 1: timeout must be a number"),
        ({"context_tokens": "4k"}, "LLM_MODELS entry 1: context_tokens must be a whole number"),
        (
            {"answer_tokens": 9000, "context_tokens": 8192},
            "answer_tokens (9000) must be less than context_tokens",
        ),
        ({"reasoning": "yes"}, "LLM_MODELS entry 1: reasoning must be true or false"),
        ({"temperature": 3}, "LLM_MODELS entry 1: temperature must be a number from 0 to 2"),
        ({"api": "anthropic"}, "LLM_MODELS entry 1: api must be one of: openai (not 'anthropic')"),
        ({"colour": "red"}, "LLM_MODELS entry 1: unknown field(s) colour"),
        ({"model": ""}, "LLM_MODELS entry 1: model must be a non-empty string"),
    ],
)
def test_a_bad_field_stops_the_app_naming_the_entry_and_the_field(settings, entry, message):
    settings.LLM_MODELS = [{"model": "r1", "base_url": "http://gpu:8000/v1"} | entry]
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        llm.models()


def test_a_bad_default_names_the_variable_it_came_from(settings):
    settings.LLM_BASE_URL, settings.LLM_CONTEXT_TOKENS, settings.LLM_ANSWER_TOKENS = "http://h/v1", 8192, 8192
    with pytest.raises(
        ImproperlyConfigured, match=r"LLM_BASE_URL .*answer_tokens .* \(from LLM_ANSWER_TOKENS\)"
    ):
        llm.models()


def test_short_tasks_go_to_a_model_that_does_not_reason(settings):
    settings.LLM_BASE_URL, settings.LLM_API_KEY = "https://api.deepseek.com", "sk-x"
    assert llm.task_model().model == "deepseek-chat"
    settings.LLM_TASK_MODEL = "DeepSeek-R1"
    assert llm.task_model().model == "deepseek-reasoner"


def test_short_tasks_go_to_the_one_model_there_is(settings):
    settings.LLM_BASE_URL, settings.LLM_MODEL = "http://127.0.0.1:11434/v1", "deepseek-r1:14b"
    assert llm.task_model().name == "deepseek-r1:14b"


def test_a_task_model_that_is_not_configured_is_refused(settings):
    settings.LLM_BASE_URL, settings.LLM_API_KEY = "https://api.deepseek.com", "sk-x"
    settings.LLM_TASK_MODEL = "GPT-5"
    with pytest.raises(ImproperlyConfigured, match=r"LLM_TASK_MODEL names 'GPT-5'.*DeepSeek-R1, DeepSeek-V3"):
        llm.models()


def three_models(fallbacks: dict[str, object]) -> list[dict]:
    return [
        {"name": name, "model": "r1", "base_url": "http://gpu:8000/v1"} | fallbacks.get(name, {})
        for name in "abc"
    ]


def test_a_fallback_chain_is_the_one_the_model_names_in_order(settings):
    settings.LLM_MODELS = three_models({"a": {"fallback": ["c", "b"]}, "c": {"fallback": ["a"]}})
    a, b, c = llm.models()
    assert a.fallback == ("c", "b")
    assert llm.model_chain(a) == (a, c, b)
    assert llm.model_chain(c) == (c, a)  # a's own fallbacks are not followed: no loop
    assert llm.model_chain(b) == (b,)


@pytest.mark.parametrize(
    ("fallback", "message"),
    [
        (
            ["d"],
            "LLM_MODELS entry 1: fallback names 'd', which is not a configured model (configured: a, b, c)",
        ),
        (["b", "a"], "LLM_MODELS entry 1: fallback cannot name the model itself ('a')"),
        (["b", "b"], "LLM_MODELS entry 1: fallback names a model twice"),
        ("b", "LLM_MODELS entry 1: fallback must be a list of the names of other configured models"),
        (["b", ""], "LLM_MODELS entry 1: fallback must be a list of the names"),
        ([{"name": "b"}], "LLM_MODELS entry 1: fallback must be a list of the names"),
    ],
)
def test_a_bad_fallback_stops_the_app_naming_the_entry(settings, fallback, message):
    settings.LLM_MODELS = three_models({"a": {"fallback": fallback}})
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        llm.models()
