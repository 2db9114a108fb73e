"""The language-model provider contract: one model's configuration and messages in, one stream of
typed events out. A model's `api` field (chat/model_config.py) picks its provider from `PROVIDERS`.

A provider is a subclass of `Provider` that implements `stream(config, messages)`, an async
generator that:
- yields `Reasoning` and `Content` as the text arrives, reasoning before the answer, whatever way
  the upstream marks them; `Content(replaces_reasoning=True)` when what streamed as reasoning
  turns out to have been the answer (it then holds all of it);
- then `Usage` when the upstream reports it, and `Done` with the finish reason;
- or, on any failure, ends with one `Error` instead of raising: its `message` is plain language for
  the person who asked (no URL, no setting name), its `detail` is what an administrator needs
  (address, cause, upstream status and body); `retryable` says whether asking again may help;
- honours the configuration: `model`, `base_url`, `api_key`, `timeout`, `retries` (only while
  nothing has streamed), `temperature` (None: not sent) and `answer_reserve`, the most tokens the
  model may write (the prompt was trimmed to leave it free);
- can be closed part-way (`aclose()`) when the person leaves, and gives back its connection.

The messages are OpenAI-style `{"role", "content"}` dicts built by chat/prompting.py. Nothing else
of a provider is called: the engine and the API adapters only iterate `stream_chat`.

To add one: write the subclass in a module of its own, add its dotted path to `PROVIDERS` under
the `api` name, and run the contract tests of tests/test_providers.py against it.
"""

from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from functools import cache

from django.utils.module_loading import import_string

from chat.model_config import ModelConfig

# ModelConfig is named here too: the engine and the API adapters annotate with providers.ModelConfig.
__all__ = ["PROVIDERS", "Content", "Done", "Error", "Event", "ModelConfig", "Reasoning", "Usage"]

# The `api` names a model may use, and the class that speaks each.
PROVIDERS: dict[str, str] = {
    # DeepSeek's hosted API, vLLM, Ollama, llama.cpp server, LM Studio: /chat/completions over SSE.
    "openai": "chat.openai_compatible.OpenAICompatible",
}


@dataclass(frozen=True)
class Reasoning:
    text: str
    # Untagged text a distill wrote before any closing tag: reasoning if the tag comes, the answer
    # (sent again as Content with `replaces_reasoning`) if the reply ends without it.
    tentative: bool = False


@dataclass(frozen=True)
class Content:
    text: str
    # What streamed as reasoning was the answer (a distill's untagged reply): this is all of it.
    replaces_reasoning: bool = False


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int | None = None
    cache_hit_tokens: int | None = None
    cache_miss_tokens: int | None = None


@dataclass(frozen=True)
class Error:
    code: str
    message: str  # for the person who asked, in their language: what happened and whether to retry
    status: int | None = None
    retryable: bool = False
    detail: str = ""  # for administrators: the upstream's address, the cause, its status and body


@dataclass(frozen=True)
class Done:
    finish_reason: str | None = None


Event = Reasoning | Content | Usage | Error | Done


class Provider(ABC):
    """Speaks one kind of upstream API; see the module docstring for the contract."""

    @abstractmethod
    def stream(self, config: ModelConfig, messages: list[dict[str, str]]) -> AsyncGenerator[Event, None]: ...


@cache
def provider_for(api: str) -> Provider:
    """The provider registered under this `api` name; KeyError when there is none."""
    provider: Provider = import_string(PROVIDERS[api])()
    return provider


def stream_chat(config: ModelConfig, messages: list[dict[str, str]]) -> AsyncGenerator[Event, None]:
    """The model's reply as events, from the provider its `api` names (see the module docstring)."""
    return provider_for(config.api).stream(config, messages)
