"""Which language model answers, from settings. None means retrieval-only mode."""

from urllib.parse import urlparse

from django.conf import settings

from chat.providers import ModelConfig

_DEEPSEEK_HOST = "api.deepseek.com"
# DeepSeek's recommendation for R1 and its distills; the hosted API ignores temperature for R1.
_LOCAL_R1_TEMPERATURE = 0.6


def model_config(model: str | None = None) -> ModelConfig | None:
    if not settings.LLM_BASE_URL:
        return None
    model = model or settings.LLM_MODEL
    hosted = urlparse(settings.LLM_BASE_URL).hostname == _DEEPSEEK_HOST
    return ModelConfig(
        name=model,
        model=model,
        base_url=settings.LLM_BASE_URL,
        api_key=settings.LLM_API_KEY or "not-needed",
        reasoning=model != "deepseek-chat",
        system_messages=True,
        temperature=None if hosted else _LOCAL_R1_TEMPERATURE,
        timeout=float(settings.LLM_TIMEOUT_SECONDS),
    )
