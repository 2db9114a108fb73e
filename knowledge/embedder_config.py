"""The embedders a knowledge base can choose, from the EMBEDDERS setting, checked at start.

EMBEDDERS (JSON) lists embedders beside the built-in one, which always exists and is the default:
the packaged all-MiniLM-L6-v2, or the local model EMBEDDING_MODEL names. An entry is a local
sentence-transformers model (`"type": "local"`, `model` a name or path) or an OpenAI-compatible
`/v1/embeddings` server (`"type": "openai"`: Ollama, vLLM, TEI, a hosted API) with its own
`base_url` and key (settings.py resolves `api_key_env` to the key). A mistake stops the app at
start, naming the entry and the field, as LLM_MODELS does (chat/llm.py).
"""

from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import cache
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# What a knowledge base stores to name the built-in embedder; kept when EMBEDDING_MODEL changes the
# model behind it, so existing knowledge bases keep pointing at it.
DEFAULT_NAME = "all-MiniLM-L6-v2 (built in)"
TYPES = ("local", "openai")
NAME_CHARS = 100  # KnowledgeBase.embedder's length


@dataclass(frozen=True)
class EmbedderConfig:
    name: str  # shown in the admin, and what a knowledge base stores to pick the embedder
    type: str = "local"
    # local: a sentence-transformers name or path ("" is the default model); openai: the server's model id.
    model: str = ""
    base_url: str = ""  # openai: the API root, e.g. http://ollama:11434/v1 (`/embeddings` is added)
    api_key: str = ""
    # Texts per request (openai) or per model batch (local; None: EMBEDDING_BATCH_SIZE).
    batch_size: int | None = None
    timeout: float = 60.0  # openai: seconds to wait for each request
    retries: int = 3  # openai: tries again after 429/5xx, a timeout or a refused connection
    dimensions: int | None = None  # openai: sent as `dimensions` (models that can shorten their vectors)
    # openai: the longest chunk documents are cut into, in estimated tokens (knowledge.embedders).
    chunk_tokens: int = 256

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("name must be a non-empty string")
        if len(self.name) > NAME_CHARS:
            raise ValueError(f"name must be at most {NAME_CHARS} characters")
        if self.type not in TYPES:
            raise ValueError(f"type must be one of: {', '.join(TYPES)} (not {self.type!r})")
        for name in ("model", "base_url", "api_key"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be a string")
        if self.type == "openai":
            if not self.model:
                raise ValueError("model must name the server's embedding model")
            url = urlparse(self.base_url)
            if url.scheme not in ("http", "https") or not url.hostname:
                raise ValueError("base_url must be an http(s) URL")
        elif self.base_url or self.api_key:
            raise ValueError('base_url and api_key are for "type": "openai" only')
        if self.batch_size is not None:
            _check_count("batch_size", self.batch_size, minimum=1)
        if not (_is_number(self.timeout) and self.timeout > 0):
            raise ValueError("timeout must be a number of seconds above 0")
        _check_count("retries", self.retries, minimum=0)
        if self.dimensions is not None:
            _check_count("dimensions", self.dimensions, minimum=1)
        _check_count("chunk_tokens", self.chunk_tokens, minimum=16)


FIELD_NAMES = frozenset(field.name for field in fields(EmbedderConfig))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_count(field: str, value: Any, *, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{field} must be a whole number, {minimum} or more")


def _from_entry(where: str, entry: Any) -> EmbedderConfig:
    if not isinstance(entry, Mapping):
        raise ImproperlyConfigured(f'{where}: an object with at least a "name" is needed.')
    unknown = sorted(set(entry) - FIELD_NAMES)
    if unknown:
        raise ImproperlyConfigured(f"{where}: unknown field(s) {', '.join(unknown)}.")
    if "name" not in entry:
        raise ImproperlyConfigured(f"{where}: name is needed.")
    try:
        return EmbedderConfig(**entry)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{where}: {exc}.") from None


@cache
def _configured(key: str) -> tuple[EmbedderConfig, ...]:
    entries = settings.EMBEDDERS or []
    if not isinstance(entries, list):
        raise ImproperlyConfigured("EMBEDDERS must be a JSON list of embedder objects.")
    configs = [EmbedderConfig(name=DEFAULT_NAME)]
    for number, entry in enumerate(entries, 1):
        where = f"EMBEDDERS entry {number}"
        config = _from_entry(where, entry)
        if config.name in (c.name for c in configs):
            raise ImproperlyConfigured(
                f"{where}: name {config.name!r} is taken; every embedder needs its own."
            )
        configs.append(config)
    return tuple(configs)


def configured() -> tuple[EmbedderConfig, ...]:
    """Every embedder, the built-in default first."""
    # Keyed by the setting, so tests that change it get fresh configs.
    return _configured(repr(settings.EMBEDDERS))
