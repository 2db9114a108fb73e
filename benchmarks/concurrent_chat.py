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
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from chat_database import check_saved, postgres_database, prepare, setup_django
from chat_load import CHUNK_CHARS, Stream, Upstream, all_at_once, ask, ask_upstream, log_in, run_event_loop
from chat_report import goal, print_report, server_log, stream_figures
from machine import describe
from process_stats import Sampler, child_pid

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


def upstream_alone(upstream: Upstream, questions: list[str], paced: dict) -> dict:
    """The baseline: the same streams straight to the upstream, all at once."""

    async def run():
        upstream.script(reasoning="Warm-up.", content="Ready.", delay=0)
        await ask_upstream(upstream.base_url, questions[0])
        upstream.script(**paced)
        sampler = Sampler({"upstream": upstream.process.pid, "client": os.getpid()})
        return await all_at_once(
            len(questions), lambda n: ask_upstream(upstream.base_url, questions[n]), sampler
        )

    streams, wall_s, processes = run_event_loop(run())
    return {**stream_figures(streams, wall_s), "processes": processes}


def through_app(
    url: str, upstream: Upstream, usernames: list[str], questions: list[str], kb_id: int | None, paced: dict
) -> tuple[list[Stream], float, dict]:
    """Log the users in, ask one warm-up question, then start every stream at once."""
    pids = {"server": child_pid("uvicorn"), "upstream": upstream.process.pid, "client": os.getpid()}

    async def run():
        logins = await asyncio.gather(*(log_in(url, name) for name in usernames))
        # Loads and probes the embedder, opens the pools: the first question of a fresh process.
        upstream.script(reasoning="Warm-up.", content="Ready.", delay=0)
        warm = await ask(url, logins[0], questions[0], kb_id)
        if warm.status != "complete":
            raise SystemExit(f"The warm-up question failed: {warm.error}")
        upstream.script(**paced)
        print(f"Through the app: {len(questions)} streams", file=sys.stderr)
        return await all_at_once(
            len(questions), lambda n: ask(url, logins[n % len(logins)], questions[n], kb_id), Sampler(pids)
        )

    return run_event_loop(run())


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
        "app": stream_figures(streams, wall_s),
        "saved": check_saved(streams, reasoning, answer),
        "processes": processes,
        "server_log": server_log(data_dir / "server.log"),
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
        postgres_database(database_url, create=True)
    try:
        setup_django(data_dir, database_url)
        figures = benchmark(args, data_dir)
    finally:
        if postgres and not args.keep:
            from django.db import connections

            connections.close_all()
            postgres_database(database_url, create=False)
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
    result["goal"] = goal(result)
    result["total_s"] = round(time.perf_counter() - started)
    result["load_average_end"] = os.getloadavg()[0]
    result["data_dir"] = str(data_dir) if args.keep else None
    print_report(result)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
