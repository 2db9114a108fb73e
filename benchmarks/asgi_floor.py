"""How fast one uvicorn process can answer many event-stream requests that arrive at once, when the
view does nothing: the floor under benchmarks/concurrent_chat.py's time to first event.

Serves benchmarks/floor_app.py (Django, no middleware, no database, one event per request) on the
first CPU, as concurrent_chat.py serves the app, and opens --streams connections at once from the
other CPU, --rounds times. Reports the time to the first event (p50/p95/max) and the server's CPU
time per request.

    .venv/bin/python benchmarks/asgi_floor.py [--streams 500] [--rounds 3] [--json]
"""

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from machine import describe
from process_stats import cpu_seconds

HERE = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _first_event(port: int, started: float) -> float:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: floor\r\n\r\n")
    await reader.readuntil(b"event: meta")
    elapsed = time.perf_counter() - started
    writer.close()
    return elapsed


async def _round(port: int, streams: int) -> dict:
    started = time.perf_counter()
    times = sorted(await asyncio.gather(*(_first_event(port, started) for _ in range(streams))))
    return {
        "p50_ms": round(times[len(times) // 2] * 1000, 1),
        "p95_ms": round(times[int(len(times) * 0.95)] * 1000, 1),
        "max_ms": round(times[-1] * 1000, 1),
    }


def _serve(port: int, cpu: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "uvicorn", "floor_app:application", "--port", str(port)]
    command += ["--no-access-log", "--log-level", "warning"]
    server = subprocess.Popen(command, cwd=HERE)
    os.sched_setaffinity(server.pid, {cpu})
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the floor app did not start") from None
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()

    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, client_cpus = cpus[0], set(cpus[1:]) or {cpus[0]}
    machine = describe()
    port = _free_port()
    server = _serve(port, server_cpu)
    os.sched_setaffinity(0, client_cpus)
    try:
        asyncio.run(_round(port, 10))  # warm-up
        cpu_before = cpu_seconds(server.pid)
        rounds = [asyncio.run(_round(port, args.streams)) for _ in range(args.rounds)]
        cpu_ms = (cpu_seconds(server.pid) - cpu_before) * 1000 / (args.streams * args.rounds)
    finally:
        server.terminate()
        server.wait(10)
    result = {
        "machine": machine,
        "streams": args.streams,
        "rounds": rounds,
        "server_cpu_ms_per_request": round(cpu_ms, 2),
    }
    print(f"{args.streams} requests at once to one uvicorn process (Django, no middleware, no database):")
    for number, figures in enumerate(rounds, start=1):
        print(
            f"  round {number}: first event p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, "
            f"max {figures['max_ms']} ms"
        )
    print(f"  server CPU per request: {result['server_cpu_ms_per_request']} ms")
    print(f"  machine: {machine}")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
