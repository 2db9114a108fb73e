"""The load of benchmarks/concurrent_chat.py: the test upstream in a process of its own, chat
streams timed at the client through a minimal HTTP/1.1 client, and starting many of them at once."""

import asyncio
import json
import multiprocessing
import re
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx2
from process_stats import Sampler

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-password-1"
CHUNK_CHARS = 4  # about one token of English text


# The upstream, in a process of its own so its 500 threads do not share a GIL with the clients.


def _serve_upstream(connection) -> None:
    sys.path.insert(0, str(ROOT))
    from tests import fake_llm

    # A listen backlog like real servers' (nginx 511, uvicorn 2048): the test default of 256 can
    # overflow when every stream connects in the same millisecond, and a dropped SYN costs 1 s.
    fake_llm._Server.request_queue_size = 2048
    fake = fake_llm.FakeLLM()
    fake.start()
    connection.send(fake.base_url)
    while (options := connection.recv()) is not None:
        fake.script(**options)
        connection.send("scripted")
    fake.stop()


class Upstream:
    def __enter__(self) -> "Upstream":
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self.process = context.Process(target=_serve_upstream, args=(child,), daemon=True)
        self.process.start()
        self.base_url = self._connection.recv()
        return self

    def script(self, **options) -> None:
        self._connection.send(options)
        self._connection.recv()

    def __exit__(self, *exc) -> None:
        self._connection.send(None)
        self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()


# Streams, timed at the client.


@dataclass
class Stream:
    started: float = field(default_factory=time.perf_counter)
    started_wall: float = field(default_factory=time.time)
    first_event: float | None = None
    first_reasoning: float | None = None
    first_content: float | None = None
    finished: float | None = None
    tokens: float = 0  # the app joins pieces that wait together: counted from the text's length
    events: int = 0  # reasoning and content events (the upstream: chunks)
    status: str | None = None
    message_id: int | None = None
    error: str | None = None

    def ms(self, moment: float | None) -> float | None:
        return None if moment is None else (moment - self.started) * 1000

    def wall(self, moment: float | None) -> float | None:
        """A moment of the stream on the wall clock, which the database's timestamps also use."""
        return None if moment is None else self.started_wall + moment - self.started

    def tokens_per_second(self) -> float | None:
        if self.finished is None or self.first_reasoning is None or self.tokens < 2:
            return None
        return (self.tokens - 1) / (self.finished - self.first_reasoning)


# A minimal HTTP/1.1 client. Through httpx2 this process spent about 130 µs of CPU per streamed chunk
# (6.5 s for 100 streams of 500), so it could not read 500 streams of 30 tokens a second (15,000
# chunks/s) on one core; here a read costs a few byte-string searches (about 30 µs per chunk).
META = re.compile(rb"event: meta\ndata: (\{.*?\})\n\n")
DONE = re.compile(rb"event: done\ndata: (\{.*?\})\n\n")
ERROR = re.compile(rb"event: error\ndata: (.*?)\n\n")
TEXT = re.compile(rb"event: (?:reasoning|content)\ndata: (\{.*?\})\n\n")


async def _exchange(
    stream: Stream, url: str, request: bytes, on_frames: Callable[[Stream, bytes, float], None]
) -> None:
    """Send one request and pass whole server-sent event frames to `on_frames` as they arrive (the
    chunked framing between them is left in: the handlers only search for what they count)."""
    address = urlsplit(url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port, limit=2**20)
    try:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if status != 200:
            stream.error = f"HTTP {status}: {(await reader.read(300))!r}"
            return
        pending = b""
        while chunk := await reader.read(2**16):
            pending += chunk
            cut = pending.rfind(b"\n\n") + 2
            if cut > 1:
                on_frames(stream, pending[:cut], time.perf_counter())
                pending = pending[cut:]
        stream.finished = time.perf_counter()
    finally:
        writer.close()


def _post(url: str, path: str, body: bytes, content_type: str, headers: dict[str, str]) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {urlsplit(url).netloc}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + body


def _app_frames(stream: Stream, frames: bytes, now: float) -> None:
    if stream.first_event is None:
        stream.first_event = now
        if meta := META.search(frames):
            stream.message_id = json.loads(meta.group(1))["message_id"]
    reasoning, content = frames.count(b"event: reasoning\n"), frames.count(b"event: content\n")
    if reasoning and stream.first_reasoning is None:
        stream.first_reasoning = now
    if content and stream.first_content is None:
        stream.first_content = now
    stream.events += reasoning + content
    stream.tokens += sum(len(json.loads(data)["text"]) for data in TEXT.findall(frames)) / CHUNK_CHARS
    if done := DONE.search(frames):
        stream.status = json.loads(done.group(1))["status"]
    if error := ERROR.search(frames):
        stream.error = error.group(1).decode()[:300]


def _upstream_frames(stream: Stream, frames: bytes, now: float) -> None:
    if b"data: " not in frames:
        return  # keep-alive comments
    stream.first_event = stream.first_event or now
    # Reasoning chunks carry `"content":null`, answer chunks `"reasoning_content":null`.
    reasoning = frames.count(b'"reasoning_content":"') - frames.count(b'"reasoning_content":""')
    content = frames.count(b'"content":"') - frames.count(b'"content":""')
    if reasoning and stream.first_reasoning is None:
        stream.first_reasoning = now
    if content and stream.first_content is None:
        stream.first_content = now
    stream.tokens += reasoning + content
    stream.events += reasoning + content
    if b"data: [DONE]" in frames:
        stream.status = "complete"


async def _timed(stream: Stream, exchange: Awaitable[None]) -> Stream:
    try:
        await exchange
        if stream.status is None and stream.error is None:
            stream.error = "the stream ended without its last event"
    except Exception as exc:
        stream.error = stream.error or f"{type(exc).__name__}: {exc}"[:300]
    return stream


async def ask(url: str, headers: dict[str, str], question: str, kb_id: int | None) -> Stream:
    """One question as the chat page asks it, read to the end."""
    stream = Stream()
    form = {"question": question, "conversation": "", "model": ""}
    if kb_id is not None:  # none ticked: the chat page sends no knowledge_base field at all
        form["knowledge_base"] = str(kb_id)
    body = urlencode(form).encode()
    request = _post(url, "/ask/", body, "application/x-www-form-urlencoded", headers)
    return await _timed(stream, _exchange(stream, url, request, _app_frames))


async def ask_upstream(url: str, question: str) -> Stream:
    """The same streamed request the app makes, straight to the upstream."""
    stream = Stream()
    body = {
        "model": "deepseek-reasoner",
        "messages": [{"role": "user", "content": question}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    request = _post(url, "/chat/completions", json.dumps(body).encode(), "application/json", {})
    return await _timed(stream, _exchange(stream, url, request, _upstream_frames))


async def log_in(base_url: str, username: str) -> dict[str, str]:
    """Log in through the login page; the headers a browser then sends with each question."""
    async with httpx2.AsyncClient(base_url=base_url, timeout=300) as client:
        await client.get("/accounts/login/")
        token = client.cookies["csrftoken"]
        form = {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token}
        response = await client.post("/accounts/login/", data=form)
        if response.status_code != 302:
            raise RuntimeError(f"Logging in {username} failed: HTTP {response.status_code}")
        token, session = client.cookies["csrftoken"], client.cookies["sessionid"]
    return {"Cookie": f"csrftoken={token}; sessionid={session}", "X-CSRFToken": token}


async def all_at_once(
    count: int, start: Callable[[int], Awaitable[Stream]], sampler: Sampler
) -> tuple[list[Stream], float, dict]:
    sampling = asyncio.create_task(sampler.run())
    started = time.perf_counter()
    streams = await asyncio.gather(*(start(number) for number in range(count)))
    wall_s = time.perf_counter() - started
    sampling.cancel()
    return list(streams), wall_s, sampler.summary()


def run_event_loop(coroutine):
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)
