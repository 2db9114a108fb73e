"""Which models users can choose, from settings, and what their answers cost."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from chat import llm
from chat.providers import Price, Usage


@pytest.fixture(autouse=True)
def _no_models(settings):
    settings.LLM_MODELS = None
    settings.LLM_BASE_URL = ""
    settings.LLM_API_KEY = ""
    settings.LLM_MODEL = "deepseek-reasoner"


def test_no_model_means_retrieval_only():
    assert llm.models() == () and llm.model_config() is None


def test_a_deepseek_key_offers_the_reasoner_first_and_the_chat_model(settings):
    settings.LLM_BASE_URL, settings.LLM_API_KEY = "https://api.deepseek.com", "sk-x"
    reasoner, chat = llm.models()
    assert (reasoner.model, reasoner.reasoning, reasoner.temperature) == ("deepseek-reasoner", True, None)
    assert (chat.model, chat.reasoning) == ("deepseek-chat", False)
    assert reasoner.price == Price(0.14, 0.55, 2.19)
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
    assert local.context_tokens == settings.LLM_CONTEXT_TOKENS


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
        }
    ]
    [model] = llm.models()
    assert (model.name, model.context_tokens, model.answer_tokens) == ("R1 (GPU box)", 16384, 2048)
    assert model.price == Price(0.0, 0.1, 0.2)
    assert model.retries == 0


def test_retries_must_be_a_count(settings):
    settings.LLM_MODELS = [{"model": "r1", "base_url": "http://gpu:8000/v1", "retries": -1}]
    with pytest.raises(ImproperlyConfigured, match="entry 1: retries must be a whole number"):
        llm.models()


def test_cost_uses_the_cache_split_or_counts_the_prompt_as_misses():
    model = llm.ModelConfig(
        name="m", model="m", base_url="http://x", api_key="k", price=Price(0.14, 0.55, 2.19)
    )
    split = Usage(prompt_tokens=1000, completion_tokens=500, cache_hit_tokens=800, cache_miss_tokens=200)
    assert model.cost(split) == pytest.approx((800 * 0.14 + 200 * 0.55 + 500 * 2.19) / 1e6)
    assert model.cost(Usage(1000, 500)) == pytest.approx((1000 * 0.55 + 500 * 2.19) / 1e6)
    unpriced = llm.ModelConfig(name="m", model="m", base_url="http://x", api_key="k")
    assert unpriced.cost(split) is None
