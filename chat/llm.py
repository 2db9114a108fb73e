"""The language models users can choose, from settings. An empty list means retrieval-only mode.

`LLM_MODELS` (JSON) lists them explicitly (settings.py resolves `api_key_env` to the key). Without
it: DeepSeek's hosted reasoner and chat models when a DeepSeek key is set, or the one model at
`LLM_BASE_URL` (Ollama, vLLM, llama.cpp server, LM Studio), treated as a local R1 distill.
"""

from functools import cache
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from chat.providers import ModelConfig, Price

_DEEPSEEK_HOST = "api.deepseek.com"
# DeepSeek's recommendation for R1 and its distills; the hosted API ignores temperature for R1.
_LOCAL_R1_TEMPERATURE = 0.6
# DeepSeek's launch prices per million tokens (cache hit, cache miss, output); they were cut later,
# so a deployment sets its own in LLM_MODELS.
_DEEPSEEK_DEFAULTS = [
    {"name": "DeepSeek-R1", "model": "deepseek-reasoner", "reasoning": True, "price": [0.14, 0.55, 2.19]},
    {"name": "DeepSeek-V3", "model": "deepseek-chat", "reasoning": False, "price": [0.07, 0.27, 1.10]},
]
_FIELDS = {
    "name",
    "model",
    "base_url",
    "api_key",
    "reasoning",
    "system_messages",
    "temperature",
    "context_tokens",
    "answer_tokens",
    "price",
    "retries",
}


def _price(value: Any, where: str) -> Price | None:
    if value is None:
        return None
    if isinstance(value, dict):
        value = [value.get("input_cache_hit"), value.get("input_cache_miss"), value.get("output")]
    if not (isinstance(value, list) and len(value) == 3 and all(isinstance(v, int | float) for v in value)):
        raise ImproperlyConfigured(
            f"LLM_MODELS {where}: price must be [cache hit, cache miss, output] in USD per million tokens."
        )
    return Price(*map(float, value))


def _count(value: Any, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{field} must be a whole number, 0 or more")
    return value


def _model(entry: Any, number: int) -> ModelConfig:
    where = f"entry {number}"
    if not isinstance(entry, dict) or not entry.get("model"):
        raise ImproperlyConfigured(f'LLM_MODELS {where}: an object with at least a "model" is needed.')
    unknown = set(entry) - _FIELDS
    if unknown:
        raise ImproperlyConfigured(f"LLM_MODELS {where}: unknown field(s) {', '.join(sorted(unknown))}.")
    base_url = entry.get("base_url") or settings.LLM_BASE_URL
    if urlparse(base_url or "").scheme not in ("http", "https"):
        raise ImproperlyConfigured(f"LLM_MODELS {where}: base_url must be an http(s) URL.")
    hosted = urlparse(base_url).hostname == _DEEPSEEK_HOST
    key = entry.get("api_key") or (settings.LLM_API_KEY if base_url == settings.LLM_BASE_URL else "")
    try:
        return ModelConfig(
            name=str(entry.get("name") or entry["model"]),
            model=str(entry["model"]),
            base_url=base_url,
            api_key=key or "not-needed",
            reasoning=bool(entry.get("reasoning", True)),
            system_messages=bool(entry.get("system_messages", True)),
            temperature=entry.get("temperature", None if hosted else _LOCAL_R1_TEMPERATURE),
            timeout=float(settings.LLM_TIMEOUT_SECONDS),
            context_tokens=int(entry.get("context_tokens", 65536 if hosted else settings.LLM_CONTEXT_TOKENS)),
            answer_tokens=int(entry.get("answer_tokens", 8192 if hosted else 4096)),
            price=_price(entry.get("price"), where),
            retries=_count(entry.get("retries", 2), "retries"),
        )
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"LLM_MODELS {where}: {exc}.") from None


def _entries() -> list[Any]:
    if settings.LLM_MODELS is not None:
        if not isinstance(settings.LLM_MODELS, list):
            raise ImproperlyConfigured("LLM_MODELS must be a JSON list of model objects.")
        return settings.LLM_MODELS
    if not settings.LLM_BASE_URL:
        return []
    if urlparse(settings.LLM_BASE_URL).hostname == _DEEPSEEK_HOST:
        first = {**_DEEPSEEK_DEFAULTS[0], "model": settings.LLM_MODEL}
        return [first, *(d for d in _DEEPSEEK_DEFAULTS[1:] if d["model"] != settings.LLM_MODEL)]
    return [{"model": settings.LLM_MODEL, "system_messages": settings.LLM_SYSTEM_MESSAGES}]


@cache
def _configured(key: tuple) -> tuple[ModelConfig, ...]:
    configs = tuple(_model(entry, number) for number, entry in enumerate(_entries(), start=1))
    names = [config.name for config in configs]
    if len(set(names)) != len(names):
        raise ImproperlyConfigured("LLM_MODELS: every model needs its own name.")
    return configs


def models() -> tuple[ModelConfig, ...]:
    """The configured models, the default first."""
    # Keyed by the settings they come from, so tests that change settings get fresh configs.
    return _configured(
        (
            repr(settings.LLM_MODELS),
            settings.LLM_BASE_URL,
            settings.LLM_API_KEY,
            settings.LLM_MODEL,
            settings.LLM_TIMEOUT_SECONDS,
            settings.LLM_CONTEXT_TOKENS,
            settings.LLM_SYSTEM_MESSAGES,
        )
    )


def model_config(name: str | None = None) -> ModelConfig | None:
    """The model of this name, or the default one when the name is empty or no longer configured."""
    configured = models()
    if not configured:
        return None
    return next((config for config in configured if config.name == name), configured[0])
