"""Two web processes on one machine (same DATA_DIR, two ports) act as one site: a stop pressed on one
stops an answer streaming on the other, and a rate limit counts the uses on both. Without Redis (the
embedded defaults: a file cache and a SQLite file of rate limits under DATA_DIR) and with it."""

import asyncio
import urllib.error
import urllib.request
from contextlib import ExitStack

import aiohttp
import pytest
import redis
from django.conf import settings as django_settings

from chat.models import Message
from tests.conftest import PRODUCTS, ingest_texts
from tests.fake_llm import _shared_fake_llm
from tests.live_chat import ask, browser_cookies, stop
from tests.processes import started_together, use_data_dir, web_server

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "How much memory does the Atlas server need?"
LONG = "The Atlas server needs memory. " * 100  # about 100 s at 0.1 s per 3 characters
USAGE_PAGES_PER_MINUTE = 3


@pytest.fixture(scope="module", params=["embedded", "redis"])
def two_processes(request, django_db_setup, tmp_path_factory):
    """The base URLs of two web processes sharing one DATA_DIR, and that DATA_DIR."""
    data_dir = tmp_path_factory.mktemp(f"two-processes-{request.param}")
    cache_url = django_settings.SHARED_CACHE["LOCATION"] if request.param == "redis" else ""
    if cache_url:
        redis.Redis.from_url(cache_url).flushdb()  # user and message ids recur from one run to the next
    env = {
        "CACHE_URL": cache_url,
        "LLM_BASE_URL": _shared_fake_llm().base_url,
        "LLM_API_KEY": "sk-test",
        "SECRET_KEY": django_settings.SECRET_KEY,  # so the servers know the test's session
        "USAGE_PAGE_RATE_PER_USER": f"{USAGE_PAGES_PER_MINUTE}/min",
    }
    with ExitStack() as servers:
        started = started_together(
            servers, *(web_server(data_dir, log=data_dir / f"server-{n}.log", **env) for n in (1, 2))
        )
        yield [url for url, _process in started], data_dir


def test_it_stops_an_answer_streaming_on_the_other_process(two_processes, fake_llm, user, kb, tmp_path):
    (first, second), data_dir = two_processes
    use_data_dir(django_settings, data_dir)
    ingest_texts(kb, tmp_path, PRODUCTS)
    fake_llm.script(reasoning="Passage [1].", content=LONG, delay=0.1)
    cookies = browser_cookies(user)

    async def stop_from_the_other() -> tuple[dict, str, str]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
            answer = await ask(session, first, cookies, kb.id, QUESTION)
            await answer.until("content")
            asked = await stop(session, second, cookies, answer.message_id)
            done = await answer.until("done")
            return asked, done[1]["status"], answer.text()

    asked, status, text = asyncio.run(stop_from_the_other())
    assert asked == {"status": Message.Status.STREAMING, "stopping": True}
    assert status == Message.Status.STOPPED
    assert text and LONG.startswith(text) and text != LONG
    saved = Message.objects.get(role=Message.Role.ASSISTANT, conversation__user=user)
    assert (saved.status, saved.content) == (Message.Status.STOPPED, text)


def _status_of_account_page(url: str, cookies: dict[str, str]) -> int:
    cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
    request = urllib.request.Request(f"{url}/account/", headers={"Cookie": cookie})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_it_counts_a_rate_limit_across_both_processes(two_processes, user):
    urls, _data_dir = two_processes
    cookies = browser_cookies(user)
    statuses = [_status_of_account_page(urls[n % 2], cookies) for n in range(USAGE_PAGES_PER_MINUTE + 1)]
    assert statuses == [200] * USAGE_PAGES_PER_MINUTE + [429]
