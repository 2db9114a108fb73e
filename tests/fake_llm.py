"""A stand-in LLM for tests: a real HTTP server speaking the upstream wire formats.

It answers the way DeepSeek's API does (reasoning in `reasoning_content`, `content: null`
while reasoning, keep-alive comments, a usage chunk with `choices: []`, `[DONE]`, its
error bodies and status codes) and the way local servers do (`reasoning`, `<think>` tags
in the content, distills without the opening tag). The app talks to it through the real
`openai` client, so everything above the network is the production code path.
"""

import atexit
import functools
import json
import math
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chat.providers import ModelConfig

STYLES = ("reasoning_content", "reasoning", "think_tags", "think_close_only", "plain")
MODEL_IDS = ("deepseek-reasoner", "deepseek-chat")
DEFAULT_REASONING = "The user asks about annual leave.\nPassage [1] gives the rule: 员工每年有25天年假。"
DEFAULT_CONTENT = "Staff get 25 days of annual leave a year [1].\n\n员工每年有 25 天年假 [1]。"

# DeepSeek's error messages and types for each documented status code.
ERROR_BODIES: dict[int, tuple[str, str]] = {
    400: ("Invalid request: the messages field is malformed", "invalid_request_error"),
    401: ("Authentication Fails, Your api key: ****test is invalid", "authentication_error"),
    402: ("Insufficient Balance", "unknown_error"),
    404: ("Not Found", "invalid_request_error"),
    422: ("Invalid parameter: temperature must be between 0 and 2", "invalid_request_error"),
    429: ("Rate limit reached for requests", "rate_limit_error"),
    500: ("Internal Server Error", "server_error"),
    503: ("Server overloaded, please try again later", "server_error"),
}
REASONING_IN_INPUT = (
    "The reasoning_content is an intermediate result for display purposes only and will not be "
    "included in the context for inference. Please remove the reasoning_content from your message."
)


@dataclass(frozen=True)
class Script:
    reasoning: str = DEFAULT_REASONING
    content: str = DEFAULT_CONTENT
    style: str = "reasoning_content"
    tag: str = "think"
    chunk_chars: int = 3
    delay: float = 0.0
    keepalive: bool = True
    status: int | None = None
    failures: int | None = None  # answer `status` to this many requests, then normally (None: to all)
    retry_after: str | None = None  # the Retry-After header sent with `status`
    mid_stream_error: str | None = None
    drop_mid_stream: bool = False  # close the connection half-way, as a crashing server does
    usage: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}, not {self.style!r}")

    @property
    def reasoning_field(self) -> str | None:
        return self.style if self.style in ("reasoning_content", "reasoning") else None

    @property
    def content_text(self) -> str:
        """The content as the server sends it: with the reasoning inside for tag styles."""
        if self.style == "think_tags":
            return f"<{self.tag}>\n{self.reasoning}</{self.tag}>\n\n{self.content}"
        if self.style == "think_close_only":
            return f"{self.reasoning}</{self.tag}>\n\n{self.content}"
        return self.content

    def pieces(self, text: str) -> list[str]:
        return [text[i : i + self.chunk_chars] for i in range(0, len(text), self.chunk_chars)]

    def usage_for(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.usage is not None:
            return self.usage
        prompt_chars = sum(len(str(message.get("content", ""))) for message in request.get("messages", []))
        prompt = max(1, math.ceil(prompt_chars / 4))
        hit = prompt // 64 * 64  # DeepSeek's context cache works in 64-token units
        reasoning = math.ceil(len(self.reasoning) / 4) if self.style != "plain" else 0
        completion = reasoning + math.ceil(len(self.content) / 4)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": hit},
            "prompt_cache_hit_tokens": hit,
            "prompt_cache_miss_tokens": prompt - hit,
            "completion_tokens_details": {"reasoning_tokens": reasoning},
        }


class FakeLLM:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.hung_up = 0  # streamed answers whose client closed the connection before their end
        self.connections = 0  # TCP connections accepted
        self._script = Script()
        self._failed = 0
        self._rules: list[_Rule] = []
        self._server: _Server | None = None

    def start(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        threading.Thread(target=self._server.serve_forever, name="fake-llm", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "FakeLLM is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def script(self, **options: Any) -> None:
        """Answer every following request this way (options: see `Script`)."""
        self._script = Script(**options)
        self._failed = 0

    def when(self, *, model: str | None = None, asks: str | None = None, **options: Any) -> None:
        """Answer the following requests for this upstream `model` id, or whose messages contain
        the text `asks`, this way instead of by the script (options: see `Script`); the first rule
        that matches a request answers it."""
        self._rules.append(_Rule(model, asks, Script(**options)))

    def reset(self) -> None:
        self.script()
        self._rules.clear()
        self.requests.clear()
        self.hung_up = 0

    def answering(self, request: dict[str, Any]) -> "_Rule":
        """The rule that answers this request: the first matching `when`, else the script."""
        for rule in self._rules:
            if rule.matches(request):
                return rule
        return _Rule(None, None, self._script, failed=self._failed, default=True)

    def count_failure(self, rule: "_Rule") -> None:
        if rule.default:
            self._failed += 1
        else:
            rule.failed += 1

    def hangs_up(self, within: float = 10.0) -> bool:
        """Whether a client closes a streamed answer before its end, waiting up to `within` seconds
        (the server notices when its next piece cannot be written)."""
        deadline = time.monotonic() + within
        while not self.hung_up and time.monotonic() < deadline:
            time.sleep(0.05)
        return bool(self.hung_up)

    def model_config(self, **overrides: Any) -> ModelConfig:
        options: dict[str, Any] = {
            "name": "Fake R1",
            "model": "deepseek-reasoner",
            "base_url": self.base_url,
            "api_key": "sk-test",
            "timeout": 10.0,
        }
        return ModelConfig(**(options | overrides))


@dataclass
class _Rule:
    model: str | None
    asks: str | None
    script: Script
    failed: int = 0  # requests answered with the script's `status` so far
    default: bool = False

    def matches(self, request: dict[str, Any]) -> bool:
        if self.model is not None and request.get("model") != self.model:
            return False
        messages = request.get("messages", [])
        return self.asks is None or any(self.asks in str(m.get("content", "")) for m in messages)

    def should_fail(self) -> bool:
        status, failures = self.script.status, self.script.failures
        return status is not None and (failures is None or self.failed < failures)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # many streams connect at once in concurrency tests
    fake: FakeLLM

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gives up mid-answer (timeout, closed tab) is normal, not a failure.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked bodies, as the real services use
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.server.fake.connections += 1

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/models", "/v1/models"):
            models = [{"id": name, "object": "model", "owned_by": "deepseek"} for name in MODEL_IDS]
            self._send_json(200, {"object": "list", "data": models})
        else:
            self._send_error(404)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path.rstrip("/") not in ("/chat/completions", "/v1/chat/completions"):
            self._send_error(404)
            return
        try:
            request = json.loads(raw)
        except ValueError:
            self._send_error(400)
            return
        fake = self.server.fake
        fake.requests.append(request)
        rule = fake.answering(request)
        script = rule.script
        if rule.should_fail():
            fake.count_failure(rule)
            self._send_error(script.status, retry_after=script.retry_after)
        elif any("reasoning_content" in message for message in request.get("messages", [])):
            self._send_error(400, REASONING_IN_INPUT)
        elif request.get("stream"):
            try:
                self._stream(script, request)
            except ConnectionError:
                self.server.fake.hung_up += 1
                raise
        else:
            self._complete(script, request)

    def _stream(self, script: Script, request: dict[str, Any]) -> None:
        self._start_chunked("text/event-stream; charset=utf-8")
        if script.keepalive:
            self._write_chunk(b": keep-alive\n\n" * 2)
        failed = False
        for index, payload in enumerate(_stream_payloads(script, request)):
            if index and script.delay:
                time.sleep(script.delay)
            if payload is None:
                self.close_connection = True
                return
            self._write_chunk(b"data: " + _json_bytes(payload) + b"\n\n")
            failed = "error" in payload
        if not failed:
            self._write_chunk(b"data: [DONE]\n\n")
        self._write_chunk(b"")

    def _complete(self, script: Script, request: dict[str, Any]) -> None:
        message = {"role": "assistant", "content": script.content_text}
        if script.reasoning_field:
            message[script.reasoning_field] = script.reasoning
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
        payload = _envelope(request, "chat.completion") | {
            "choices": [choice],
            "usage": script.usage_for(request),
        }
        self._start_chunked("application/json")
        if script.keepalive:
            # DeepSeek holds queued non-stream requests open with blank lines.
            self._write_chunk(b"\n\n")
        if script.delay:
            time.sleep(script.delay)
        self._write_chunk(_json_bytes(payload))
        self._write_chunk(b"")

    def _start_chunked(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _send_error(self, status: int, message: str | None = None, retry_after: str | None = None) -> None:
        default_message, kind = ERROR_BODIES.get(status, ("Unexpected error", "server_error"))
        body = {
            "error": {
                "message": message or default_message,
                "type": kind,
                "param": None,
                "code": "invalid_request_error",
            }
        }
        self._send_json(status, body, {"Retry-After": retry_after} if retry_after else {})

    def _send_json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = _json_bytes(body)
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _stream_payloads(script: Script, request: dict[str, Any]) -> Iterator[dict[str, Any] | None]:
    """The `data:` payloads of one streamed answer, in DeepSeek's exact shape (None: hang up)."""
    envelope = _envelope(request, "chat.completion.chunk")
    reasoning_field = script.reasoning_field

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return envelope | {"choices": [choice], "usage": None}

    # DeepSeek sends `content: null` while reasoning; Ollama sends an empty string.
    quiet_content = None if reasoning_field == "reasoning_content" else ""
    answer_delta: dict[str, Any] = (
        {"reasoning_content": None} if reasoning_field == "reasoning_content" else {}
    )
    if reasoning_field:
        yield chunk({"role": "assistant", "content": quiet_content, reasoning_field: ""})
        for piece in script.pieces(script.reasoning):
            yield chunk({"content": quiet_content, reasoning_field: piece})
    else:
        yield chunk({"role": "assistant", "content": ""})
    content_pieces = script.pieces(script.content_text)
    failing = script.mid_stream_error is not None or script.drop_mid_stream
    for piece in content_pieces[: max(1, len(content_pieces) // 2) if failing else None]:
        yield chunk({"content": piece} | answer_delta)
    if script.drop_mid_stream:
        yield None
        return
    if script.mid_stream_error is not None:
        error = {"message": script.mid_stream_error, "type": "server_error", "param": None, "code": None}
        yield {"error": error}
        return
    yield chunk({"content": ""} | answer_delta, finish_reason="stop")
    if (request.get("stream_options") or {}).get("include_usage"):
        yield envelope | {"choices": [], "usage": script.usage_for(request)}


def _envelope(request: dict[str, Any], kind: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "object": kind,
        "created": int(time.time()),
        "model": request.get("model", ""),
        "system_fingerprint": "fp_fake_llm",
    }


def _json_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


@functools.cache
def _shared_fake_llm() -> FakeLLM:
    # One server for the whole session: starting a thread per test buys nothing.
    fake = FakeLLM()
    fake.start()
    atexit.register(fake.stop)
    return fake


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    fake = _shared_fake_llm()
    fake.reset()
    yield fake
    fake.reset()
