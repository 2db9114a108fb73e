"""The language models users can choose, from settings. An empty list means retrieval-only mode.

`LLM_MODELS` (JSON) lists them explicitly (settings.py resolves `api_key_env` to the key). Without
it: DeepSeek's hosted reasoner and chat models when a DeepSeek key is set, or the one model at
`LLM_BASE_URL` (Ollama, vLLM, llama.cpp server, LM Studio), treated as a local R1 distill.

Each model is read through the one schema (chat/model_config.py), in layers: the schema's defaults,
then the variables that set a default for every model (`LLM_TIMEOUT_SECONDS` …), then what is known
of the hosted DeepSeek API, then the model's own entry. A mistake stops the app at start, naming the
variable or entry and the field. A model may name fallbacks, other configured models that answer
when it is unavailable (`model_chain`, chat/engine.py).
"""

from functools import cache
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from chat import prompting, providers
from chat.model_config import FieldError, ModelConfig, from_entry

_DEEPSEEK_HOST = "api.deepseek.com"
# The hosted API's context window; it ignores temperature for R1, so none is sent.
_DEEPSEEK_HOSTED = {"context_tokens": 65536, "temperature": None}
# DeepSeek's launch prices per million tokens (cache hit, cache miss, output); they were cut later,
# so a deployment sets its own in LLM_MODELS.
_DEEPSEEK_MODELS = [
    {"name": "DeepSeek-R1", "model": "deepseek-reasoner", "reasoning": True, "price": [0.14, 0.55, 2.19]},
    {"name": "DeepSeek-V3", "model": "deepseek-chat", "reasoning": False, "price": [0.07, 0.27, 1.10]},
]
# The variables that set a field's default for every model.
_DEFAULT_VARIABLES = {
    "timeout": "LLM_TIMEOUT_SECONDS",
    "context_tokens": "LLM_CONTEXT_TOKENS",
    "answer_tokens": "LLM_ANSWER_TOKENS",
    "system_messages": "LLM_SYSTEM_MESSAGES",
}


def _defaults() -> dict[str, Any]:
    """Field defaults from the variables that are set."""
    values = {field: getattr(settings, variable) for field, variable in _DEFAULT_VARIABLES.items()}
    return {field: value for field, value in values.items() if value is not None}


def _entries() -> list[tuple[str, Any]]:
    """(where it comes from, entry) for each model, the default first."""
    if settings.LLM_MODELS is not None:
        if not isinstance(settings.LLM_MODELS, list):
            raise ImproperlyConfigured("LLM_MODELS must be a JSON list of model objects.")
        return [(f"LLM_MODELS entry {number}", entry) for number, entry in enumerate(settings.LLM_MODELS, 1)]
    if not settings.LLM_BASE_URL:
        return []
    if urlparse(settings.LLM_BASE_URL).hostname == _DEEPSEEK_HOST:
        first = {**_DEEPSEEK_MODELS[0], "model": settings.LLM_MODEL}
        chosen = [first, *(m for m in _DEEPSEEK_MODELS[1:] if m["model"] != settings.LLM_MODEL)]
        return [(f"the DeepSeek model {m['model']} (LLM_MODEL, DEEPSEEK_API_KEY)", m) for m in chosen]
    return [("the model at LLM_BASE_URL (LLM_MODEL)", {"model": settings.LLM_MODEL})]


def _model(where: str, entry: Any) -> ModelConfig:
    if not isinstance(entry, dict):
        raise ImproperlyConfigured(f'{where}: an object with at least a "model" is needed.')
    base_url = entry.get("base_url") or settings.LLM_BASE_URL
    layers: dict[str, Any] = {"base_url": base_url} | _defaults()
    if urlparse(base_url or "").hostname == _DEEPSEEK_HOST:
        layers |= _DEEPSEEK_HOSTED
    if base_url == settings.LLM_BASE_URL and settings.LLM_API_KEY:
        layers["api_key"] = settings.LLM_API_KEY
    try:
        config = from_entry(layers | entry)
    except FieldError as exc:
        variable = _DEFAULT_VARIABLES.get(exc.field)
        source = f" (from {variable})" if variable and exc.field not in entry else ""
        raise ImproperlyConfigured(f"{where}: {exc}{source}.") from None
    if config.api not in providers.PROVIDERS:
        known = ", ".join(sorted(providers.PROVIDERS))
        raise ImproperlyConfigured(f"{where}: api must be one of: {known} (not {config.api!r}).")
    _check_room(where, config)
    return config


def _check_room(where: str, config: ModelConfig) -> None:
    """Refuse a context that, once the answer's reserve is kept, cannot hold the instructions, a
    question and one passage: every answer would be made without the documents."""
    room = config.context_tokens - config.answer_reserve
    needed = prompting.minimum_prompt_tokens()
    if room < needed:
        raise ImproperlyConfigured(
            f"{where}: model {config.name!r} has context_tokens={config.context_tokens} and keeps "
            f"answer_tokens={config.answer_reserve} for the answer, which leaves {room} tokens for the "
            f"prompt; the instructions, a question and one passage need {needed}. Raise context_tokens "
            "(LLM_CONTEXT_TOKENS, and the server's own context size) or lower answer_tokens "
            "(LLM_ANSWER_TOKENS)."
        )


@cache
def _configured(key: tuple) -> tuple[ModelConfig, ...]:
    entries = _entries()
    configs = tuple(_model(where, entry) for where, entry in entries)
    names = [config.name for config in configs]
    if len(set(names)) != len(names):
        raise ImproperlyConfigured("LLM_MODELS: every model needs its own name.")
    for (where, _entry), config in zip(entries, configs, strict=True):
        if unknown := [name for name in config.fallback if name not in names]:
            raise ImproperlyConfigured(
                f"{where}: fallback names {unknown[0]!r}, which is not a configured model "
                f"(configured: {', '.join(names)})."
            )
    if configs and settings.LLM_TASK_MODEL and settings.LLM_TASK_MODEL not in names:
        raise ImproperlyConfigured(
            f"LLM_TASK_MODEL names {settings.LLM_TASK_MODEL!r}, which is not a configured model "
            f"(configured: {', '.join(names)})."
        )
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
            settings.LLM_TASK_MODEL,
            *(getattr(settings, variable) for variable in _DEFAULT_VARIABLES.values()),
        )
    )


def model_named(name: str) -> ModelConfig | None:
    """The configured model with this upstream id or name, as an API client names it (/v1, MCP)."""
    return next((config for config in models() if name in (config.model, config.name)), None)


def model_config(name: str | None = None) -> ModelConfig | None:
    """The model of this name, or the default one when the name is empty or no longer configured."""
    configured = models()
    if not configured:
        return None
    return next((config for config in configured if config.name == name), configured[0])


def model_chain(config: ModelConfig) -> tuple[ModelConfig, ...]:
    """The model, then its fallbacks in order: those an answer asks in turn while each is unavailable.
    A fallback's own fallbacks are not followed, so the chain is the one the chosen model names, and
    cannot loop."""
    configured = {model.name: model for model in models()}
    return (config, *(configured[name] for name in config.fallback))


def task_model() -> ModelConfig | None:
    """The model for short tasks beside the answer (chat/brief_calls.py): LLM_TASK_MODEL, else the
    first configured model that does not reason (its reply is quicker and cheaper), else the default."""
    configured = models()
    if settings.LLM_TASK_MODEL:
        return model_config(settings.LLM_TASK_MODEL)
    return next((config for config in configured if not config.reasoning), model_config())
