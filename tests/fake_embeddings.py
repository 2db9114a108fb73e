"""A stand-in embeddings server for tests: a real HTTP server speaking OpenAI's `/v1/embeddings`.

It answers `POST /v1/embeddings {"model", "input"}` as OpenAI documents it
(`{"object": "list", "data": [{"object": "embedding", "index", "embedding"}], "model", "usage"}`)
and fails as OpenAI does (`{"error": {"message", "type", "param", "code"}}` with 400, 401, 404,
429, 500, 503), so the app's client is tested on the wire.

It is "multilingual": the Chinese sentences it knows (the probe's questions and passages, and the
tests' own) are translated to English before the real all-MiniLM-L6-v2 model embeds them, so a
Chinese question lands next to the English passage that answers it, as a multilingual model such
as bge-m3 puts it. The probe therefore measures it as skilled in Chinese, with no setting.
"""

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from knowledge import embedding, probe

MODEL = "bge-m3"
# The tests' own Chinese sentences, with their meaning in English.
TRANSLATIONS = {
    "服务器需要多少内存？": "How much memory does the server need?",
    "哪台笔记本电脑适合出差？": "Which laptop is made for travel?",
}
ERRORS = {
    400: ("'input' must be a string or an array of strings", "invalid_request_error"),
    401: ("Incorrect API key provided: sk-wrong", "invalid_request_error"),
    404: ("The model `{model}` does not exist or you do not have access to it.", "invalid_request_error"),
    429: ("Rate limit reached for requests", "requests"),
    500: ("The server had an error while processing your request.", "server_error"),
    503: ("The engine is currently overloaded, please try again later", "server_error"),
}


def _translations() -> dict[str, str]:
    pairs = zip(probe._PAIRS["han"], probe._PAIRS["latin"], strict=True)
    known = {chinese: english for han, latin in pairs for chinese, english in zip(han, latin, strict=True)}
    return known | TRANSLATIONS


def translated(text: str) -> str:
    """The text with every Chinese sentence the server knows in English."""
    for chinese, english in _translations().items():
        text = text.replace(chinese, english)
    return text


@dataclass
class Failure:
    status: int
    times: int | None  # answer `status` to this many requests, then normally (None: to all)
    retry_after: str | None = "0"


@dataclass
class FakeEmbeddings:
    base_url: str = ""
    api_key: str = "sk-embed"
    requests: list[dict] = field(default_factory=list)
    failure: Failure | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, status: int, *, times: int | None = None, retry_after: str | None = "0") -> None:
        self.failure = Failure(status, times, retry_after)

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.failure = None

    def embedder(self, name: str = "bge-m3 (test)", **fields: Any) -> dict:
        """An EMBEDDERS entry for this server."""
        entry = {"name": name, "type": "openai", "model": MODEL, "base_url": self.base_url}
        return entry | {"api_key": self.api_key, "retries": 2} | fields

    def _failure_now(self) -> Failure | None:
        with self.lock:
            failure = self.failure
            if failure is None:
                return None
            if failure.times is not None:
                if failure.times == 0:
                    return None
                failure.times -= 1
            return failure


def _handler(fake: FakeEmbeddings) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            with fake.lock:
                fake.requests.append(body)
            if self.path != "/v1/embeddings":
                return self._error(404, model=body.get("model", ""))
            if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                return self._error(401)
            if failure := fake._failure_now():
                return self._error(failure.status, retry_after=failure.retry_after)
            if body.get("model") != MODEL:
                return self._error(404, model=body.get("model", ""))
            texts = body.get("input")
            texts = [texts] if isinstance(texts, str) else texts
            if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
                return self._error(400)
            vectors = embedding.embed([translated(text) for text in texts])
            tokens = sum(len(text.split()) for text in texts)
            self._send(
                200,
                {
                    "object": "list",
                    "data": [
                        {"object": "embedding", "index": i, "embedding": vector.tolist()}
                        for i, vector in enumerate(vectors)
                    ],
                    "model": MODEL,
                    "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                },
            )

        def _error(self, status: int, *, model: str = "", retry_after: str | None = None) -> None:
            message, kind = ERRORS[status]
            error = {"message": message.format(model=model), "type": kind, "param": None, "code": None}
            self._send(status, {"error": error}, retry_after=retry_after)

        def _send(self, status: int, payload: dict, *, retry_after: str | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if retry_after is not None:
                self.send_header("Retry-After", retry_after)
            self.end_headers()
            self.wfile.write(data)

    return Handler


_server: tuple[ThreadingHTTPServer, FakeEmbeddings] | None = None


def _shared() -> FakeEmbeddings:
    """One server per test session, started at first use."""
    global _server
    if _server is None:
        fake = FakeEmbeddings()
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
        server.daemon_threads = True
        fake.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        threading.Thread(target=server.serve_forever, name="fake-embeddings", daemon=True).start()
        _server = (server, fake)
    return _server[1]


@pytest.fixture
def fake_embeddings() -> Iterator[FakeEmbeddings]:
    fake = _shared()
    fake.reset()
    yield fake
    fake.reset()


@pytest.fixture
def multilingual(settings, fake_embeddings) -> FakeEmbeddings:
    """The embedder "bge-m3 (test)" on the test server, configured beside the built-in one."""
    settings.EMBEDDERS = [fake_embeddings.embedder()]
    return fake_embeddings
