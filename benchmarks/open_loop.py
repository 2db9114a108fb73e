"""Open-loop load: questions arriving as a Poisson process, through the chat page and `/v1` alike.

At each rate λ (questions per second, --rates), questions arrive for --seconds at exponentially
distributed intervals, whether or not earlier answers have finished (an open loop, as real users
arrive). Arrivals alternate between the chat page (`POST /ask/` as the browser sends it: a session
from the login page, the CSRF token, read as server-sent events) and `/v1/chat/completions`
(stream=true, an API key), and each endpoint alternates Chinese and English questions: Chinese ones
about the DeepSeek-R1 guide, English ones SciFact's claims. The knowledge base holds the Chinese
guide and --abstracts SciFact abstracts (../shared/eval/scifact), searched hybrid as by default.

Every answer is 200 reasoning + 300 answer tokens at 30 tokens/s from benchmarks/paced_upstream.py,
which records when it sent each request's first token (keyed by a `#q<n>` marker in the question).
The figure that matters is, per answer, the first reasoning token at the client minus that moment:
what the app adds to the model's own first token. Also reported per λ: the streams in flight (the
client's count, sampled 4× a second), the CPU of the web processes (and their children) from
/proc over the whole point divided by the answers, errors, and answers saved complete (the chat
page's rows with the whole reasoning and answer; `/v1`'s question audit events with status complete).

The start of an answer and its relay are split by a second, short point at the lowest rate with
one-token answers: its CPU per answer is the start (request to upstream call, plus the `done`
event), and the relay of 500 tokens is the full answer's CPU minus it.

The app runs under `uvicorn chatsite.asgi:application --workers N` (--workers, repeatable) on the
first CPU (all CPUs for N > 1); the upstream and this load generator on the last CPU. Points go up
the ladder of rates until the p95 of the added time is clearly over 100 ms.

    .venv/bin/python benchmarks/open_loop.py [--workers 1 --workers 2] [--rates 1,2,5,10,15,25]
        [--seconds 60] [--data-dir DIR] [--database-url URL] [--json]

    .venv/bin/python benchmarks/open_loop.py --data-dir DIR --profile PREFIX --rates 2 --seconds 30
        # one process under cProfile (benchmarks/profiled_server.py): where the CPU goes, by part
    .venv/bin/python benchmarks/open_loop.py --data-dir DIR --burst 10,50,100,200
        # N at the same instant through each endpoint, against the upstream alone

--data-dir keeps the prepared database and index (ingesting the abstracts takes minutes) for later
runs; PostgreSQL: --database-url postgres://postgres@127.0.0.1:5432/NAME (created if missing).
"""

import argparse
import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from chat_database import CORPUS, check_saved, postgres_database, setup_django
from chat_load import (
    CHUNK_CHARS,
    PASSWORD,
    Stream,
    _app_frames,
    _exchange,
    _post,
    _timed,
    ask_upstream,
    log_in,
    run_event_loop,
)
from chat_report import summary
from concurrent_chat import ANSWER, QUESTIONS, REASONING, _text
from machine import describe
from process_stats import cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
SCIFACT = ROOT.parent / "shared" / "eval" / "scifact"
KB_SLUG = "load"
ZH_QUESTIONS = [question for question in QUESTIONS if not question.isascii()]
BUDGET_MS = 100.0
CPUS = sorted(os.sched_getaffinity(0))  # before this process moves itself to the load's CPU
# `/v1` chunks as the app writes them (json.dumps' default separators) or as DeepSeek does (none).
V1_REASONING = re.compile(rb'"reasoning_content": ?"[^"]')
V1_CONTENT = re.compile(rb'"content": ?"[^"]')


def _v1_frames(stream: Stream, frames: bytes, now: float) -> None:
    """`/v1` chunks: the first with reasoning, the first with answer text, [DONE] or an error."""
    if b"data: " not in frames:
        return
    stream.first_event = stream.first_event or now
    reasoning, content = len(V1_REASONING.findall(frames)), len(V1_CONTENT.findall(frames))
    if reasoning and stream.first_reasoning is None:
        stream.first_reasoning = now
    if content and stream.first_content is None:
        stream.first_content = now
    stream.events += reasoning + content
    if b"data: [DONE]" in frames:
        stream.status = "complete"
    elif b'"error"' in frames and stream.error is None:
        stream.error = frames.decode(errors="replace")[-300:]


# Preparing the data (once per data folder).


def prepare(data_dir: Path, abstracts: int, users: int) -> dict:
    """The knowledge base (the guide and the abstracts, ingested inline), chat users and API users."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from api.services import api_key_create
    from knowledge.models import Chunk, KnowledgeBase

    saved = data_dir / "open_loop.json"
    if saved.exists():
        return json.loads(saved.read_text())
    call_command("migrate", verbosity=0)
    folder = data_dir / "abstracts"
    folder.mkdir(exist_ok=True)
    with (SCIFACT / "corpus.jsonl").open() as corpus:
        for _number, line in zip(range(abstracts), corpus, strict=False):
            record = json.loads(line)
            (folder / f"{record['_id']}.txt").write_text(f"{record['title']}\n\n{record['text']}\n")
    print(f"Ingesting the guide and {abstracts} abstracts …", file=sys.stderr)
    command = [sys.executable, "manage.py", "ingest", "--inline", "--create", "--kb", KB_SLUG, str(CORPUS)]
    ingested = subprocess.run(
        [*command, str(folder)], cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True
    )
    if ingested.returncode:
        raise SystemExit(f"Ingesting failed:\n{ingested.stdout[-2000:]}{ingested.stderr[-2000:]}")
    kb = KnowledgeBase.objects.get(slug=KB_SLUG)
    password = make_password(PASSWORD)  # hashed once: the hasher is slow on purpose
    chat_users = [f"chat-{number}" for number in range(users)]
    api_users = [f"api-{number}" for number in range(users)]
    User.objects.bulk_create(User(username=name, password=password) for name in chat_users + api_users)
    keys = [api_key_create(user=User.objects.get(username=name), name="load")[1] for name in api_users]
    prepared = {
        "kb_id": kb.id,
        "chunks": Chunk.objects.filter(knowledge_base=kb).count(),
        "abstracts": abstracts,
        "chat_users": chat_users,
        "api_users": api_users,
        "api_keys": keys,
        "sessions": None,
    }
    saved.write_text(json.dumps(prepared))
    return prepared


def english_questions() -> list[str]:
    with (SCIFACT / "queries.jsonl").open() as queries:
        return [json.loads(line)["text"] for line in queries][:200]


# The processes.


@contextmanager
def upstream_process(cpu: int):
    command = [sys.executable, str(ROOT / "benchmarks" / "paced_upstream.py")]
    process = subprocess.Popen(
        ["taskset", "-c", str(cpu), *command], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert process.stdout is not None
        yield process, process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(10)


def control(base_url: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    with urllib.request.urlopen(urllib.request.Request(base_url + path, data=data), timeout=30) as response:
        return json.loads(response.read())


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def web_server(
    data_dir: Path,
    workers: int,
    cpus: str,
    env: dict[str, str],
    log: Path,
    profile: str = "",
    app: str = "chatsite.asgi:application",
    ready_path: str = "/accounts/login/",
):
    port = _free_port()
    command = ["taskset", "-c", cpus, sys.executable, "-m", "uvicorn", app]
    command += ["--port", str(port), "--workers", str(workers), "--no-access-log"]
    if profile:  # one process, profiled
        command = ["taskset", "-c", cpus, sys.executable, str(ROOT / "benchmarks" / "profiled_server.py")]
        command += ["--port", str(port), "--out", profile]
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "chatsite.settings", **env}
    with log.open("ab") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=output, stderr=output)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 600
            while True:
                try:
                    urllib.request.urlopen(f"{url}{ready_path}", timeout=10).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"The web server did not start:\n{log.read_text()[-3000:]}"
                        ) from None
                    time.sleep(0.5)
            yield process, url
        finally:
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def descendants(pid: int) -> set[int]:
    found, pending = set(), [pid]
    while pending:
        current = pending.pop()
        found.add(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                pending += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


class WebCPU:
    """CPU seconds of the web server's processes (the uvicorn supervisor, its workers, their children)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.seen: dict[int, float] = {}

    def read(self) -> float:
        for pid in descendants(self.pid):
            try:
                self.seen[pid] = cpu_seconds(pid)
            except (OSError, IndexError):
                continue
        return sum(self.seen.values())


# The load.


class Load:
    def __init__(self, url: str, upstream_url: str, prepared: dict, logins: list[dict[str, str]]) -> None:
        self.url, self.upstream_url, self.prepared, self.logins = url, upstream_url, prepared, logins
        self.english = english_questions()
        self.number = 0  # markers, unique across points

    def question(self, index: int) -> tuple[str, str]:
        self.number += 1
        english = (index // 2) % 2 == 1
        pool = self.english if english else ZH_QUESTIONS
        return f"{pool[(index // 4) % len(pool)]} #q{self.number}", str(self.number)

    async def ask_chat(self, index: int, question: str) -> Stream:
        stream = Stream()
        form = {
            "question": question,
            "conversation": "",
            "model": "",
            "knowledge_base": self.prepared["kb_id"],
        }
        headers = self.logins[index % len(self.logins)]
        request = _post(
            self.url, "/ask/", urlencode(form).encode(), "application/x-www-form-urlencoded", headers
        )
        return await _timed(stream, _exchange(stream, self.url, request, _app_frames))

    async def ask_v1(self, index: int, question: str) -> Stream:
        stream = Stream()
        keys = self.prepared["api_keys"]
        body = {
            "model": f"kb:{KB_SLUG}",
            "messages": [{"role": "user", "content": question}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        headers = {"Authorization": f"Bearer {keys[index % len(keys)]}"}
        request = _post(
            self.url, "/v1/chat/completions", json.dumps(body).encode(), "application/json", headers
        )
        return await _timed(stream, _exchange(stream, self.url, request, _v1_frames))

    async def poisson(self, rate: float, seconds: float, seed: int) -> tuple[list[tuple], list[int], float]:
        """Questions at exponential intervals for `seconds`; (kind, marker, stream) of each, the
        streams in flight sampled 4× a second, and the wall time until the last answer ended."""
        generator = random.Random(seed)
        moments, moment = [], generator.expovariate(rate)
        while moment < seconds:
            moments.append(moment)
            moment += generator.expovariate(rate)
        in_flight = 0
        samples: list[int] = []

        async def one(index: int) -> tuple:
            nonlocal in_flight
            kind = "chat" if index % 2 == 0 else "v1"
            question, marker = self.question(index)
            in_flight += 1
            try:
                ask = self.ask_chat if kind == "chat" else self.ask_v1
                return kind, marker, await ask(index, question)
            finally:
                in_flight -= 1

        async def sample() -> None:
            while True:
                samples.append(in_flight)
                await asyncio.sleep(0.25)

        sampling = asyncio.create_task(sample())
        started = time.perf_counter()
        tasks = []
        for index, at in enumerate(moments):
            await asyncio.sleep(max(0.0, started + at - time.perf_counter()))
            tasks.append(asyncio.create_task(one(index)))
        results = await asyncio.gather(*tasks)
        sampling.cancel()
        return list(results), samples[: int(seconds * 4)], time.perf_counter() - started


def burst(load: Load, web: WebCPU, count: int, kind: str, paced: dict) -> dict:
    """`count` questions at the same instant through one endpoint (the burst of
    benchmarks/concurrent_chat.py, kept for comparison with earlier figures), after the same
    number straight to the upstream (its own first token, all at once: the classic baseline)."""
    from django.utils import timezone

    control(load.upstream_url, "/_script", paced)

    async def alone():
        return await asyncio.gather(*(ask_upstream(load.upstream_url, f"Question {n}") for n in range(count)))

    baseline = run_event_loop(alone())
    since = timezone.now()
    before = web.read()
    ask = load.ask_chat if kind == "chat" else load.ask_v1

    async def through_app():
        questions = [load.question(index * 2 + (kind == "v1")) for index in range(count)]
        streams = await asyncio.gather(
            *(ask(index, question) for index, (question, _) in enumerate(questions))
        )
        return list(zip([marker for _, marker in questions], streams, strict=True))

    results = run_event_loop(through_app())
    time.sleep(1.0)
    cpu_s = web.read() - before
    marks = control(load.upstream_url, "/_marks")
    streams = [stream for _marker, stream in results]
    added = [
        None
        if marks.get(marker) is None or stream.first_reasoning is None
        else (stream.first_reasoning - marks[marker]) * 1000
        for marker, stream in results
    ]
    app = summary([stream.ms(stream.first_reasoning) for stream in streams])
    upstream = summary([stream.ms(stream.first_reasoning) for stream in baseline])
    if kind == "chat":
        saved = check_saved(streams, paced["reasoning"], paced["content"])["whole_answer"]
    else:
        saved = saved_v1(load.prepared["api_users"], since)["complete"]
    return {
        "streams": count,
        "endpoint": kind,
        "upstream_alone_first_token_ms": upstream,
        "app_first_token_ms": app,
        "over_upstream_p95_ms": None if app["p95"] is None else round(app["p95"] - upstream["p95"], 1),
        "added_ms": summary(added),
        "errors": sum(1 for stream in streams if stream.error),
        "error_examples": sorted({stream.error for stream in streams if stream.error})[:3],
        "saved_complete": saved,
        "cpu_s": round(cpu_s, 2),
        "load_average": os.getloadavg()[0],
    }


def warm_up(load: Load, count: int) -> None:
    async def run():
        return await asyncio.gather(
            *(
                (load.ask_chat if index % 2 == 0 else load.ask_v1)(index, load.question(index)[0])
                for index in range(count)
            )
        )

    failed = [stream.error for stream in run_event_loop(run()) if stream.status != "complete"]
    if failed:
        raise SystemExit(f"Warm-up questions failed: {failed[:3]}")


def saved_v1(api_users: list[str], since) -> dict:
    from audit.models import Event

    rows = Event.objects.filter(kind=Event.Kind.QUESTION, username__in=api_users, at__gte=since)
    statuses = [row.detail.get("status") for row in rows.only("detail")]
    return {"recorded": len(statuses), "complete": statuses.count("complete")}


def point(load: Load, web: WebCPU, rate: float, seconds: float, paced: dict, seed: int) -> dict:
    from django.utils import timezone

    control(load.upstream_url, "/_script", paced)
    since = timezone.now()
    before, load_average = web.read(), os.getloadavg()[0]
    results, in_flight, wall_s = run_event_loop(load.poisson(rate, seconds, seed))
    time.sleep(1.0)  # the last answers' rows are written after their last event
    cpu_s = web.read() - before
    marks = control(load.upstream_url, "/_marks")
    added: dict[str, list[float | None]] = {"chat": [], "v1": []}
    for kind, marker, stream in results:
        first = marks.get(marker)
        value = (
            None
            if first is None or stream.first_reasoning is None
            else (stream.first_reasoning - first) * 1000
        )
        added[kind].append(value)
    streams = [stream for _kind, _marker, stream in results]
    chat_streams = [stream for kind, _marker, stream in results if kind == "chat"]
    errors = [stream.error for stream in streams if stream.error]
    saved_chat = check_saved(chat_streams, paced["reasoning"], paced["content"])
    v1 = saved_v1(load.prepared["api_users"], since)
    return {
        "rate": rate,
        "answers": len(streams),
        "added_ms": summary(added["chat"] + added["v1"]),
        "added_ms_chat": summary(added["chat"]),
        "added_ms_v1": summary(added["v1"]),
        "first_event_ms_chat": summary([stream.ms(stream.first_event) for stream in chat_streams]),
        "in_flight": {
            "mean": round(sum(in_flight) / max(1, len(in_flight))),
            "max": max(in_flight, default=0),
        },
        "cpu_s": round(cpu_s, 2),
        "cpu_ms_per_answer": round(cpu_s * 1000 / max(1, len(streams)), 1),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:3],
        "saved_complete": saved_chat["whole_answer"] + v1["complete"],
        "saved_chat": {key: saved_chat[key] for key in ("complete", "whole_answer", "whole_reasoning")},
        "saved_v1": v1,
        "wall_s": round(wall_s, 1),
        "load_average": [load_average, os.getloadavg()[0]],
    }


def over(figures: dict) -> bool:
    p95 = figures["added_ms"]["p95"]
    return p95 is None or p95 > BUDGET_MS


def run_workers(args, data_dir: Path, prepared: dict, workers: int, profile: str = "") -> dict:
    load_cpu = CPUS[-1]
    server_cpus = str(CPUS[0]) if workers == 1 else ",".join(map(str, CPUS))
    os.sched_setaffinity(0, {load_cpu})
    full = {
        "reasoning": _text(REASONING, args.reasoning_tokens),
        "content": _text(ANSWER, args.answer_tokens),
        "chunk_chars": CHUNK_CHARS,
        "delay": 1 / args.tokens_per_second,
    }
    short = full | {"reasoning": _text(REASONING, 1), "content": _text(ANSWER, 1)}
    with upstream_process(load_cpu) as (_upstream, upstream_url):
        env = {
            "DATA_DIR": str(data_dir),
            "DATABASE_URL": os.environ["DATABASE_URL"],
            "LLM_BASE_URL": upstream_url,
            "LLM_API_KEY": "sk-test",
            # 50 chat and 50 API users stand for a whole company: the per-user answer limit is not
            # what this measures.
            "ANSWER_RATE_PER_USER": "100000/min",
            "API_RATE_PER_KEY": "100000/min",
            "API_RATE_PER_USER": "100000/min",
            **dict(args.server_env),
        }
        log = data_dir / f"server-{workers}.log"
        with web_server(data_dir, workers, server_cpus, env, log, profile) as (server, url):
            logins = prepared.get("sessions")
            if not logins:
                print("Logging the chat users in …", file=sys.stderr)
                logins = run_event_loop(_log_in_all(url, prepared["chat_users"]))
                prepared["sessions"] = logins
                (data_dir / "open_loop.json").write_text(json.dumps(prepared))
            load = Load(url, upstream_url, prepared, logins)
            control(upstream_url, "/_script", short | {"delay": 0})
            warm_up(load, 8 * workers)
            web = WebCPU(server.pid)
            if profile:
                return profiled(load, web, server, profile, args, short, full)
            if args.burst:
                bursts = []
                for count in args.burst:
                    for kind in ("chat", "v1"):
                        print(f"Burst: {count} at once through {kind}", file=sys.stderr)
                        bursts.append(burst(load, web, count, kind, full))
                        print(json.dumps(bursts[-1], ensure_ascii=False), file=sys.stderr)
                return {"workers": workers, "bursts": bursts}
            points = []
            start_only = None
            if args.split:
                print(f"{workers} process(es): one-token answers at λ={args.rates[0]}", file=sys.stderr)
                start_only = point(load, web, args.rates[0], args.split_seconds, short, seed=999)
            for rate in args.rates:
                print(f"{workers} process(es): λ={rate}/s for {args.seconds} s", file=sys.stderr)
                figures = point(load, web, rate, args.seconds, full, seed=int(rate * 100))
                if start_only is not None:
                    start_ms = start_only["cpu_ms_per_answer"]
                    figures["cpu_ms_start"] = start_ms
                    figures["cpu_ms_relay"] = round(figures["cpu_ms_per_answer"] - start_ms, 1)
                points.append(figures)
                print(json.dumps(figures, ensure_ascii=False), file=sys.stderr)
                p95 = figures["added_ms"]["p95"]
                if over(figures) and (
                    p95 is None or p95 > 2 * BUDGET_MS or (len(points) > 1 and over(points[-2]))
                ):
                    break  # clearly over
    within = [figures["rate"] for figures in points if not over(figures) and figures["errors"] == 0]
    return {
        "workers": workers,
        "server_cpus": server_cpus,
        "load_cpu": load_cpu,
        "start_only": start_only,
        "points": points,
        "highest_rate_within_budget": max(within, default=None),
    }


def _snapshot(server: subprocess.Popen, path: str) -> dict:
    import marshal

    os.kill(server.pid, signal.SIGUSR1)
    deadline = time.monotonic() + 60
    while not Path(path).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # written in one go, but give it time to finish
    return marshal.loads(Path(path).read_bytes())


def _per_answer(after: dict, before: dict, answers: int) -> dict:
    """(calls, own ms, cumulative ms) per answer of each function, between two snapshots."""
    result = {}
    for function, (calls, _primitive, own, cumulative, _callers) in after.items():
        old = before.get(function, (0, 0, 0.0, 0.0, {}))
        if calls - old[0]:
            result[function] = (
                (calls - old[0]) / answers,
                (own - old[2]) * 1000 / answers,
                (cumulative - old[3]) * 1000 / answers,
            )
    return result


# What each part of an answer is, by the functions that do it (file ends with, function name).
PARTS = {
    "chat page: the request's hop (session, user, rate limit, conversation)": [("chat/views.py", "_asking")],
    "/v1: the request's hop (key, throttles, body, model)": [("api/async_views.py", "_handle")],
    "CSRF check": [("django/middleware/csrf.py", "process_view")],
    "turn recorded (conversation, question and answer rows)": [("chat/recording.py", "start_turn")],
    "retrieval (search, passages' rows)": [("knowledge/retrieval.py", "retrieve_passages")],
    "  of which the question's embedding": [("knowledge/embedding.py", "embed_queries")],
    "upstream request opened": [("chat/openai_compatible.py", "_opened_stream")],
    "answer saved": [("chat/recording.py", "save_answer")],
    "question audited": [("chat/question_log.py", "record_question")],
    "done event (citations, Markdown rendered)": [("chat/answering.py", "done_payload")],
    "database connections opened and closed (one per hop)": [
        ("django/db/backends/base/base.py", "connect"),
        ("django/db/backends/base/base.py", "close"),
    ],
    "upstream stream read and cut into events": [("chat/openai_compatible.py", "_server_sent_events")],
    "JSON of upstream chunks": [("json/__init__.py", "loads")],
    "answer screened (content policy)": [("policy/streams.py", "read")],
    "chat page: events out (sse)": [("chat/streaming.py", "sse")],
    "/v1: chunks out": [("api/openai_format.py", "sse_data")],
    "uvicorn's writes": [("uvicorn/protocols/http/httptools_impl.py", "send")],
}


def _parts(stats: dict) -> dict:
    parts = {}
    for name, functions in PARTS.items():
        total = sum(
            cumulative
            for (filename, _line, function), (_calls, _own, cumulative) in stats.items()
            if any(filename.endswith(suffix) and function == wanted for suffix, wanted in functions)
        )
        parts[name] = round(total, 2)
    return parts


def _top(stats: dict, count: int = 25) -> list[str]:
    ranked = sorted(stats.items(), key=lambda item: -item[1][1])[:count]
    return [
        f"{own:7.2f} ms own {cumulative:8.2f} ms cum {calls:8.1f} calls  "
        f"{filename.split('site-packages/')[-1].replace(str(ROOT) + '/', '')}:{line} {function}"
        for (filename, line, function), (calls, own, cumulative) in ranked
    ]


def profiled(load: "Load", web: WebCPU, server, prefix: str, args, short: dict, full: dict) -> dict:
    """One-token answers, then whole ones, at the lowest rate, with a snapshot of the profile around each."""
    rate = args.rates[0]
    first = _snapshot(server, f"{prefix}.0")
    start_point = point(load, web, rate, args.split_seconds, short, seed=998)
    middle = _snapshot(server, f"{prefix}.1")
    full_point = point(load, web, rate, args.seconds, full, seed=997)
    last = _snapshot(server, f"{prefix}.2")
    start = _per_answer(middle, first, start_point["answers"])
    whole = _per_answer(last, middle, full_point["answers"])
    relay = {
        function: (
            calls - start.get(function, (0, 0, 0))[0],
            own - start.get(function, (0, 0, 0))[1],
            cumulative - start.get(function, (0, 0, 0))[2],
        )
        for function, (calls, own, cumulative) in whole.items()
    }
    own = lambda stats: round(sum(figures[1] for figures in stats.values()), 1)  # noqa: E731
    return {
        "rate": rate,
        "start_point": start_point,
        "full_point": full_point,
        "profiled_cpu_ms_per_answer": {"start": own(start), "whole": own(whole), "relay": own(relay)},
        "parts_start_ms": _parts(start),
        "parts_relay_ms": _parts(relay),
        "top_start": _top(start),
        "top_relay": _top(relay),
    }


async def _log_in_all(url: str, names: list[str]) -> list[dict[str, str]]:
    return [await log_in(url, name) for name in names]


def print_table(results: list[dict]) -> None:
    print(
        "| processes | λ /s | answers | added p50 / p95 ms (chat; /v1) | in flight mean / max "
        "| CPU ms/answer (start + relay) | errors | saved complete | load avg |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for result in results:
        for figures in result["points"]:
            added, chat, v1 = figures["added_ms"], figures["added_ms_chat"], figures["added_ms_v1"]
            split = (
                f" ({figures['cpu_ms_start']} + {figures['cpu_ms_relay']})"
                if "cpu_ms_start" in figures
                else ""
            )
            print(
                f"| {result['workers']} | {figures['rate']} | {figures['answers']} "
                f"| {added['p50']} / {added['p95']} ({chat['p95']}; {v1['p95']}) "
                f"| {figures['in_flight']['mean']} / {figures['in_flight']['max']} "
                f"| {figures['cpu_ms_per_answer']}{split} | {figures['errors']} "
                f"| {figures['saved_complete']} / {figures['answers']} "
                f"| {figures['load_average'][0]}–{figures['load_average'][1]} |"
            )


def print_bursts(bursts: list[dict]) -> None:
    print(
        "| streams | endpoint | upstream alone p95 | through the app p95 | over the upstream (p95) "
        "| added per stream p50 / p95 | errors | saved complete | app CPU | load avg |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for figures in bursts:
        print(
            f"| {figures['streams']} | {figures['endpoint']} "
            f"| {figures['upstream_alone_first_token_ms']['p95']} ms "
            f"| {figures['app_first_token_ms']['p95']} ms | +{figures['over_upstream_p95_ms']} ms "
            f"| {figures['added_ms']['p50']} / {figures['added_ms']['p95']} ms | {figures['errors']} "
            f"| {figures['saved_complete']} / {figures['streams']} | {figures['cpu_s']} s "
            f"| {figures['load_average']} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--workers", type=int, action="append", help="web processes (repeatable; default 1 and 2)"
    )
    parser.add_argument(
        "--rates", type=lambda text: [float(x) for x in text.split(",")], default=[1, 2, 5, 10, 15, 25]
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--split",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="measure the start's CPU with one-token answers first (default)",
    )
    parser.add_argument("--split-seconds", type=float, default=30.0)
    parser.add_argument("--reasoning-tokens", type=int, default=200)
    parser.add_argument("--answer-tokens", type=int, default=300)
    parser.add_argument("--tokens-per-second", type=float, default=30.0)
    parser.add_argument("--abstracts", type=int, default=2000)
    parser.add_argument("--users", type=int, default=50, help="chat users, and as many API users")
    parser.add_argument(
        "--server-env",
        type=lambda text: tuple(text.split("=", 1)),
        action="append",
        default=[],
        metavar="NAME=VALUE",
    )
    parser.add_argument("--data-dir", type=Path, help="kept: the prepared data is reused by later runs")
    parser.add_argument("--database-url", help="default: SQLite in the data folder")
    parser.add_argument(
        "--profile",
        metavar="PREFIX",
        help="one profiled process: one-token answers then whole ones at the first rate, "
        "with cProfile snapshots PREFIX.0-2; prints where the CPU goes",
    )
    parser.add_argument(
        "--burst",
        type=lambda text: [int(x) for x in text.split(",")],
        help="instead: N questions at the same instant through each endpoint, e.g. 10,50,100,200",
    )
    parser.add_argument("--prepare-only", action="store_true", help="prepare the data folder and stop")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    machine = describe()
    data_dir = args.data_dir or Path(f"/tmp/kbchat-open-loop-{os.getpid()}")
    data_dir.mkdir(parents=True, exist_ok=True)
    database_url = args.database_url or f"sqlite:///{data_dir / 'db.sqlite3'}"
    if urlsplit(database_url).scheme.startswith("postgres") and not (data_dir / "open_loop.json").exists():
        postgres_database(database_url, create=True)
    setup_django(data_dir, database_url)
    prepared = prepare(data_dir, args.abstracts, args.users)
    print(f"Knowledge base: {prepared['chunks']} chunks", file=sys.stderr)
    if args.prepare_only:
        return
    if args.profile:
        profile = run_workers(args, data_dir, prepared, 1, profile=str(Path(args.profile).resolve()))
        print(json.dumps(profile, ensure_ascii=False, indent=1))
        return
    if args.burst:
        bursts = run_workers(args, data_dir, prepared, 1)
        print_bursts(bursts["bursts"])
        if args.json:
            print(json.dumps({"machine": machine, "bursts": bursts}, ensure_ascii=False))
        return
    results = [run_workers(args, data_dir, prepared, workers) for workers in args.workers or [1, 2]]
    result = {
        "machine": machine,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "database": "postgresql" if urlsplit(database_url).scheme.startswith("postgres") else "sqlite",
        "chunks": prepared["chunks"],
        "abstracts": prepared["abstracts"],
        "results": results,
        "load_average_end": os.getloadavg(),
    }
    print_table(results)
    for item in results:
        print(
            f"{item['workers']} process(es): highest λ within +{BUDGET_MS:g} ms p95: "
            f"{item['highest_rate_within_budget']}"
        )
    if args.json:
        print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
