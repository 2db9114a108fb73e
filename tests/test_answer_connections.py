"""No answer holds a database connection while the model streams: with a pool of a few connections,
many more answers stream at once on every path (/v1 streaming and not, the REST ask streaming and
not, the chat page), and every one of them completes."""

import asyncio
import secrets

import aiohttp
import openai
import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client

from chat.models import Conversation
from tests.api_fixtures import key_for
from tests.conftest import PRODUCTS, ingest_texts
from tests.fake_llm import _shared_fake_llm
from tests.processes import asgi_server, use_data_dir
from tests.sse import events_in

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="Only PostgreSQL has a connection pool to exhaust (DATABASE_POOL_SIZE); SQLite has none.",
    ),
]
POOL_SIZE = 4
EACH = 3  # answers at once on each path: 15 in all, against 4 connections
QUESTION = "How much memory does the Atlas server need?"
ANSWER = "The Atlas server needs 64 GB of memory."


@pytest.fixture(scope="module")
def small_pool(django_db_setup, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("small-pool")
    env = {
        "DATABASE_POOL_SIZE": str(POOL_SIZE),
        "LLM_BASE_URL": _shared_fake_llm().base_url,
        "LLM_API_KEY": "sk-test",
        "SECRET_KEY": django_settings.SECRET_KEY,  # so the server knows the test's session
    }
    with asgi_server(data_dir, log=data_dir / "server.log", **env) as url:
        yield url, data_dir


async def ask_v1(url: str, secret: str, *, stream: bool) -> str:
    client = openai.AsyncOpenAI(api_key=secret, base_url=f"{url}/v1", max_retries=0, timeout=60)
    messages = [{"role": "user", "content": QUESTION}]
    if not stream:
        response = await client.chat.completions.create(model="kb:guide", messages=messages)
        return response.choices[0].message.content or ""
    chunks = await client.chat.completions.create(model="kb:guide", messages=messages, stream=True)
    return "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])


async def ask_rest(
    session: aiohttp.ClientSession, url: str, secret: str, conversation: int, *, stream: bool
) -> str:
    ask = f"{url}/api/v1/conversations/{conversation}/ask/"
    headers = {"Authorization": f"Bearer {secret}"}
    async with session.post(ask, json={"question": QUESTION, "stream": stream}, headers=headers) as response:
        return await _answer_in(response, streamed=stream)


async def ask_chat_page(session: aiohttp.ClientSession, url: str, cookies: dict, kb_id: int) -> str:
    cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
    headers = {"X-CSRFToken": cookies["csrftoken"], "Cookie": cookie}
    form = {"question": QUESTION, "knowledge_base": str(kb_id)}
    async with session.post(f"{url}/ask/", data=form, headers=headers) as response:
        return await _answer_in(response, streamed=True)


async def _answer_in(response: aiohttp.ClientResponse, *, streamed: bool) -> str:
    """The answer's text, or what went wrong."""
    body = await response.read()
    if response.status != 200:
        return f"{response.status}: {body[:300]!r}"
    if not streamed:
        return (await response.json())["content"]
    events = events_in(body)
    if events[-1][0] != "done" or events[-1][1]["status"] != "complete":
        return f"not complete: {events[-2:]}"
    return "".join(data["text"] for name, data in events if name == "content")


def test_it_answers_more_streams_at_once_than_the_pool_has_connections(
    small_pool, settings, user, kb, tmp_path
):
    url, data_dir = small_pool
    use_data_dir(settings, data_dir)
    ingest_texts(kb, tmp_path, PRODUCTS)
    # About two seconds per answer, so that they all overlap.
    _shared_fake_llm().script(reasoning="Passage [1] gives the memory. " * 2, content=ANSWER, delay=0.05)
    keys = [key_for(user) for _ in range(4 * EACH + 1)]
    conversations = [Conversation.objects.create(user=user) for _ in range(2 * EACH)]
    for conversation in conversations:
        conversation.knowledge_bases.set([kb])
    browser = Client()
    browser.force_login(user)
    cookies = {"sessionid": browser.cookies["sessionid"].value, "csrftoken": secrets.token_hex(16)}

    async def all_at_once() -> dict[str, str | BaseException]:
        asks = {}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            for n in range(EACH):
                asks[f"/v1 stream {n}"] = ask_v1(url, keys[n], stream=True)
                asks[f"/v1 {n}"] = ask_v1(url, keys[EACH + n], stream=False)
                rest = (session, url, keys[2 * EACH + n])
                asks[f"REST stream {n}"] = ask_rest(*rest, conversations[n].id, stream=True)
                rest = (session, url, keys[3 * EACH + n])
                asks[f"REST {n}"] = ask_rest(*rest, conversations[EACH + n].id, stream=False)
                asks[f"chat page {n}"] = ask_chat_page(session, url, cookies, kb.id)
            answers = await asyncio.gather(*asks.values(), return_exceptions=True)
        return dict(zip(asks, answers, strict=True))

    # One answer first, so that the server has loaded the embedding model before they all start.
    assert asyncio.run(ask_v1(url, keys[-1], stream=False)) == ANSWER
    answers = asyncio.run(all_at_once())
    assert {path: str(answer) for path, answer in answers.items()} == {path: ANSWER for path in answers}
