"""One language model's configuration: the single schema behind `LLM_MODELS` entries and the
single-model `LLM_*` variables, with every default written here once, as a field default.

`ModelConfig` checks its own values and raises `FieldError` naming the field at fault;
`from_entry` reads one JSON object into it. chat/llm.py layers the variables and presets over
these defaults and names the variable or the `LLM_MODELS` entry in its errors.
"""

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

if TYPE_CHECKING:
    from chat.providers import Usage

# The reserve for the model's reasoning and answer, unless set: a quarter of the context, at most
# this. A reasoning model needs thousands of tokens; a small local context must keep most of its
# room for the passages.
ANSWER_TOKENS_CAP = 8192


class FieldError(ValueError):
    """A value the schema refuses; `field` names it, and the message says why."""

    def __init__(self, field: str, problem: str, *, message: str = "") -> None:
        super().__init__(message or f"{field} {problem}")
        self.field = field


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens."""

    input_cache_hit: float
    input_cache_miss: float
    output: float


@dataclass(frozen=True)
class ModelConfig:
    name: str  # shown to users, and what a conversation stores to pick the model
    model: str  # the upstream's model id
    base_url: str
    api_key: str = ""
    # Which provider speaks to the upstream (chat/providers.py registry).
    api: str = "openai"
    # A reasoning model's untagged content is reasoning until its first closing tag (R1 distills).
    reasoning: bool = True
    # Original R1 and its distills want every instruction in the user turn (chat/prompting.py).
    system_messages: bool = True
    # DeepSeek's recommendation for R1 and its distills; Ollama would use 1.0 unless told. None: not sent
    # (the hosted DeepSeek API ignores it for R1).
    temperature: float | None = 0.6
    # Seconds to wait for the upstream to connect and for each piece of the stream.
    timeout: float = 300.0
    # Tries again after 429/5xx while nothing has streamed (see chat/openai_compatible.py).
    retries: int = 2
    # Tokens the model reads and writes in one request.
    context_tokens: int = 32768
    # Tokens kept free for its reasoning and answer, sent upstream as `max_tokens`; the prompt is
    # trimmed to the rest. None: a quarter of the context, at most ANSWER_TOKENS_CAP.
    answer_tokens: int | None = None
    price: Price | None = None
    # The names of other configured models to ask, in order, when this one is unavailable before it
    # says anything (chat/engine.py); theirs are not followed.
    fallback: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("model", "name"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise FieldError(name, "must be a non-empty string")
        url = urlparse(self.base_url) if isinstance(self.base_url, str) else None
        if url is None or url.scheme not in ("http", "https") or not url.hostname:
            raise FieldError("base_url", "must be an http(s) URL")
        for name in ("api_key", "api"):
            if not isinstance(getattr(self, name), str):
                raise FieldError(name, "must be a string")
        for name in ("reasoning", "system_messages"):
            if not isinstance(getattr(self, name), bool):
                raise FieldError(name, "must be true or false")
        if self.temperature is not None and not (_is_number(self.temperature) and 0 <= self.temperature <= 2):
            raise FieldError("temperature", "must be a number from 0 to 2, or null to send none")
        if not (_is_number(self.timeout) and self.timeout > 0):
            raise FieldError("timeout", "must be a number of seconds above 0")
        _check_count("retries", self.retries, minimum=0)
        _check_count("context_tokens", self.context_tokens, minimum=1)
        if self.answer_tokens is not None:
            _check_count("answer_tokens", self.answer_tokens, minimum=1)
            if self.answer_tokens >= self.context_tokens:
                raise FieldError(
                    "answer_tokens",
                    f"({self.answer_tokens}) must be less than context_tokens ({self.context_tokens})",
                )
        if self.price is not None and not isinstance(self.price, Price):
            raise FieldError("price", "must be a Price")
        self._check_fallback()

    def _check_fallback(self) -> None:
        names = self.fallback
        if not (isinstance(names, tuple) and all(isinstance(name, str) and name for name in names)):
            raise FieldError("fallback", "must be a list of the names of other configured models")
        if self.name in names:
            raise FieldError("fallback", f"cannot name the model itself ({self.name!r})")
        if len(set(names)) != len(names):
            raise FieldError("fallback", "names a model twice")

    @property
    def answer_reserve(self) -> int:
        """Tokens kept for the reasoning and the answer: `answer_tokens`, or its default."""
        if self.answer_tokens is not None:
            return self.answer_tokens
        return min(ANSWER_TOKENS_CAP, self.context_tokens // 4)

    def cost(self, usage: "Usage") -> float | None:
        """What a request cost in US dollars; the prompt counts as cache misses where no split is given."""
        if self.price is None:
            return None
        hit = usage.cache_hit_tokens or 0
        miss = usage.cache_miss_tokens if usage.cache_miss_tokens is not None else usage.prompt_tokens - hit
        total = hit * self.price.input_cache_hit + miss * self.price.input_cache_miss
        return round((total + usage.completion_tokens * self.price.output) / 1_000_000, 6)


FIELD_NAMES = frozenset(field.name for field in fields(ModelConfig))


def from_entry(entry: Mapping[str, Any]) -> ModelConfig:
    """The configuration one JSON object describes; `name` defaults to `model`, `price` may be
    [cache hit, cache miss, output] or an object with those names, `fallback` is a list. Raises
    FieldError."""
    unknown = set(entry) - FIELD_NAMES
    if unknown:
        names = ", ".join(sorted(unknown))
        raise FieldError(names, "", message=f"unknown field(s) {names}")
    values = dict(entry)
    values.setdefault("name", values.get("model"))
    if values.get("price") is not None:
        values["price"] = _price(values["price"])
    if isinstance(values.get("fallback"), list):
        values["fallback"] = tuple(values["fallback"])
    for name in ("model", "base_url"):
        if name not in values:
            raise FieldError(name, "is needed")
    return ModelConfig(**values)


def _price(value: Any) -> Price:
    if isinstance(value, dict):
        value = [value.get("input_cache_hit"), value.get("input_cache_miss"), value.get("output")]
    if not (isinstance(value, list) and len(value) == 3 and all(_is_number(v) and v >= 0 for v in value)):
        raise FieldError("price", "must be [cache hit, cache miss, output] in USD per million tokens")
    return Price(*map(float, value))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_count(field: str, value: Any, *, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise FieldError(field, f"must be a whole number, {minimum} or more")
