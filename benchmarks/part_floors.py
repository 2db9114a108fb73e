"""The floor of each part of an answer's CPU: what the libraries the app stands on cost for that part
with none of the app's own work, measured the way benchmarks/open_loop.py measures the app (one
uvicorn process on the first CPU, questions arriving as a Poisson process, the CPU of the server
process from /proc divided by the answers).

- **start**: the project's settings, middleware and URLs (benchmarks/floor_urls.py): a signed-in
  POST with its CSRF token, then in one hop to a pool thread the session and user read and the
  turn's three rows written, one event, the answer saved in a second hop, and a last event. No
  retrieval, rate limit, quota, audit, prompt or upstream request.
- **embedding**: one English question through the embedding model, in this process on one thread
  (as the web process runs it), per question.
- **relay**: benchmarks/floor_app.py's `/relay` (Django without middleware): the upstream's stream
  (benchmarks/paced_upstream.py, 200 reasoning + 300 answer tokens at 30 tokens/s, on the last CPU)
  read with aiohttp and written to the client untouched, read for read.

The issue's budget for one core to start 25 answers a second is about 28 ms of CPU per answer: the
start below 5 ms plus the question's embedding, and the relay of 500 tokens below 20 ms.

    .venv/bin/python benchmarks/part_floors.py --data-dir DIR [--rate 10] [--seconds 30] [--json]

DIR is a folder prepared by benchmarks/open_loop.py (`--prepare-only`): its database and users.
"""

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from chat_database import setup_django
from chat_load import CHUNK_CHARS, Stream, _exchange, _post, _timed, log_in, run_event_loop
from concurrent_chat import ANSWER, REASONING, _text
from machine import describe
from open_loop import CPUS, ROOT, WebCPU, control, english_questions, upstream_process, web_server

HERE = Path(__file__).resolve().parent


async def _arrivals(rate: float, seconds: float, one: Callable[[int], Awaitable[Stream]]) -> list[Stream]:
    """`one(n)` started at exponentially distributed moments for `seconds`, all awaited."""
    generator, started, tasks = random.Random(rate), time.perf_counter(), []
    at = generator.expovariate(rate)
    while at < seconds:
        await asyncio.sleep(max(0.0, started + at - time.perf_counter()))
        tasks.append(asyncio.create_task(one(len(tasks))))
        at += generator.expovariate(rate)
    return list(await asyncio.gather(*tasks))


def _measured(web: WebCPU, streams_of: Callable[[], list[Stream]]) -> dict:
    before = web.read()
    streams = streams_of()
    cpu_ms = (web.read() - before) * 1000
    errors = [stream.error for stream in streams if stream.error]
    return {
        "answers": len(streams),
        "cpu_ms_per_answer": round(cpu_ms / len(streams), 2),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
    }


def _frames(stream: Stream, frames: bytes, now: float) -> None:
    stream.first_event = stream.first_event or now
    stream.events += frames.count(b"\n\n")
    if b"event: done" in frames or b"data: [DONE]" in frames:
        stream.status = "complete"


def start_floor(args, data_dir: Path, prepared: dict) -> dict:
    env = {
        "DJANGO_SETTINGS_MODULE": "floor_settings",
        "PYTHONPATH": str(HERE),
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": os.environ["DATABASE_URL"],
    }
    log = data_dir / "floor-start.log"
    app = "chatsite.asgi:django_application"  # the project's app without its start-up work
    with web_server(data_dir, 1, str(CPUS[0]), env, log, app=app) as (server, url):
        headers = run_event_loop(log_in(url, prepared["chat_users"][0]))
        body = urlencode({"question": "floor"}).encode()
        request = _post(url, "/floor/start/", body, "application/x-www-form-urlencoded", headers)

        async def one(_number: int) -> Stream:
            stream = Stream()
            return await _timed(stream, _exchange(stream, url, request, _frames))

        run_event_loop(_arrivals(args.rate, 2, one))  # warm-up
        return _measured(WebCPU(server.pid), lambda: run_event_loop(_arrivals(args.rate, args.seconds, one)))


def embedding_floor(count: int) -> dict:
    import torch

    from knowledge.embedding import embed_queries, warm_up

    torch.set_num_threads(1)
    warm_up()
    questions = english_questions()[:count]
    embed_queries(questions[:5])
    started = time.process_time()
    for question in questions:
        embed_queries([question])
    return {
        "questions": len(questions),
        "cpu_ms_per_question": round((time.process_time() - started) * 1000 / len(questions), 2),
    }


def relay_floor(args, data_dir: Path) -> dict:
    paced = {
        "reasoning": _text(REASONING, args.reasoning_tokens),
        "content": _text(ANSWER, args.answer_tokens),
        "chunk_chars": CHUNK_CHARS,
        "delay": 1 / args.tokens_per_second,
    }
    os.sched_setaffinity(0, {CPUS[-1]})
    with upstream_process(CPUS[-1]) as (_upstream, upstream_url):
        control(upstream_url, "/_script", paced)
        env = {"FLOOR_UPSTREAM": upstream_url, "PYTHONPATH": str(HERE)}
        log = data_dir / "floor-relay.log"
        with web_server(data_dir, 1, str(CPUS[0]), env, log, app="floor_app:application", ready_path="/") as (
            server,
            url,
        ):
            request = (
                b"GET /relay HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                % urlsplit(url).netloc.encode()
            )

            async def one(_number: int) -> Stream:
                stream = Stream()
                return await _timed(stream, _exchange(stream, url, request, _frames))

            figures = _measured(
                WebCPU(server.pid), lambda: run_event_loop(_arrivals(args.rate, args.seconds, one))
            )
    return figures | {"tokens": args.reasoning_tokens + args.answer_tokens}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="prepared by benchmarks/open_loop.py")
    parser.add_argument("--database-url", help="default: SQLite in the data folder")
    parser.add_argument("--rate", type=float, default=10.0, help="answers arriving per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--reasoning-tokens", type=int, default=200)
    parser.add_argument("--answer-tokens", type=int, default=300)
    parser.add_argument("--tokens-per-second", type=float, default=30.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    prepared_file = args.data_dir / "open_loop.json"
    if not prepared_file.exists():
        raise SystemExit(
            f"{args.data_dir} is not prepared: run benchmarks/open_loop.py --prepare-only first."
        )
    setup_django(args.data_dir, args.database_url or f"sqlite:///{args.data_dir / 'db.sqlite3'}")
    prepared = json.loads(prepared_file.read_text())
    os.sched_setaffinity(0, {CPUS[-1]})
    result = {
        "machine": describe(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "rate": args.rate,
        "start": start_floor(args, args.data_dir, prepared),
        "relay": relay_floor(args, args.data_dir),
        "embedding": embedding_floor(100),
    }
    total = (
        result["start"]["cpu_ms_per_answer"]
        + result["embedding"]["cpu_ms_per_question"]
        + result["relay"]["cpu_ms_per_answer"]
    )
    result["floor_ms_per_answer"] = round(total, 1)
    print(f"Floors per answer at λ = {args.rate}/s, one process on one core ({result['machine']}):")
    start_ms = result["start"]["cpu_ms_per_answer"]
    print(f"  start (request, session, user, CSRF, three rows, answer saved): {start_ms} ms")
    print(f"  embedding of an English question: {result['embedding']['cpu_ms_per_question']} ms")
    print(
        f"  relay of {result['relay']['tokens']} tokens, untouched: {result['relay']['cpu_ms_per_answer']} ms"
    )
    most = 1000 / total
    print(f"  together: {result['floor_ms_per_answer']} ms, or at most {most:.0f} answers a second per core")
    for part in ("start", "relay"):
        if result[part]["errors"]:
            print(f"  {part}: {result[part]['errors']} errors, the first: {result[part]['first_error']}")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
