"""A paced test upstream for load benchmarks: DeepSeek's streaming wire format (tests/fake_llm.py's
payloads, byte for byte), served from one asyncio event loop instead of a thread per stream, and
recording when it sent each answer's first token.

tests/fake_llm.py sleeps in a thread per stream: fine for tests, but hundreds of paced streams cost
its process more CPU than the app's. Here every stream is a coroutine sleeping between tokens.

A request is keyed by a marker in its last message (`#q<number>`, see MARK): the benchmark puts one
in each question, and reads back when the upstream sent that request's first reasoning token
(`GET /_marks`: {marker: time.monotonic()}, the same clock as time.perf_counter on Linux, across
processes). `POST /_script` takes fake_llm.Script's options (reasoning, content, chunk_chars,
delay) for the requests that follow.

    .venv/bin/python benchmarks/paced_upstream.py [--port N]   # prints its base URL, serves until killed
"""

import argparse
import asyncio
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARK = re.compile(r"#q(\d+)")


class PacedUpstream:
    def __init__(self) -> None:
        sys.path.insert(0, str(ROOT))
        from tests import fake_llm

        self._fake_llm = fake_llm
        self.script = fake_llm.Script()
        self.first_token: dict[str, float] = {}
        self.streams = 0  # in flight

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One keep-alive connection: requests one after another, as the app's HTTP client sends them."""
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, path, _version = request_line.split(" ", 2)
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (line.partition(":") for line in header_lines if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                await self._respond(method, path.split("?")[0].rstrip("/"), body, writer)
                if headers.get("connection", "").lower() == "close":
                    return
        except ConnectionError:
            return
        finally:
            writer.close()

    async def _respond(self, method: str, path: str, body: bytes, writer: asyncio.StreamWriter) -> None:
        fake = self._fake_llm
        if method == "GET" and path == "/_marks":
            self._json(writer, self.first_token)
        elif method == "POST" and path == "/_script":
            self.script = fake.Script(**json.loads(body))
            self._json(writer, {"scripted": True})
        elif method == "GET" and path in ("/models", "/v1/models"):
            models = [{"id": name, "object": "model", "owned_by": "deepseek"} for name in fake.MODEL_IDS]
            self._json(writer, {"object": "list", "data": models})
        elif method == "POST" and path in ("/chat/completions", "/v1/chat/completions"):
            request = json.loads(body)
            if request.get("stream"):
                await self._stream(request, writer)
            else:
                self._json(writer, {"error": {"message": "only streamed answers here"}}, status=400)
        else:
            self._json(writer, {"error": {"message": "Not Found"}}, status=404)

    async def _stream(self, request: dict, writer: asyncio.StreamWriter) -> None:
        script, fake = self.script, self._fake_llm
        marks = MARK.findall(str(request["messages"][-1].get("content", "")))
        marker = marks[-1] if marks else None
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
            b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        _chunk(writer, b": keep-alive\n\n" * 2)
        self.streams += 1
        try:
            for index, payload in enumerate(fake._stream_payloads(script, request)):
                if index and script.delay:
                    await asyncio.sleep(script.delay)
                assert payload is not None  # no hang-ups scripted here
                _chunk(writer, b"data: " + fake._json_bytes(payload) + b"\n\n")
                if index == 1 and marker is not None:  # index 0 is the role chunk: 1 is the first token
                    self.first_token[marker] = time.monotonic()
                await writer.drain()
            _chunk(writer, b"data: [DONE]\n\n")
            _chunk(writer, b"")
            await writer.drain()
        finally:
            self.streams -= 1

    def _json(self, writer: asyncio.StreamWriter, body: object, status: int = 200) -> None:
        data = json.dumps(body).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n".encode()
            + data
        )


def _chunk(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(b"%x\r\n%s\r\n" % (len(data), data))


async def serve(port: int) -> None:
    upstream = PacedUpstream()
    server = await asyncio.start_server(upstream.handle, "127.0.0.1", port, backlog=2048, limit=2**20)
    print(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=0)
    port = parser.parse_args().port
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(port))
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve(port))


if __name__ == "__main__":
    main()
