"""One interface to every OpenAI-compatible chat model: the hosted DeepSeek API, Ollama,
vLLM, llama.cpp server, LM Studio. Providers differ by configuration, not by code.

`stream_chat` turns an upstream stream into typed events. Servers report reasoning in
three ways (`delta.reasoning`, `delta.reasoning_content`, `<think>` tags in the content);
the caller sees only `Reasoning` and `Content`. Upstream failures never raise out of the
stream: they end it with one `Error` event whose message a person can act on.
"""

import asyncio
import json
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx2
import openai
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chat.thinking import Part, ThinkSplitter

logger = logging.getLogger(__name__)


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
    api_key: str
    # A reasoning model's untagged content is reasoning until its first closing tag (R1 distills).
    reasoning: bool = True
    # Original R1 and its distills want every instruction in the user turn (chat/prompting.py).
    system_messages: bool = True
    # Sent only when set: DeepSeek ignores it for R1, Ollama defaults to 1.0 unless told 0.6.
    temperature: float | None = None
    timeout: float = 300.0
    # Tries again after 429/5xx while nothing has streamed (see `_opened_stream`).
    retries: int = 2
    # Tokens the model reads and writes in one request, and the part kept free for its reasoning and
    # answer: the prompt is trimmed to the rest.
    context_tokens: int = 65536
    answer_tokens: int = 8192
    price: Price | None = None

    def cost(self, usage: "Usage") -> float | None:
        """What a request cost in US dollars; the prompt counts as cache misses where no split is given."""
        if self.price is None:
            return None
        hit = usage.cache_hit_tokens or 0
        miss = usage.cache_miss_tokens if usage.cache_miss_tokens is not None else usage.prompt_tokens - hit
        total = hit * self.price.input_cache_hit + miss * self.price.input_cache_miss
        return round((total + usage.completion_tokens * self.price.output) / 1_000_000, 6)


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
    message: str
    status: int | None = None
    retryable: bool = False
    detail: str = ""  # technical detail for administrators (URL, cause, upstream body)


@dataclass(frozen=True)
class Done:
    finish_reason: str | None = None


Event = Reasoning | Content | Usage | Error | Done


class ProviderError(Exception):
    def __init__(self, error: Error) -> None:
        super().__init__(error.message)
        self.error = error


async def stream_chat(config: ModelConfig, messages: list[dict[str, str]]) -> AsyncIterator[Event]:
    """Yield Reasoning/Content as they arrive, then Usage (when reported) and Done, or a final Error.

    When the model is expected to reason but sends neither reasoning field, content up to
    the first closing tag streams as reasoning; if no closing tag ever comes, all of that
    text is yielded again just before the end as Content with `replaces_reasoning`
    (see chat.thinking).

    The SDK opens the request (authentication, timeouts, error statuses, retries while nothing
    has streamed yet); the chunks themselves are read as plain JSON: building SDK objects for
    every token cost ten times more CPU, which decides how many streams one process can carry.
    """
    reader = _ReplyReader(reasoning_expected=config.reasoning)
    usage: Usage | None = None
    finish_reason: str | None = None
    connected = False
    try:
        async with _opened_stream(config, messages) as response:
            connected = True
            async for event_name, data in _server_sent_events(response):
                if data == "[DONE]":
                    break
                chunk = json.loads(data)
                if not isinstance(chunk, dict):
                    raise ValueError("a stream chunk is not a JSON object")
                if event_name == "error" or chunk.get("error"):
                    # An `error` object in the middle of a stream: the service failed after it started.
                    raise openai.APIError("stream error", response.request, body=chunk.get("error", chunk))
                usage = _usage_from(chunk.get("usage")) or usage
                for choice in chunk.get("choices") or ():
                    delta = choice.get("delta")
                    if delta:
                        for event in reader.read(_reasoning_field(delta), delta.get("content")):
                            yield event
                    finish_reason = choice.get("finish_reason") or finish_reason
    except (openai.APIError, ValueError) as exc:
        for event in reader.finish():
            yield event
        yield _error_from(exc, config, connected=connected)
        return
    for event in reader.finish():
        yield event
    if usage is not None:
        yield usage
    yield Done(finish_reason)


@asynccontextmanager
async def _opened_stream(
    config: ModelConfig, messages: list[dict[str, str]]
) -> AsyncIterator[httpx2.Response]:
    """The upstream's streaming HTTP response, once it has answered 200.

    A rate limit or an overloaded server (429, 500, 502, 503) is tried again up to `config.retries`
    times, after the wait the server asks for (Retry-After) or a short back-off: nothing has streamed
    yet, so the user only sees the answer start a little later. Waits longer than MAX_RETRY_WAIT
    are not worth holding the user for: the error goes to them, with its retry button.
    """
    options = _request_options(config, messages) | {"stream": True, "stream_options": {"include_usage": True}}
    for attempt in range(config.retries + 1):
        try:
            opened = _client_for(config).chat.completions.with_streaming_response.create(**options)
            response = await opened.__aenter__()
            break
        except openai.APIStatusError as exc:
            wait = _retry_wait(exc, attempt)
            if attempt == config.retries or wait is None:
                raise
            logger.warning("LLM %s answered %s; trying again in %.1f s", config.name, exc.status_code, wait)
            await asyncio.sleep(wait)
    try:
        yield response.http_response
    except httpx2.TimeoutException as exc:
        raise openai.APITimeoutError(request=response.http_request) from exc
    except httpx2.TransportError as exc:
        raise openai.APIConnectionError(request=response.http_request) from exc
    finally:
        await opened.__aexit__(None, None, None)


RETRY_STATUSES = frozenset({429, 500, 502, 503})
MAX_RETRY_WAIT = 20.0


def _retry_wait(exc: openai.APIStatusError, attempt: int) -> float | None:
    """Seconds to wait before trying again, or None when this failure is not worth a retry."""
    if exc.status_code not in RETRY_STATUSES:
        return None
    headers = exc.response.headers
    wait = 2.0**attempt  # 1, 2, 4 … seconds
    try:
        if "retry-after-ms" in headers:
            wait = float(headers["retry-after-ms"]) / 1000
        elif "retry-after" in headers:
            wait = float(headers["retry-after"])
    except ValueError:
        pass  # an HTTP date or junk: keep the back-off
    return wait if 0 <= wait <= MAX_RETRY_WAIT else None


async def _server_sent_events(response: httpx2.Response) -> AsyncIterator[tuple[str, str]]:
    """(event name, data) of each server-sent event; comments (keep-alives) are skipped."""
    name, data = "", []
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield name, "\n".join(data)
            name, data = "", []
        elif line.startswith("data:"):
            data.append(line[6:] if line.startswith("data: ") else line[5:])
        elif line.startswith("event:"):
            name = line[6:].strip()
    if data:
        yield name, "\n".join(data)


async def complete_chat(config: ModelConfig, messages: list[dict[str, str]]) -> tuple[str, str, Usage | None]:
    """Return (reasoning, content, usage) of one non-streamed reply; raise ProviderError on failure."""
    try:
        completion = await _client_for(config).chat.completions.create(
            stream=False, **_request_options(config, messages)
        )
    except (openai.APIError, ValueError) as exc:
        raise ProviderError(_error_from(exc, config)) from exc
    reader = _ReplyReader(reasoning_expected=config.reasoning)
    events: list[Event] = []
    if completion.choices:
        message = completion.choices[0].message.model_dump()
        events += reader.read(_reasoning_field(message), message.get("content"))
    events += reader.finish()
    if any(isinstance(event, Content) and event.replaces_reasoning for event in events):
        events = [event for event in events if not isinstance(event, Reasoning)]
    reasoning = "".join(event.text for event in events if isinstance(event, Reasoning))
    content = "".join(event.text for event in events if isinstance(event, Content))
    usage = _usage_from(completion.usage.model_dump()) if completion.usage else None
    return reasoning, content, usage


class _ReplyReader:
    """Turns the reasoning field and content of one reply, in pieces, into ordered events."""

    def __init__(self, *, reasoning_expected: bool) -> None:
        self._reasoning_expected = reasoning_expected
        self._field_seen = False
        self._splitter: ThinkSplitter | None = None

    def read(self, reasoning: str | None, content: str | None) -> list[Event]:
        events: list[Event] = []
        if reasoning:
            self._field_seen = True
            events.append(Reasoning(reasoning))
        if content:
            if self._splitter is None:
                # Reasoning fields come before the answer, so by the first content we know
                # whether the server parses reasoning out itself.
                implicit = self._reasoning_expected and not self._field_seen
                self._splitter = ThinkSplitter(implicit_open=implicit)
            events += self._events(self._splitter.feed(content))
        return events

    def finish(self) -> list[Event]:
        return self._events(self._splitter.finish()) if self._splitter else []

    def _events(self, parts: list[Part]) -> list[Event]:
        # llama.cpp's deepseek-legacy format fills reasoning_content and also leaves the
        # tags in the content: drop the second copy.
        return [
            Reasoning(part.text, part.tentative)
            if part.reasoning
            else Content(part.text, part.replaces_reasoning)
            for part in parts
            if not (part.reasoning and self._field_seen)
        ]


def _reasoning_field(source: dict[str, Any]) -> str | None:
    # Newer vLLM and Ollama say `reasoning`; DeepSeek, older vLLM and llama.cpp say `reasoning_content`.
    for name in ("reasoning", "reasoning_content"):
        value = source.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def _usage_from(raw: dict[str, Any] | None) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    details = raw.get("completion_tokens_details") or {}
    return Usage(
        prompt_tokens=raw.get("prompt_tokens") or 0,
        completion_tokens=raw.get("completion_tokens") or 0,
        reasoning_tokens=details.get("reasoning_tokens"),
        cache_hit_tokens=raw.get("prompt_cache_hit_tokens"),
        cache_miss_tokens=raw.get("prompt_cache_miss_tokens"),
    )


def _request_options(config: ModelConfig, messages: list[dict[str, str]]) -> dict[str, Any]:
    options: dict[str, Any] = {"model": config.model, "messages": messages}
    if config.temperature is not None:
        options["temperature"] = config.temperature
    return options


# An httpx connection pool belongs to the event loop that opened it, so clients are
# shared per loop: one pool for all the streams a server process runs, and a fresh one
# for each asyncio.run() in workers and tests.
_ClientKey = tuple[str, str, float]
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_ClientKey, openai.AsyncOpenAI]] = (
    weakref.WeakKeyDictionary()
)


def _client_for(config: ModelConfig) -> openai.AsyncOpenAI:
    loop_clients = _clients.setdefault(asyncio.get_running_loop(), {})
    key = (config.base_url, config.api_key, config.timeout)
    if key not in loop_clients:
        # No SDK retries: it would also retry timeouts (minutes each) and connection
        # failures; `_opened_stream` retries only what a retry can fix.
        loop_clients[key] = openai.AsyncOpenAI(
            base_url=config.base_url,
            # Local servers need no key, but the SDK insists on one.
            api_key=config.api_key or "not-needed",
            timeout=config.timeout,
            max_retries=0,
            # The SDK's aiohttp transport parses HTTP in C: reading a stream chunk by chunk costs about
            # 40 % less CPU than with the default pure-Python one, and one process relays hundreds.
            http_client=openai.DefaultAioHttpClient(timeout=config.timeout),
        )
    return loop_clients[key]


# Messages are shown to the user in their language (the answer runs with it activated).
_STATUS_ERRORS: dict[int, tuple[str, Promise, bool]] = {
    400: ("bad_request", gettext_lazy("The LLM service rejected the request as malformed (400)."), False),
    401: ("auth", gettext_lazy("The LLM service rejected the API key (401). Check LLM_API_KEY."), False),
    402: (
        "balance",
        gettext_lazy("The LLM account has insufficient balance (402). Top up the account."),
        False,
    ),
    422: (
        "invalid_parameters",
        gettext_lazy("The LLM service rejected the request parameters (422). Check the model settings."),
        False,
    ),
    429: (
        "rate_limited",
        gettext_lazy("The LLM service is rate limiting requests (429). Try again shortly."),
        True,
    ),
    500: ("upstream_error", gettext_lazy("The LLM service had an internal error (500). Try again."), True),
    503: ("overloaded", gettext_lazy("The LLM service is overloaded (503). Try again shortly."), True),
}


def _error_from(exc: Exception, config: ModelConfig, *, connected: bool = False) -> Error:
    """Map an SDK exception to an Error event that says what happened and what to do."""
    url = config.base_url
    if isinstance(exc, openai.APITimeoutError) and not _refused(exc):
        message = _("The LLM service at {url} did not answer within {seconds} seconds.")
        return Error("timeout", message.format(url=url, seconds=f"{config.timeout:g}"), retryable=True)
    if isinstance(exc, openai.APIConnectionError) and connected:
        # The server was reachable and then dropped the answer (crashed, restarted, out of memory).
        message = _("The LLM service at {url} broke off the connection part-way through the answer.")
        return Error("upstream_error", message.format(url=url), retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        message = _("Could not connect to the LLM service at {url}. Check LLM_BASE_URL.")
        return Error("unreachable", message.format(url=f"{url}{cause}"), retryable=True)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        code, text, retryable = _STATUS_ERRORS.get(
            status,
            (
                "upstream_error",
                _("The LLM service answered with an error ({status}).").format(status=status),
                status >= 500,
            ),
        )
        return Error(code, _with_detail(str(text), exc.body), status=status, retryable=retryable)
    if isinstance(exc, openai.APIError):
        # An `error` object in the middle of a stream: the service failed after it started.
        message = _with_detail(_("The LLM service failed part-way through the answer."), exc.body)
        return Error("upstream_error", message, retryable=True)
    return Error("upstream_error", _("The LLM service sent a reply that could not be read."))


def _refused(exc: Exception) -> bool:
    """Whether the connection itself failed (refused, unknown host): the SDK's aiohttp transport
    reports those as connect timeouts, but aiohttp's own exception, further down the chain, says which."""
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, aiohttp.ClientConnectorError):
            return True
        cause = cause.__cause__
    return False


def _with_detail(message: str, body: object) -> str:
    # The SDK hands over the `error` object (OpenAI, DeepSeek, Ollama) or the whole body
    # (vLLM puts `message` at the top level; some servers send a bare string).
    detail = (body.get("message") or body.get("detail")) if isinstance(body, dict) else body
    if isinstance(detail, str) and detail.strip():
        return _("{message} The service said: {detail}").format(message=message, detail=detail.strip()[:500])
    return message
