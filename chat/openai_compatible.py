"""The provider for every OpenAI-compatible chat API (`api: "openai"`): the hosted DeepSeek API,
vLLM, Ollama, llama.cpp server, LM Studio. They differ by configuration, not by code.

Servers report reasoning in three ways (`delta.reasoning`, `delta.reasoning_content`, `<think>`
tags in the content); the caller sees only `Reasoning` and `Content`. Upstream failures never raise
out of the stream: they end it with one `Error` event (see the contract in chat/providers.py).

The request is one JSON POST to `{base_url}/chat/completions`, sent and read with aiohttp, whose
HTTP parser is in C. The `openai` SDK did the same through two more layers (its request transform,
which walks every message, and an httpx facade over the same aiohttp transport): 1.6 ms of CPU to
open a request and about 10 ms more per 500 tokens read, on top of 0.24 ms and 17 ms for aiohttp
alone — a quarter of the CPU an answer may cost if one core is to start 25 a second. The tests still
drive the app's `/v1` with the SDK, which is where its compatibility matters.
"""

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from typing import Any

import aiohttp
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chat.model_config import ModelConfig
from chat.providers import Content, Done, Error, Event, Provider, Reasoning, Usage
from chat.thinking import Part, ThinkSplitter

logger = logging.getLogger(__name__)

# The most of an error response's body read for its message: error bodies are small JSON objects.
MAX_ERROR_BODY = 64 * 1024
# What is read after `[DONE]` for the connection to be reused, and for how long at most.
MAX_AFTER_DONE = 64 * 1024
DRAIN_SECONDS = 0.5


class StatusError(Exception):
    """The upstream answered the request with an error status."""

    def __init__(self, status: int, headers: Mapping[str, str], body: object) -> None:
        super().__init__(f"status {status}")
        self.status, self.headers, self.body = status, headers, body


class StreamError(Exception):
    """The upstream sent an `error` object part-way through the stream: it failed after it started."""

    def __init__(self, body: object) -> None:
        super().__init__("stream error")
        self.body = body


class OpenAICompatible(Provider):
    def stream(self, config: ModelConfig, messages: list[dict[str, str]]) -> AsyncGenerator[Event, None]:
        return stream_chat(config, messages)


async def stream_chat(config: ModelConfig, messages: list[dict[str, str]]) -> AsyncGenerator[Event, None]:
    """Yield Reasoning/Content as they arrive, then Usage (when reported) and Done, or a final Error.

    When the model is expected to reason but sends neither reasoning field, content up to
    the first closing tag streams as reasoning; if no closing tag ever comes, all of that
    text is yielded again just before the end as Content with `replaces_reasoning`
    (see chat.thinking).
    """
    reader = _ReplyReader(reasoning_expected=config.reasoning)
    usage: Usage | None = None
    finish_reason: str | None = None
    connected = False
    try:
        async with _opened_stream(config, messages) as response:
            connected = True
            async for event_name, data in _server_sent_events(response.content):
                if data == "[DONE]":
                    await _drained(response)
                    break
                chunk = json.loads(data)
                if not isinstance(chunk, dict):
                    raise ValueError("a stream chunk is not a JSON object")
                if event_name == "error" or chunk.get("error"):
                    raise StreamError(chunk.get("error", chunk))
                usage = _usage_from(chunk.get("usage")) or usage
                for choice in chunk.get("choices") or ():
                    delta = choice.get("delta")
                    if delta:
                        for event in reader.read(_reasoning_field(delta), delta.get("content")):
                            yield event
                    finish_reason = choice.get("finish_reason") or finish_reason
    except (StatusError, StreamError, aiohttp.ClientError, TimeoutError, ValueError) as exc:
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
) -> AsyncIterator[aiohttp.ClientResponse]:
    """The upstream's streaming HTTP response, once it has answered 200.

    A rate limit or an overloaded server (429, 500, 502, 503) is tried again up to `config.retries`
    times, after the wait the server asks for (Retry-After) or a short back-off: nothing has streamed
    yet, so the user only sees the answer start a little later. Waits longer than MAX_RETRY_WAIT
    are not worth holding the user for: the error goes to them, with its retry button.
    """
    body = json.dumps(
        _request_options(config, messages) | {"stream": True, "stream_options": {"include_usage": True}},
        ensure_ascii=False,
    ).encode()
    url = f"{config.base_url.rstrip('/')}/chat/completions"
    headers = {
        "Authorization": f"Bearer {config.api_key or 'not-needed'}",
        "Content-Type": "application/json",
        "Accept": "text/event-stream",
    }
    # The timeout bounds connecting and each wait for the next bytes, not the whole answer.
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=config.timeout, sock_read=config.timeout)
    async with _session() as session:
        for attempt in range(config.retries + 1):
            response = await session.post(url, data=body, headers=headers, timeout=timeout)
            if response.status < 400:
                break
            try:
                failure = StatusError(response.status, response.headers, await _error_body(response))
            finally:
                response.release()
            wait = _retry_wait(failure, attempt)
            if attempt == config.retries or wait is None:
                raise failure
            logger.warning("LLM %s answered %s; trying again in %.1f s", config.name, failure.status, wait)
            await asyncio.sleep(wait)
        try:
            yield response
        finally:
            response.release()


async def _drained(response: aiohttp.ClientResponse) -> None:
    """Read what follows `[DONE]`: the end of the chunked body, sent with it. A response not read to
    its end is closed on release instead of going back to the pool, and the next answer would open a
    connection (and, to a hosted API, a TLS session) of its own. A server that keeps the stream open
    after `[DONE]` is not waited for."""
    with suppress(aiohttp.ClientError, TimeoutError):
        await asyncio.wait_for(response.content.read(MAX_AFTER_DONE), DRAIN_SECONDS)


async def _error_body(response: aiohttp.ClientResponse) -> object:
    """An error response's body: the `error` object (OpenAI, DeepSeek, Ollama) or the whole body
    (vLLM puts `message` at the top level; some servers send a bare string)."""
    raw = b""
    while len(raw) < MAX_ERROR_BODY and (piece := await response.content.read(MAX_ERROR_BODY - len(raw))):
        raw += piece  # a read gives what has arrived, which may be part of the body
    try:
        body = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")
    return body.get("error", body) if isinstance(body, dict) else body


RETRY_STATUSES = frozenset({429, 500, 502, 503})
MAX_RETRY_WAIT = 20.0


def _retry_wait(failure: StatusError, attempt: int) -> float | None:
    """Seconds to wait before trying again, or None when this failure is not worth a retry."""
    if failure.status not in RETRY_STATUSES:
        return None
    headers = failure.headers
    wait = 2.0**attempt  # 1, 2, 4 … seconds
    try:
        if "retry-after-ms" in headers:
            wait = float(headers["retry-after-ms"]) / 1000
        elif "retry-after" in headers:
            wait = float(headers["retry-after"])
    except ValueError:
        pass  # an HTTP date or junk: keep the back-off
    return wait if 0 <= wait <= MAX_RETRY_WAIT else None


async def _server_sent_events(body: aiohttp.StreamReader) -> AsyncIterator[tuple[str, str]]:
    """(event name, data) of each server-sent event; comments (keep-alives) are skipped.

    Each read from the connection is cut into events in one pass over its bytes: a token's chunk is
    one event, and a text decoder and line iterator would cost generator steps per line, for every
    token of every stream. Lines may end in LF, CRLF or CR, as the spec allows; a CR at the end of a
    read may be half of a CRLF, so it waits for the next read."""
    pending = b""
    async for received in body.iter_any():
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


# One connection pool for all the streams of a server process, opened and closed by its lifespan
# (chatsite/asgi.py). Elsewhere (commands, workers, tests: an event loop per asyncio.run) each stream
# opens and closes its own. Up to 1000 connections at once (aiohttp's default, 100, would queue the
# 101st answer), idle ones kept 5 s.
_pools: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}
MAX_CONNECTIONS = 1000


def _new_session() -> aiohttp.ClientSession:
    # trust_env: HTTPS_PROXY and NO_PROXY apply, for a company network that reaches the hosted API
    # through a proxy.
    connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS, keepalive_timeout=5.0)
    return aiohttp.ClientSession(connector=connector, trust_env=True)


async def open_pool() -> None:
    """Share one connection pool among this event loop's streams until `close_pool`."""
    _pools[asyncio.get_running_loop()] = _new_session()


async def close_pool() -> None:
    if (session := _pools.pop(asyncio.get_running_loop(), None)) is not None:
        await session.close()


@asynccontextmanager
async def _session() -> AsyncIterator[aiohttp.ClientSession]:
    if (shared := _pools.get(asyncio.get_running_loop())) is not None:
        yield shared
        return
    async with _new_session() as session:
        yield session


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
    """Map a failure to an Error event: what happened for the person who asked, and the address,
    cause, status and body for an administrator."""
    url = config.base_url
    if isinstance(exc, TimeoutError):
        message = _("The language model took too long to answer. Try again in a moment.")
        detail = _("No answer from {url} within {seconds} seconds (the model's timeout).")
        return Error(
            "timeout", message, retryable=True, detail=detail.format(url=url, seconds=f"{config.timeout:g}")
        )
    if isinstance(exc, aiohttp.ClientError) and connected:
        # The server was reachable and then dropped the answer (crashed, restarted, out of memory).
        message = _("The language model stopped part-way through the answer. Try again.")
        detail = _("{url} broke off the connection part-way through the answer.").format(url=url)
        return Error("upstream_error", message, retryable=True, detail=detail)
    if isinstance(exc, aiohttp.ClientError):
        message = _("The language model cannot be reached right now. Try again later.")
        detail = _(
            "Could not connect to {url}{cause}. Check LLM_BASE_URL, or the model's base_url in LLM_MODELS."
        )
        return Error("unreachable", message, retryable=True, detail=detail.format(url=url, cause=f" ({exc})"))
    if isinstance(exc, StatusError):
        status = exc.status
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
    if isinstance(exc, StreamError):
        message = _("The language model service failed part-way through the answer. Try again.")
        detail = _("{url} sent an error part-way through the answer.").format(url=url)
        return Error("upstream_error", message, retryable=True, detail=_with_body(detail, exc.body))
    message = _("The language model service sent a reply that could not be read.")
    detail = _("{url} sent a stream that is not OpenAI-compatible JSON ({cause}).").format(url=url, cause=exc)
    return Error("upstream_error", message, detail=detail)


def _with_body(detail: str, body: object) -> str:
    said = (body.get("message") or body.get("detail")) if isinstance(body, dict) else body
    if isinstance(said, str) and said.strip():
        return _("{detail} The service said: {said}").format(detail=detail, said=said.strip()[:500])
    return detail
