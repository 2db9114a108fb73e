"""A web server told to stop (SIGTERM) refuses new connections at once, lets the answers it streams
finish for SHUTDOWN_GRACE_SECONDS, stops those still streaming then as a user's stop does (saved with
what had arrived, marked stopped), and exits 0. Answers whose browser went away before the signal
are waited for the same way. Against the real server, as `serve` runs it."""

import asyncio
import signal
import subprocess
import sys

import aiohttp
import openai
import pytest
from django.conf import settings as django_settings

from chat.models import Message
from chatsite.web_server import shutdown_seconds
from tests.api_fixtures import key_for
from tests.conftest import PRODUCTS, ingest_texts
from tests.live_chat import ask, browser_cookies
from tests.processes import serve_web_only, use_data_dir, web_server

pytestmark = pytest.mark.django_db(transaction=True)

GRACE = 8
QUESTION = "How much memory does the Atlas server need?"
SHORT = "The Atlas server needs 64 GB of memory."  # about 2 s at 0.1 s per 3 characters
LONG = "The Atlas server needs memory. " * 100  # about 100 s


async def _refused(port: int) -> bool:
    """Whether a new connection to `port` is refused, asking for up to a minute."""
    for _attempt in range(600):
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except ConnectionRefusedError:
            return True
        writer.close()
        await asyncio.sleep(0.1)
    return False


async def _first_text(chunks) -> str:
    async for chunk in chunks:
        if chunk.choices and chunk.choices[0].delta.content:
            return chunk.choices[0].delta.content
    raise AssertionError("the /v1 stream ended before any text")


def test_it_finishes_short_answers_stops_long_ones_and_refuses_new_connections(fake_llm, user, kb, tmp_path):
    fake = fake_llm
    data_dir = tmp_path / "server"
    env = {
        "LLM_BASE_URL": fake.base_url,
        "LLM_API_KEY": "sk-test",
        "SECRET_KEY": django_settings.SECRET_KEY,
        "SHUTDOWN_GRACE_SECONDS": str(GRACE),
    }
    with web_server(data_dir, log=tmp_path / "server.log", workers=2, **env) as (url, server):
        use_data_dir(django_settings, data_dir)
        ingest_texts(kb, tmp_path, PRODUCTS)
        cookies = browser_cookies(user)
        secret = key_for(user)

        async def shut_down_while_streaming() -> dict:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
                fake.script(reasoning="Passage [1].", content=LONG, delay=0.1)
                long = await ask(session, url, cookies, kb.id, QUESTION)
                await long.until("content")
                # Its browser goes away: the answer runs on without a client.
                gone_long = await ask(session, url, cookies, kb.id, QUESTION)
                await gone_long.until("content")
                gone_long.response.close()
                client = openai.AsyncOpenAI(api_key=secret, base_url=f"{url}/v1", max_retries=0, timeout=300)
                messages = [{"role": "user", "content": QUESTION}]
                chunks = await client.chat.completions.create(
                    model="kb:guide", messages=messages, stream=True
                )
                v1_text = await _first_text(chunks)
                fake.script(reasoning="Passage [1].", content=SHORT, delay=0.1)
                short = await ask(session, url, cookies, kb.id, QUESTION)
                await short.until("reasoning")
                gone_short = await ask(session, url, cookies, kb.id, QUESTION)
                await gone_short.until("reasoning")
                gone_short.response.close()
                server.send_signal(signal.SIGTERM)
                refused = await _refused(int(url.rpartition(":")[2]))
                async for chunk in chunks:
                    if chunk.choices:
                        v1_text += chunk.choices[0].delta.content or ""
                        v1_finish = chunk.choices[0].finish_reason
                return {
                    "refused": refused,
                    "short": (await short.until("done"))[1]["status"],
                    "short_text": short.text(),
                    "short_id": short.message_id,
                    "long": (await long.until("done"))[1]["status"],
                    "long_text": long.text(),
                    "long_id": long.message_id,
                    "v1_text": v1_text,
                    "v1_finish": v1_finish,
                    "gone_ids": (gone_short.message_id, gone_long.message_id),
                }

        seen = asyncio.run(shut_down_while_streaming())
        assert server.wait(timeout=shutdown_seconds(GRACE) + 30) == 0
    assert seen["refused"]
    assert (seen["short"], seen["short_text"]) == (Message.Status.COMPLETE, SHORT)
    assert seen["long"] == Message.Status.STOPPED
    assert seen["long_text"] and LONG.startswith(seen["long_text"]) and seen["long_text"] != LONG
    saved_short = Message.objects.get(id=seen["short_id"])
    assert (saved_short.status, saved_short.content) == (Message.Status.COMPLETE, SHORT)
    saved_long = Message.objects.get(id=seen["long_id"])
    assert (saved_long.status, saved_long.content) == (Message.Status.STOPPED, seen["long_text"])
    # Without a client, the short answer was finished and the long one stopped at the grace period's
    # end, each saved before the process exited.
    gone_short, gone_long = (Message.objects.get(id=number) for number in seen["gone_ids"])
    assert (gone_short.status, gone_short.content) == (Message.Status.COMPLETE, SHORT)
    assert gone_long.status == Message.Status.STOPPED
    assert gone_long.content and LONG.startswith(gone_long.content) and gone_long.content != LONG
    # The /v1 stream ended as a finished one does, with what had arrived.
    assert seen["v1_finish"] == "stop"
    assert seen["v1_text"] and LONG.startswith(seen["v1_text"]) and seen["v1_text"] != LONG


def test_serve_web_only_runs_no_worker_and_exits_0_on_sigterm(tmp_path):
    env = {"SHUTDOWN_GRACE_SECONDS": str(GRACE)}
    with serve_web_only(tmp_path / "data", log=tmp_path / "serve.log", **env) as (url, serve):
        ps = ["ps", "-ww", "-o", "args=", "--ppid", str(serve.pid)]
        children = subprocess.run(ps, capture_output=True, text=True, check=True).stdout.splitlines()
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=shutdown_seconds(GRACE) + 30) == 0
    port = url.rpartition(":")[2]
    assert children == [f"{sys.executable} -m chatsite.web_server --host 127.0.0.1 --port {port} --workers 1"]
