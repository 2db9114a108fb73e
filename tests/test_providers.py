"""Contract tests of the provider: every upstream format must come out as the same events.

They drive the real `openai` client over HTTP against tests/fake_llm.py.
"""

import asyncio
import socket
import threading
import time
from collections.abc import AsyncGenerator, Iterator

import openai
import pytest
from django.utils import translation

from chat import openai_compatible, providers
from chat.providers import Content, Done, Error, Event, ModelConfig, Reasoning, Usage, stream_chat
from chat.thinking import Part, ThinkSplitter
from tests.fake_llm import DEFAULT_CONTENT, DEFAULT_REASONING, ERROR_BODIES, FakeLLM

MESSAGES = [{"role": "user", "content": "How many days of annual leave do staff get?"}]

FORMATS = [
    pytest.param({"style": "reasoning_content"}, id="deepseek-reasoning_content"),
    pytest.param({"style": "reasoning"}, id="reasoning"),
    pytest.param({"style": "think_tags"}, id="think-tags"),
    pytest.param({"style": "think_close_only"}, id="distill-close-only"),
    *[pytest.param({"style": "think_tags", "tag": tag}, id=f"{tag}-tags") for tag in ("thinking", "reason")],
    *[
        pytest.param({"style": "think_tags", "tag": tag}, id=f"{tag}-tags")
        for tag in ("reasoning", "thought")
    ],
    pytest.param({"style": "think_close_only", "tag": "thought"}, id="thought-close-only"),
    pytest.param({"style": "think_tags", "chunk_chars": 1}, id="think-tags-1-char"),
    pytest.param({"style": "think_close_only", "chunk_chars": 1}, id="close-only-1-char"),
    pytest.param({"style": "reasoning_content", "chunk_chars": 1}, id="reasoning_content-1-char"),
    pytest.param({"style": "think_tags", "keepalive": False}, id="no-keepalive"),
]


def stream(config: ModelConfig, messages: list[dict[str, str]] = MESSAGES) -> list[Event]:
    async def collect() -> list[Event]:
        return [event async for event in stream_chat(config, messages)]

    return asyncio.run(collect())


def text_of(events: list[Event], kind: type[Reasoning] | type[Content]) -> str:
    return "".join(event.text for event in events if isinstance(event, kind))


def shape(events: list[Event]) -> list[str]:
    """Event kinds in order with repeats collapsed: ["Reasoning", "Content", "Usage", "Done"]."""
    kinds = [type(event).__name__ for event in events]
    return [kind for index, kind in enumerate(kinds) if index == 0 or kinds[index - 1] != kind]


def assert_plain_with_detail(error: Event, config: ModelConfig) -> Error:
    """The message is for staff (no address, no setting name); the detail says where it failed."""
    assert isinstance(error, Error)
    assert config.base_url not in error.message and "://" not in error.message and "LLM_" not in error.message
    assert config.base_url in error.detail
    return error


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("options", FORMATS)
def test_it_streams_every_format_as_reasoning_then_content(fake_llm: FakeLLM, options: dict) -> None:
    fake_llm.script(**options)
    events = stream(fake_llm.model_config())
    assert text_of(events, Reasoning) == DEFAULT_REASONING
    assert text_of(events, Content) == DEFAULT_CONTENT
    assert shape(events) == ["Reasoning", "Content", "Usage", "Done"]
    assert events[-1] == Done("stop")


def test_it_asks_for_a_stream_with_usage(fake_llm: FakeLLM) -> None:
    stream(fake_llm.model_config(model="deepseek-reasoner"))
    [request] = fake_llm.requests
    assert request["stream"] is True
    assert request["stream_options"] == {"include_usage": True}
    assert request["model"] == "deepseek-reasoner"
    assert request["messages"] == MESSAGES


def test_it_caps_the_reply_at_the_answer_reserve(fake_llm: FakeLLM) -> None:
    stream(fake_llm.model_config(context_tokens=4096))
    stream(fake_llm.model_config(context_tokens=4096, answer_tokens=1500))
    assert [request["max_tokens"] for request in fake_llm.requests] == [1024, 1500]


def test_it_parses_usage_with_deepseek_extras(fake_llm: FakeLLM) -> None:
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 40,
        "total_tokens": 140,
        "prompt_cache_hit_tokens": 64,
        "prompt_cache_miss_tokens": 36,
        "completion_tokens_details": {"reasoning_tokens": 25},
    }
    fake_llm.script(usage=usage)
    events = stream(fake_llm.model_config())
    assert events[-2] == Usage(100, 40, reasoning_tokens=25, cache_hit_tokens=64, cache_miss_tokens=36)


def test_it_leaves_missing_usage_extras_empty(fake_llm: FakeLLM) -> None:
    fake_llm.script(
        style="think_tags", usage={"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
    )
    assert stream(fake_llm.model_config())[-2] == Usage(9, 3)


def test_it_reports_the_cache_split_of_the_prompt(fake_llm: FakeLLM) -> None:
    usage = stream(fake_llm.model_config(), [{"role": "user", "content": "leave " * 100}])[-2]
    assert isinstance(usage, Usage)
    assert usage.cache_hit_tokens == 128
    assert usage.cache_hit_tokens + usage.cache_miss_tokens == usage.prompt_tokens


def test_it_ignores_keepalive_comments_while_queued(fake_llm: FakeLLM) -> None:
    fake_llm.script(keepalive=True, delay=0.01)
    events = stream(fake_llm.model_config())
    assert text_of(events, Content) == DEFAULT_CONTENT


def test_it_ends_with_an_error_when_the_stream_breaks(fake_llm: FakeLLM) -> None:
    fake_llm.script(style="reasoning_content", mid_stream_error="Service temporarily unavailable")
    config = fake_llm.model_config()
    events = stream(config)
    error = assert_plain_with_detail(events[-1], config)
    assert error.code == "upstream_error" and error.retryable
    assert "Service temporarily unavailable" in error.detail
    assert shape(events) == ["Reasoning", "Content", "Error"]
    assert DEFAULT_CONTENT.startswith(text_of(events, Content))


def test_it_ends_with_an_error_when_the_server_hangs_up(fake_llm: FakeLLM) -> None:
    fake_llm.script(style="reasoning", drop_mid_stream=True)
    config = fake_llm.model_config()
    events = stream(config)
    error = assert_plain_with_detail(events[-1], config)
    assert (error.code, error.retryable) == ("upstream_error", True)
    assert "part-way" in error.message and "part-way" in error.detail
    assert shape(events) == ["Reasoning", "Content", "Error"]


STATUS_ERRORS = [
    (400, "bad_request", False),
    (401, "auth", False),
    (402, "balance", False),
    (404, "upstream_error", False),
    (422, "invalid_parameters", False),
    (429, "rate_limited", True),
    (500, "upstream_error", True),
    (503, "overloaded", True),
]


@pytest.mark.parametrize(("status", "code", "retryable"), STATUS_ERRORS)
def test_it_turns_status_codes_into_one_error(
    fake_llm: FakeLLM, status: int, code: str, retryable: bool
) -> None:
    fake_llm.script(status=status)
    config = fake_llm.model_config(retries=0)
    [error] = stream(config)
    assert_plain_with_detail(error, config)
    assert (error.code, error.status, error.retryable) == (code, status, retryable)
    assert ERROR_BODIES[status][0] in error.detail and f"answered {status}." in error.detail
    assert ERROR_BODIES[status][0] not in error.message


@pytest.mark.parametrize("status", [429, 503])
def test_it_tries_again_after_the_wait_the_server_asks_for(fake_llm: FakeLLM, status: int) -> None:
    fake_llm.script(status=status, failures=2, retry_after="0.2")
    events = stream(fake_llm.model_config(retries=2))
    assert len(fake_llm.requests) == 3
    assert text_of(events, Reasoning) == DEFAULT_REASONING
    assert text_of(events, Content) == DEFAULT_CONTENT


def test_it_gives_up_when_retries_run_out(fake_llm: FakeLLM) -> None:
    fake_llm.script(status=503, retry_after="0")
    [error] = stream(fake_llm.model_config(retries=2))
    assert isinstance(error, Error) and error.code == "overloaded"
    assert len(fake_llm.requests) == 3


@pytest.mark.parametrize(
    ("status", "retry_after"),
    [(429, "120"), (401, None), (402, None), (400, None)],
    ids=["wait-too-long", "401", "402", "400"],
)
def test_it_does_not_retry_what_waiting_cannot_fix(
    fake_llm: FakeLLM, status: int, retry_after: str | None
) -> None:
    fake_llm.script(status=status, retry_after=retry_after)
    [error] = stream(fake_llm.model_config(retries=2))
    assert isinstance(error, Error) and error.status == status
    assert len(fake_llm.requests) == 1


def test_it_tells_staff_plainly_and_administrators_how_to_fix_a_rejected_key(fake_llm: FakeLLM) -> None:
    fake_llm.script(status=401)
    [error] = stream(fake_llm.model_config())
    assert isinstance(error, Error)
    assert (
        error.message == "The language model service refused our API key. An administrator needs to fix it."
    )
    assert "Check the key: LLM_API_KEY, or the model's api_key in LLM_MODELS." in error.detail


def test_it_tells_staff_in_their_language(fake_llm: FakeLLM) -> None:
    fake_llm.script(status=503)
    with translation.override("zh-hans"):
        [error] = stream(fake_llm.model_config(retries=0))
    assert isinstance(error, Error)
    assert error.message == "语言模型服务繁忙，请稍后再试。"
    assert error.detail.endswith("返回了 503。服务返回的信息：Server overloaded, please try again later")


def test_it_reports_an_unreachable_server(fake_llm: FakeLLM) -> None:
    config = fake_llm.model_config(base_url=f"http://127.0.0.1:{closed_port()}/v1")
    [error] = stream(config)
    assert_plain_with_detail(error, config)
    assert (error.code, error.retryable) == ("unreachable", True)
    assert error.message == "The language model cannot be reached right now. Try again later."
    assert "Check LLM_BASE_URL" in error.detail and "Connect call failed" in error.detail


def test_it_times_out_a_stalled_stream(fake_llm: FakeLLM) -> None:
    fake_llm.script(delay=1.0)
    config = fake_llm.model_config(timeout=0.2)
    error = assert_plain_with_detail(stream(config)[-1], config)
    assert (error.code, error.retryable) == ("timeout", True)
    assert "0.2 seconds" in error.detail


def test_it_sends_temperature_only_when_configured(fake_llm: FakeLLM) -> None:
    stream(fake_llm.model_config(temperature=None))
    stream(fake_llm.model_config(temperature=0.3))
    assert "temperature" not in fake_llm.requests[0]
    assert fake_llm.requests[1]["temperature"] == 0.3


def test_it_streams_plain_content_at_once_for_non_reasoning_models(fake_llm: FakeLLM) -> None:
    fake_llm.script(style="plain")
    events = stream(fake_llm.model_config(reasoning=False))
    assert events[0] == Content(DEFAULT_CONTENT[:3])
    assert text_of(events, Content) == DEFAULT_CONTENT
    assert shape(events) == ["Content", "Usage", "Done"]


def test_it_treats_unclosed_implicit_reasoning_as_the_answer(fake_llm: FakeLLM) -> None:
    fake_llm.script(style="plain")
    events = stream(fake_llm.model_config(reasoning=True))
    # It streamed as reasoning (a distill may think for minutes before its closing tag) ...
    assert text_of(events, Reasoning) == DEFAULT_CONTENT
    # ... and comes again, whole, as the answer that replaces it.
    assert events[-3] == Content(DEFAULT_CONTENT, replaces_reasoning=True)
    assert shape(events)[-3:] == ["Content", "Usage", "Done"]


def test_it_splits_explicit_tags_for_non_reasoning_models(fake_llm: FakeLLM) -> None:
    fake_llm.script(style="think_tags")
    events = stream(fake_llm.model_config(reasoning=False))
    assert (text_of(events, Reasoning), text_of(events, Content)) == (DEFAULT_REASONING, DEFAULT_CONTENT)


def test_it_reports_deepseek_rejecting_reasoning_in_input(fake_llm: FakeLLM) -> None:
    history = [{"role": "assistant", "content": "A", "reasoning_content": "R"}, *MESSAGES]
    [error] = stream(fake_llm.model_config(), history)
    assert isinstance(error, Error) and error.code == "bad_request"
    assert "reasoning_content" in error.detail


def test_it_serves_many_concurrent_streams(fake_llm: FakeLLM) -> None:
    fake_llm.script(chunk_chars=8, delay=0.005)
    config = fake_llm.model_config()

    async def answer() -> str:
        return text_of([event async for event in stream_chat(config, MESSAGES)], Content)

    async def answer_all() -> list[str]:
        return await asyncio.gather(*[answer() for _ in range(100)])

    assert asyncio.run(answer_all()) == [DEFAULT_CONTENT] * 100


def test_it_survives_a_client_that_leaves_mid_stream(fake_llm: FakeLLM) -> None:
    fake_llm.script(delay=0.01)

    async def first_event() -> Event:
        events = stream_chat(fake_llm.model_config(), MESSAGES)
        event = await anext(events)
        await events.aclose()
        return event

    assert isinstance(asyncio.run(first_event()), Reasoning)
    fake_llm.script()
    assert text_of(stream(fake_llm.model_config()), Content) == DEFAULT_CONTENT


@pytest.fixture
def own_fake_llm() -> Iterator[FakeLLM]:
    """An upstream of this test's alone: the shared one counts the connections of every server the
    suite left running too (a live app's background call would look like a connection not reused)."""
    fake = FakeLLM()
    fake.start()
    yield fake
    fake.stop()


def test_a_servers_streams_share_its_connections(own_fake_llm: FakeLLM) -> None:
    # A web process opens the pool at start (chatsite/asgi.py): answers after the first reuse its
    # connection instead of each opening one (and, to a hosted API, a TLS session).
    fake_llm = own_fake_llm
    config = fake_llm.model_config()

    async def answers(pooled: bool) -> list[str]:
        if pooled:
            await openai_compatible.open_pool()
        try:
            return [
                text_of([event async for event in stream_chat(config, MESSAGES)], Content) for _ in range(3)
            ]
        finally:
            await openai_compatible.close_pool()

    connections = fake_llm.connections
    assert asyncio.run(answers(pooled=True)) == [DEFAULT_CONTENT] * 3
    assert fake_llm.connections == connections + 1
    assert asyncio.run(answers(pooled=False)) == [DEFAULT_CONTENT] * 3
    assert fake_llm.connections == connections + 4


def test_it_serves_the_v1_paths_and_model_list(fake_llm: FakeLLM) -> None:
    config = fake_llm.model_config(base_url=f"{fake_llm.base_url}/v1")
    assert text_of(stream(config), Content) == DEFAULT_CONTENT
    models = openai.OpenAI(base_url=config.base_url, api_key="sk-test", max_retries=0).models.list()
    assert [model.id for model in models] == ["deepseek-reasoner", "deepseek-chat"]


class Echo(providers.Provider):
    """A provider of another API, to show that the `api` field picks it."""

    async def stream(
        self, config: ModelConfig, messages: list[dict[str, str]]
    ) -> AsyncGenerator[Event, None]:
        yield Content(f"{config.model} heard: {messages[-1]['content']}")
        yield Done("stop")


def test_the_api_field_picks_the_provider(fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(providers.PROVIDERS, "echo", f"{__name__}.Echo")
    events = stream(fake_llm.model_config(api="echo"))
    assert events == [Content(f"deepseek-reasoner heard: {MESSAGES[-1]['content']}"), Done("stop")]
    assert fake_llm.requests == []
    assert text_of(stream(fake_llm.model_config()), Content) == DEFAULT_CONTENT  # "openai", the default


def split(pieces: list[str], *, implicit_open: bool) -> tuple[str, str]:
    splitter = ThinkSplitter(implicit_open=implicit_open)
    parts = [part for piece in pieces for part in splitter.feed(piece)] + splitter.finish()
    if any(part.replaces_reasoning for part in parts):
        parts = [part for part in parts if not part.reasoning]
    reasoning = "".join(part.text for part in parts if part.reasoning)
    return reasoning, "".join(part.text for part in parts if not part.reasoning)


SPLITS = [
    ("<think>\nWhy <b>not</b>?</think>\n\nAnswer", False, "Why <b>not</b>?", "Answer"),
    *[(f" <{tag}>\nR\n</{tag}>A", False, "R", "A") for tag in ("thinking", "reason", "reasoning", "thought")],
    ("Reason </think>\n\nAnswer", True, "Reason", "Answer"),
    ("Reason</reasoning>Answer", True, "Reason", "Answer"),
    ("<think>\n\n</think>\n\nAnswer", True, "", "Answer"),
    ("Answer </b> only", True, "", "Answer </b> only"),
    ("Answer that quotes <think> tags", False, "", "Answer that quotes <think> tags"),
    ("<think>\nCut off while reasoning", False, "Cut off while reasoning", ""),
    ("<thin", False, "", "<thin"),
    ("R</think>A, then </think> again", True, "R", "A, then </think> again"),
]


@pytest.mark.parametrize(("text", "implicit_open", "reasoning", "content"), SPLITS)
def test_it_splits_tags_cut_at_any_two_positions(
    text: str, implicit_open: bool, reasoning: str, content: str
) -> None:
    for i in range(len(text) + 1):
        for j in range(i, len(text) + 1):
            pieces = [text[:i], text[i:j], text[j:]]
            assert split(pieces, implicit_open=implicit_open) == (reasoning, content), pieces


@pytest.mark.parametrize(("text", "implicit_open", "reasoning", "content"), SPLITS)
def test_it_splits_tags_fed_one_character_at_a_time(
    text: str, implicit_open: bool, reasoning: str, content: str
) -> None:
    assert split(list(text), implicit_open=implicit_open) == (reasoning, content)


def test_it_streams_implicit_reasoning_before_the_closing_tag() -> None:
    splitter = ThinkSplitter(implicit_open=True)
    assert splitter.feed("\nReason") == [Part(True, "Reason", tentative=True)]
    assert splitter.feed(" more</think>\n\nAnswer") == [Part(True, " more"), Part(False, "Answer")]
    assert splitter.finish() == []


def test_implicit_reasoning_that_never_closes_comes_back_as_the_whole_answer() -> None:
    splitter = ThinkSplitter(implicit_open=True)
    assert splitter.feed("\nJust an ") == [Part(True, "Just an", tentative=True)]
    assert splitter.feed("answer.\n") == [Part(True, " answer.", tentative=True)]
    assert splitter.finish() == [Part(False, "Just an answer.", replaces_reasoning=True)]


def test_it_streams_explicit_reasoning_before_the_tag_closes() -> None:
    splitter = ThinkSplitter(implicit_open=True)
    assert splitter.feed("<think>\nStep one</th") == [Part(True, "Step one")]
    assert splitter.feed("ink>Answer") == [Part(False, "Answer")]


def test_it_streams_untagged_content_at_once_without_implicit_reasoning() -> None:
    assert ThinkSplitter(implicit_open=False).feed("Hello") == [Part(False, "Hello")]


def _serve_raw_stream(pieces: list[bytes]) -> tuple[str, threading.Thread]:
    """A one-request HTTP server sending an event stream in exactly these pieces, a pause between
    them so that each arrives as a read of its own."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _address = listener.accept()
        with connection, listener:
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(65536)
            head, _, body = request.partition(b"\r\n\r\n")
            length = int(
                next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))[15:]
            )
            while len(body) < length:
                body += connection.recv(65536)
            connection.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            for piece in pieces:
                connection.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                time.sleep(0.02)
            connection.sendall(b"0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}", thread


def test_it_reads_events_cut_anywhere_with_any_line_ends() -> None:
    # CRLF and CR line ends (both allowed by the spec), a CRLF cut between its CR and LF, a Chinese
    # character cut between its bytes, a comment, an event's data on two lines, and a last event
    # that the server never closes with a blank line.
    reasoning = '{"choices":[{"index":0,"delta":{"content":null,"reasoning_content":"想一想"}}]}'.encode()
    content = '{"choices":[{"index":0,"delta":{"content":"年假 25 天","reasoning_content":null}}]}'.encode()
    stop = b'{"choices":[{"index":0,"delta":{"content":""},"finish_reason":"stop"}]}'
    cut = content.index("天".encode()) + 1
    pieces = [
        b": keep-alive\r\n\r\n",
        b"data: " + reasoning + b"\r",
        b"\n\r\ndata: " + content[:cut],
        content[cut:] + b"\r\r",
        b'data: {"choices":[{"index":0,\ndata: "delta":{"content":"[1]"}}]}\n\n',
        b"data: " + stop + b"\r\n\r\ndata: [DONE]",
    ]
    url, server = _serve_raw_stream(pieces)
    config = ModelConfig(name="Raw", model="deepseek-reasoner", base_url=url, api_key="sk-test", timeout=10.0)
    events = stream(config)
    server.join(10)
    assert text_of(events, Reasoning) == "想一想"
    assert text_of(events, Content) == "年假 25 天[1]"
    assert events[-1] == Done("stop")
