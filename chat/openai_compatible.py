"""The provider for every OpenAI-compatible chat API (`api: "openai"`): the hosted DeepSeek API,
vLLM, Ollama, llama.cpp server, LM Studio. They differ by configuration, not by code.

Servers report reasoning in three ways (`delta.reasoning`, `delta.reasoning_content`, `<think>`
tags in the content); the caller sees only `Reasoning` and `Content`. Upstream failures never raise
out of the stream: they end it with one `Error` event (see the contract in chat/providers.py).
"""

import asyncio
import json
import logging
import weakref
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import httpx2
import openai
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chat.model_config import ModelConfig
from chat.providers import Content, Done, Error, Event, Provider, Reasoning, Usage
from chat.thinking import Part, ThinkSplitter

logger = logging.getLogger(__name__)


class OpenAICompatible(Provider):
    def stream(self, config: ModelConfig, messages: list[dict[str, str]]) -> AsyncGenerator[Event, None]:
        return stream_chat(config, messages)


async def stream_chat(config: ModelConfig, messages: list[dict[str, str]]) -> AsyncGenerator[Event, None]:
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
    """(event name, data) of each server-sent event; comments (keep-alives) are skipped.

    Each read from the connection is cut into events in one pass over its bytes: a token's chunk is
    one event, and going through httpx's text and line iterators cost a decoder and three generator
    steps per line, for every token of every stream. Lines may end in LF, CRLF or CR, as the spec
    allows; a CR at the end of a read may be half of a CRLF, so it waits for the next read."""
    pending = b""
    async for received in response.aiter_bytes():
        pending += received
        if b"\r" in pending:
            pending = _lf_line_ends(pending)
        end = pending.rfind(b"\n\n")
        if end < 0:
            continue
        complete, pending = pending[:end], pending[end + 2 :]
        for block in complete.split(b"\n\n"):
            if (event := _event(block)) is not None:
                yield event
    if pending.endswith(b"\r"):
        pending = pending[:-1] + b"\n"
    if (event := _event(pending)) is not None:
        yield event


def _lf_line_ends(data: bytes) -> bytes:
    """CRLF and CR line ends as LF; a CR that ends `data` is kept for the LF that may follow it."""
    held = data.endswith(b"\r")
    data = (data[:-1] if held else data).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return data + b"\r" if held else data


def _event(block: bytes) -> tuple[str, str] | None:
    """(event name, data) of one event's lines, or None when it has no data (a comment, say)."""
    if block.startswith(b"data: ") and b"\n" not in block:  # a token's chunk: by far the most common
        return "", block[6:].decode("utf-8", "replace")
    name, data = "", list[str]()
    for line in block.decode("utf-8", "replace").split("\n"):
        if line.startswith("data:"):
            data.append(line[6:] if line.startswith("data: ") else line[5:])
        elif line.startswith("event:"):
            name = line[6:].strip()
    return (name, "\n".join(data)) if data else None


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
    # `max_tokens`, not `max_completion_tokens`: llama.cpp, Ollama, vLLM and LM Studio all read it.
    # Local servers count the reasoning in it; DeepSeek's R1 did not at launch (the answer only, at
    # most 8192) and does since: its default reserve, 8192, is accepted under both.
    options: dict[str, Any] = {
        "model": config.model,
        "messages": messages,
        "max_tokens": config.answer_reserve,
    }
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


# Messages are for the person who asked, in their language (the answer runs with it activated):
# plain words, no address or setting name. What an administrator needs goes in the detail.
_STATUS_ERRORS: dict[int, tuple[str, Promise, bool]] = {
    400: ("bad_request", gettext_lazy("The language model service refused the request."), False),
    401: (
        "auth",
        gettext_lazy("The language model service refused our API key. An administrator needs to fix it."),
        False,
    ),
    402: (
        "balance",
        gettext_lazy(
            "The language model account has run out of balance. An administrator needs to top it up."
        ),
        False,
    ),
    422: (
        "invalid_parameters",
        gettext_lazy(
            "The language model service refused the request's settings. An administrator needs to check them."
        ),
        False,
    ),
    429: (
        "rate_limited",
        gettext_lazy("The language model service is receiving too many requests. Try again shortly."),
        True,
    ),
    500: (
        "upstream_error",
        gettext_lazy("The language model service had an internal error. Try again."),
        True,
    ),
    503: ("overloaded", gettext_lazy("The language model service is overloaded. Try again shortly."), True),
}
# What an administrator can do about a status.
_STATUS_HINTS: dict[int, Promise] = {
    401: gettext_lazy("Check the key: LLM_API_KEY, or the model's api_key in LLM_MODELS."),
    402: gettext_lazy("Top up the account."),
    404: gettext_lazy("Check the model id (LLM_MODEL, or the model's model) and the base URL."),
    422: gettext_lazy("Check the model's settings in LLM_MODELS (temperature, answer_tokens)."),
}


def _error_from(exc: Exception, config: ModelConfig, *, connected: bool = False) -> Error:
    """Map an SDK exception to an Error event: what happened for the person who asked, and the
    address, cause, status and body for an administrator."""
    url = config.base_url
    if isinstance(exc, openai.APITimeoutError) and not _refused(exc):
        message = _("The language model took too long to answer. Try again in a moment.")
        detail = _("No answer from {url} within {seconds} seconds (the model's timeout).")
        return Error(
            "timeout", message, retryable=True, detail=detail.format(url=url, seconds=f"{config.timeout:g}")
        )
    if isinstance(exc, openai.APIConnectionError) and connected:
        # The server was reachable and then dropped the answer (crashed, restarted, out of memory).
        message = _("The language model stopped part-way through the answer. Try again.")
        detail = _("{url} broke off the connection part-way through the answer.").format(url=url)
        return Error("upstream_error", message, retryable=True, detail=detail)
    if isinstance(exc, openai.APIConnectionError):
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        message = _("The language model cannot be reached right now. Try again later.")
        detail = _(
            "Could not connect to {url}{cause}. Check LLM_BASE_URL, or the model's base_url in LLM_MODELS."
        )
        return Error("unreachable", message, retryable=True, detail=detail.format(url=url, cause=cause))
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        code, text, retryable = _STATUS_ERRORS.get(
            status,
            (
                "upstream_error",
                gettext_lazy("The language model service answered with an error. Try again later."),
                status >= 500,
            ),
        )
        detail = _("{url} answered {status}.").format(url=url, status=status)
        if status in _STATUS_HINTS:
            detail = f"{detail} {_STATUS_HINTS[status]}"
        return Error(code, str(text), status=status, retryable=retryable, detail=_with_body(detail, exc.body))
    if isinstance(exc, openai.APIError):
        # An `error` object in the middle of a stream: the service failed after it started.
        message = _("The language model service failed part-way through the answer. Try again.")
        detail = _("{url} sent an error part-way through the answer.").format(url=url)
        return Error("upstream_error", message, retryable=True, detail=_with_body(detail, exc.body))
    message = _("The language model service sent a reply that could not be read.")
    detail = _("{url} sent a stream that is not OpenAI-compatible JSON ({cause}).").format(url=url, cause=exc)
    return Error("upstream_error", message, detail=detail)


def _refused(exc: Exception) -> bool:
    """Whether the connection itself failed (refused, unknown host): the SDK's aiohttp transport
    reports those as connect timeouts, but aiohttp's own exception, further down the chain, says which."""
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, aiohttp.ClientConnectorError):
            return True
        cause = cause.__cause__
    return False


def _with_body(detail: str, body: object) -> str:
    # The SDK hands over the `error` object (OpenAI, DeepSeek, Ollama) or the whole body
    # (vLLM puts `message` at the top level; some servers send a bare string).
    said = (body.get("message") or body.get("detail")) if isinstance(body, dict) else body
    if isinstance(said, str) and said.strip():
        return _("{detail} The service said: {said}").format(detail=detail, said=said.strip()[:500])
    return detail
