"""Many chat streams at once against one ASGI process, with the upstream streaming at a human pace.

Starts the app under uvicorn (one process, as `make run` serves it) with the test upstream
(tests/fake_llm.py, in a process of its own) as its LLM, scripted to stream --reasoning-tokens then
--answer-tokens at --tokens-per-second, one token of CHUNK_CHARS characters per chunk. A public
knowledge base holds the Chinese DeepSeek-R1 guide (ingested inline), so every question is embedded
and searched as in production. --users users log in through the login page; after one warm-up
question, --streams chat streams (POST /ask/ with the session cookie and CSRF header, each a new
conversation, questions about the guide) start at once and are read to the end. Each records the
time to its first server-sent event (`meta`, sent before retrieval), to its first reasoning and
first content event, and to its end.

The baseline is the upstream's own time to first token: the same number of streams opened at once
straight to the upstream, timed to the first reasoning chunk. The goal compares the browser's first
reasoning event with it. Afterwards every answer is checked in the database (status complete, the
whole reasoning and answer), and where each stream's time went before its first token is worked out
from the rows' timestamps (conversation, question and answer rows; the answer's saved timings). The
server's, upstream's and client's CPU time, threads and memory are sampled from /proc.

By default the app runs on the first CPU and the upstream and client on the others (--no-pin shares
them): in production the LLM runs on machines of its own, and on a two-core box the load generators
would otherwise take the app's CPU.

Streams are read by a minimal HTTP/1.1 client (one connection each, as browser tabs have): with
httpx2 the client itself cost about 130 µs of CPU per chunk and would fall behind 500 streams.
--retrieval and --server-env (e.g. OMP_NUM_THREADS=1) change one thing at a time, to find out
where the time goes.

    .venv/bin/python benchmarks/concurrent_chat.py [--streams N] [--users N] [--database-url URL] [--json]

PostgreSQL: --database-url postgres://postgres@127.0.0.1:5432/kbchat_bench creates that database
(refusing one that exists) and drops it afterwards.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx2
import numpy as np
from machine import describe

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "deepseek-r1-guide.zh.md"
PASSWORD = "bench-password-1"
CHUNK_CHARS = 4  # about one token of English text
REASONING = (
    "The user asks about the guide. Passage one states the rule and passage two adds the details, "
    "so I should answer from both, cite them, and keep it short. Let me check the numbers again. "
)
ANSWER = (
    "According to the guide, DeepSeek-R1 reasons before it answers [1]. The distilled models are "
    "smaller and run on one GPU, at some cost in quality [2]. See the deployment section for details. "
)
QUESTIONS = (
    "DeepSeek-V3 有多少参数？",
    "How many parameters does DeepSeek-V3 have?",
    "DeepSeek-R1 的蒸馏模型有哪些？",
    "Which distilled models of DeepSeek-R1 are there?",
    "如何在本地部署 DeepSeek-R1？",
    "How do I deploy DeepSeek-R1 on my own server?",
    "什么是 Reasoning 大模型？",
    "What is a reasoning model?",
    "DeepSeek-R1 的 API 怎么调用？",
    "How do I call the DeepSeek-R1 API with streaming?",
    "部署 32B 蒸馏模型需要多少显存？",
    "How much GPU memory does the 32B distilled model need?",
    "reasoning_content 字段是什么？",
    "What does the reasoning_content field contain?",
    "大模型的两大分支是什么？",
    "What is the difference between DeepSeek-V3 and DeepSeek-R1?",
)


def _text(pattern: str, tokens: int) -> str:
    return (pattern * (tokens * CHUNK_CHARS // len(pattern) + 1))[: tokens * CHUNK_CHARS]


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


# Processes: CPU time, threads and memory, from /proc.


def _stat(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def _cpu_seconds(pid: int) -> float:
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS", "Threads"):
            values[key] = int(value.split()[0])
    return values


def _child_pid(marker: str) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                mine = int(_stat(int(entry.name))[1]) == os.getpid()
                if mine and marker in (entry / "cmdline").read_text():
                    return int(entry.name)
            except (OSError, IndexError):
                continue
    raise RuntimeError(f"No child process running {marker}")


class Sampler:
    """CPU use and threads of some processes, twice a second while the streams run."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.samples: list[tuple[float, dict[str, float], dict[str, int]]] = []

    def sample(self) -> None:
        cpu = {name: _cpu_seconds(pid) for name, pid in self.pids.items()}
        threads = {name: _status(pid)["Threads"] for name, pid in self.pids.items()}
        self.samples.append((time.perf_counter(), cpu, threads))

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.5)

    def summary(self) -> dict[str, dict]:
        self.sample()
        (start, first, _), (end, last, _) = self.samples[0], self.samples[-1]
        result = {}
        for name, pid in self.pids.items():
            pairs = zip(self.samples, self.samples[1:], strict=False)
            busiest = max(((b[1][name] - a[1][name]) / (b[0] - a[0]) for a, b in pairs), default=0.0)
            status = _status(pid)
            result[name] = {
                "cpu_s": round(last[name] - first[name], 1),
                "cpu_mean_pct": round(100 * (last[name] - first[name]) / (end - start)),
                "cpu_busiest_half_second_pct": round(100 * busiest),
                "threads_peak": max(sample[2][name] for sample in self.samples),
                # A process that has exited (a zombie until reaped) has no memory figures left.
                "exited": _stat(pid)[0] in "ZX",
                "rss_mb": round(status["VmRSS"] / 1024) if "VmRSS" in status else None,
                "peak_rss_mb": round(status["VmHWM"] / 1024) if "VmHWM" in status else None,
            }
        return result


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
MARKERS = re.compile(r"\[\d+\]")
EXCEPTION_LINE = re.compile(r"^[\w.]+(Error|Exception|Exit|Interrupt)\b")


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


async def _all_at_once(
    count: int, start: Callable[[int], Awaitable[Stream]], sampler: Sampler
) -> tuple[list[Stream], float, dict]:
    sampling = asyncio.create_task(sampler.run())
    started = time.perf_counter()
    streams = await asyncio.gather(*(start(number) for number in range(count)))
    wall_s = time.perf_counter() - started
    sampling.cancel()
    return list(streams), wall_s, sampler.summary()


def _run(coroutine):
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


# Setup and checks, with the ORM in this process (never inside the event loop).


def _setup_django(data_dir: Path, database_url: str) -> None:
    os.environ.update(
        DATA_DIR=str(data_dir), DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="chatsite.settings"
    )
    for name in ("LLM_BASE_URL", "LLM_API_KEY", "DEEPSEEK_API_KEY", "LLM_MODELS", "LLM_MODEL"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _postgres(database_url: str, *, create: bool) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as connection:
        if create:
            if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                raise SystemExit(f"The database {name} exists; drop it or name another.")
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        else:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            connection.execute(drop)


def prepare(users: int, retrieval: str) -> tuple[int | None, list[str]]:
    """Tables, the knowledge base with the guide ingested in a subprocess, and users with passwords.
    Without retrieval the questions name no knowledge base, and go to the model as they are."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from knowledge.models import Chunk, KnowledgeBase

    call_command("migrate", verbosity=0)
    command = [sys.executable, "manage.py", "ingest", "--inline", "--create", "--kb", "guide", str(CORPUS)]
    ingested = subprocess.run(command, cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True)
    if ingested.returncode:
        raise SystemExit(f"Ingesting the guide failed:\n{ingested.stdout}{ingested.stderr}")
    kb = KnowledgeBase.objects.get(slug="guide")
    if retrieval != "none":
        kb.retrieval_mode = retrieval
        kb.save(update_fields=["retrieval_mode"])
    password = make_password(PASSWORD)  # hashed once: the hasher is slow on purpose
    names = [f"bench-{number}" for number in range(users)]
    User.objects.bulk_create(User(username=name, password=password) for name in names)
    print(f"Knowledge base: {Chunk.objects.filter(knowledge_base=kb).count()} chunks", file=sys.stderr)
    return (kb.id if retrieval != "none" else None), names


def _ms(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else (end - start) * 1000


def _timeline(stream: Stream, assistant: dict, question_at: float) -> dict[str, float | None]:
    """Where one stream's time went before its first token, in ms: the rows' timestamps against the
    client's clock (the same machine). The assistant row is saved just before `meta` is sent."""
    conversation_at = assistant["conversation__created_at"].timestamp()
    meta_at = assistant["created_at"].timestamp()
    timings = assistant["timings"]
    retrieval, first = timings.get("retrieval_ms"), timings.get("first_reasoning_ms")
    first_at = None if first is None else meta_at + first / 1000
    return {
        "request_to_conversation_saved": _ms(stream.started_wall, conversation_at),
        "conversation_to_question_saved": _ms(conversation_at, question_at),
        "question_to_meta_sent": _ms(question_at, meta_at),
        "meta_sent_to_browser": _ms(meta_at, stream.wall(stream.first_event)),
        "retrieval_after_meta": retrieval,
        "model_first_token_after_retrieval": None if first is None else first - retrieval,
        "first_token_to_browser": _ms(first_at, stream.wall(stream.first_reasoning)),
    }


def check_saved(streams: list[Stream], reasoning: str, answer: str) -> dict:
    """Every answer's row, and where each stream's time went before its first token."""
    from chat.models import Message

    ids = [stream.message_id for stream in streams if stream.message_id is not None]
    fields = ("id", "status", "content", "reasoning", "timings", "created_at", "conversation_id")
    rows = {
        row["id"]: row
        for row in Message.objects.filter(id__in=ids).values(*fields, "conversation__created_at")
    }
    questions = dict(
        Message.objects.filter(conversation_id__in=[row["conversation_id"] for row in rows.values()])
        .filter(role=Message.Role.USER)
        .values_list("conversation_id", "created_at")
    )
    complete = [row for row in rows.values() if row["status"] == Message.Status.COMPLETE]
    steps: dict[str, list[float | None]] = {}
    for stream in streams:
        if stream.message_id in rows:
            row = rows[stream.message_id]
            timeline = _timeline(stream, row, questions[row["conversation_id"]].timestamp())
            for name, value in timeline.items():
                steps.setdefault(name, []).append(value)
    return {
        "answers_started": len(ids),
        "assistant_messages": len(rows),
        "complete": len(complete),
        # Markers pointing to no passage are dropped (answers without a knowledge base).
        "whole_answer": sum(MARKERS.sub("", row["content"]) == MARKERS.sub("", answer) for row in complete),
        "whole_reasoning": sum(row["reasoning"] == reasoning for row in complete),
        "statuses": sorted({row["status"] for row in rows.values()}),
        "first_token_path_ms": {name: _summary(values) for name, values in steps.items()},
    }


# The report.


def _summary(values: list[float | None]) -> dict:
    present = np.asarray([value for value in values if value is not None], dtype=float)
    if not len(present):
        return {"p50": None, "p95": None, "max": None, "n": 0}
    return {
        "p50": round(float(np.percentile(present, 50)), 1),
        "p95": round(float(np.percentile(present, 95)), 1),
        "max": round(float(present.max()), 1),
        "n": len(present),
    }


def _stream_figures(streams: list[Stream], wall_s: float) -> dict:
    errors = [stream.error for stream in streams if stream.error]
    starts = [stream.started for stream in streams]
    return {
        "first_event_ms": _summary([stream.ms(stream.first_event) for stream in streams]),
        "first_reasoning_ms": _summary([stream.ms(stream.first_reasoning) for stream in streams]),
        "first_content_ms": _summary([stream.ms(stream.first_content) for stream in streams]),
        "total_ms": _summary([stream.ms(stream.finished) for stream in streams]),
        "tokens_per_s_per_stream": _summary([stream.tokens_per_second() for stream in streams]),
        "tokens": _summary([stream.tokens for stream in streams]),
        "tokens_per_s_all_streams": round(sum(stream.tokens for stream in streams) / wall_s),
        "text_events": _summary([stream.events for stream in streams]),
        "complete": sum(stream.status == "complete" for stream in streams),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:5],
        "launched_within_ms": round((max(starts) - min(starts)) * 1000, 1),
        "wall_s": round(wall_s, 1),
    }


def _goal(result: dict) -> dict:
    app, upstream = result["app"]["first_reasoning_ms"], result["upstream"]["first_reasoning_ms"]
    over = {q: round(app[q] - upstream[q], 1) if app[q] is not None else None for q in ("p50", "p95")}
    streams, saved = result["settings"]["streams"], result["saved"]
    return {
        "first_token_over_upstream_ms": over,
        "no_errors": result["app"]["errors"] == 0,
        "every_answer_saved": saved["whole_answer"] == saved["whole_reasoning"] == streams,
        "met": (
            result["app"]["errors"] == 0
            and saved["whole_answer"] == streams
            and over["p95"] is not None
            and over["p95"] <= 100
        ),
    }


def _print_report(result: dict) -> None:
    def section(title: str, values: dict) -> None:
        print(f"\n{title}")
        for key, value in values.items():
            print(f"  {key:>34}: {value}")

    section("Machine", result["machine"])
    section("Settings", result["settings"])
    section("Upstream alone: the same streams straight to the test upstream", result["upstream"])
    section("Through the app: at the browser", result["app"])
    section("In the database", result["saved"])
    for name, figures in result["processes"].items():
        section(f"Process during the app run: {name}", figures)
    section("Server log", result["server_log"])
    section("Goal: browser's first reasoning event at most 100 ms (p95) over the upstream's", result["goal"])
    print(f"\nTotal {result['total_s']} s; load average {result['load_average_end']} at the end.")


def _server_log(path: Path) -> dict:
    """The exceptions the server logged, most frequent first (the last line of each traceback)."""
    lines = path.read_text(errors="replace").splitlines()
    raised = Counter(line[:200] for line in lines if EXCEPTION_LINE.match(line))
    return {
        "lines": len(lines),
        "tracebacks": sum(line.startswith("Traceback") for line in lines),
        "exceptions": [f"{count} × {line}" for line, count in raised.most_common(3)],
    }


def upstream_alone(upstream: Upstream, questions: list[str], paced: dict) -> dict:
    """The baseline: the same streams straight to the upstream, all at once."""

    async def run():
        upstream.script(reasoning="Warm-up.", content="Ready.", delay=0)
        await ask_upstream(upstream.base_url, questions[0])
        upstream.script(**paced)
        sampler = Sampler({"upstream": upstream.process.pid, "client": os.getpid()})
        return await _all_at_once(
            len(questions), lambda n: ask_upstream(upstream.base_url, questions[n]), sampler
        )

    streams, wall_s, processes = _run(run())
    return {**_stream_figures(streams, wall_s), "processes": processes}


def through_app(
    url: str, upstream: Upstream, usernames: list[str], questions: list[str], kb_id: int | None, paced: dict
) -> tuple[list[Stream], float, dict]:
    """Log the users in, ask one warm-up question, then start every stream at once."""
    pids = {"server": _child_pid("uvicorn"), "upstream": upstream.process.pid, "client": os.getpid()}

    async def run():
        logins = await asyncio.gather(*(log_in(url, name) for name in usernames))
        # Loads and probes the embedder, opens the pools: the first question of a fresh process.
        upstream.script(reasoning="Warm-up.", content="Ready.", delay=0)
        warm = await ask(url, logins[0], questions[0], kb_id)
        if warm.status != "complete":
            raise SystemExit(f"The warm-up question failed: {warm.error}")
        upstream.script(**paced)
        print(f"Through the app: {len(questions)} streams", file=sys.stderr)
        return await _all_at_once(
            len(questions), lambda n: ask(url, logins[n % len(logins)], questions[n], kb_id), Sampler(pids)
        )

    return _run(run())


def _cpu_split(pin: bool) -> tuple[set[int], set[int]]:
    """CPUs for the app, and for the load (upstream and client): with --pin, the first CPU for the app
    and the others for the load, as when the LLM runs on its own machine; otherwise all for both."""
    cpus = sorted(os.sched_getaffinity(0))
    if not pin or len(cpus) < 2:
        return set(cpus), set(cpus)
    return {cpus[0]}, set(cpus[1:])


@contextmanager
def _started_on(cpus: set[int], manager: AbstractContextManager) -> Iterator:
    """Enter a context that starts a process, with that process (and its threads) on these CPUs."""
    with ExitStack() as stack:
        before = os.sched_getaffinity(0)
        os.sched_setaffinity(0, cpus)
        try:
            value = stack.enter_context(manager)
        finally:
            os.sched_setaffinity(0, before)
        yield value


def benchmark(args: argparse.Namespace, data_dir: Path) -> dict:
    from tests.processes import asgi_server

    kb_id, usernames = prepare(args.users, args.retrieval)
    reasoning, answer = _text(REASONING, args.reasoning_tokens), _text(ANSWER, args.answer_tokens)
    paced = {"reasoning": reasoning, "content": answer, "chunk_chars": CHUNK_CHARS}
    paced["delay"] = 1 / args.tokens_per_second
    questions = [QUESTIONS[number % len(QUESTIONS)] for number in range(args.streams)]
    server_cpus, load_cpus = _cpu_split(args.pin)
    os.sched_setaffinity(0, load_cpus)  # the client, and the upstream it starts
    with Upstream() as upstream:
        print(f"Upstream alone: {args.streams} streams", file=sys.stderr)
        baseline = upstream_alone(upstream, questions, paced)
        env = {"LLM_BASE_URL": upstream.base_url, "LLM_API_KEY": "sk-test", **dict(args.server_env)}
        with _started_on(server_cpus, asgi_server(data_dir, log=data_dir / "server.log", **env)) as url:
            streams, wall_s, processes = through_app(url, upstream, usernames, questions, kb_id, paced)
    tokens = sum(stream.tokens for stream in streams)
    processes["server"]["cpu_ms_per_token_relayed"] = round(processes["server"]["cpu_s"] * 1000 / tokens, 2)
    return {
        "upstream": baseline,
        "app": _stream_figures(streams, wall_s),
        "saved": check_saved(streams, reasoning, answer),
        "processes": processes,
        "server_log": _server_log(data_dir / "server.log"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--reasoning-tokens", type=int, default=200)
    parser.add_argument("--answer-tokens", type=int, default=300)
    parser.add_argument("--tokens-per-second", type=float, default=30.0)
    parser.add_argument("--users", type=int, default=50, help="distinct logged-in users sharing the streams")
    parser.add_argument(
        "--retrieval",
        choices=["hybrid", "dense", "lexical", "none"],
        default="hybrid",
        help="the knowledge base's search (hybrid: its default), or none: ask without a knowledge base",
    )
    parser.add_argument(
        "--server-env",
        type=lambda text: tuple(text.split("=", 1)),
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for the server (repeatable), e.g. OMP_NUM_THREADS=1",
    )
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the app on the first CPU, upstream and client on the others (default; --no-pin shares all)",
    )
    parser.add_argument("--database-url", help="default: SQLite in the temporary data folder")
    parser.add_argument("--keep", action="store_true", help="keep the data folder (and the database)")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()

    started = time.perf_counter()
    machine = describe()
    data_dir = Path(tempfile.mkdtemp(prefix="kbchat-bench-chat-"))
    database_url = args.database_url or f"sqlite:///{data_dir / 'db.sqlite3'}"
    postgres = urlsplit(database_url).scheme.startswith("postgres")
    if postgres:
        _postgres(database_url, create=True)
    try:
        _setup_django(data_dir, database_url)
        figures = benchmark(args, data_dir)
    finally:
        if postgres and not args.keep:
            from django.db import connections

            connections.close_all()
            _postgres(database_url, create=False)
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    result = {
        "machine": machine,
        "settings": {
            "streams": args.streams,
            "users": args.users,
            "reasoning_tokens": args.reasoning_tokens,
            "answer_tokens": args.answer_tokens,
            "tokens_per_second": args.tokens_per_second,
            "chars_per_token_chunk": CHUNK_CHARS,
            "retrieval": args.retrieval,
            "database": "postgresql" if postgres else "sqlite",
            "server_env": " ".join(f"{name}={value}" for name, value in args.server_env) or None,
            "server": "uvicorn, one process",
            "cpus": "app on the first CPU, upstream and client on the rest" if args.pin else "shared",
        },
        **figures,
    }
    result["goal"] = _goal(result)
    result["total_s"] = round(time.perf_counter() - started)
    result["load_average_end"] = os.getloadavg()[0]
    result["data_dir"] = str(data_dir) if args.keep else None
    _print_report(result)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
