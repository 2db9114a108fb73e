"""Per-user limits: one answer budget for the chat page and the API, previews a budget of their own,
and counts that hold when requests arrive together."""

import threading

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.urls import reverse

from chat import rate_limits
from chat.models import Conversation, Message
from tests.api_fixtures import ApiClient, key_for
from tests.settings import SHARED_CACHE
from tests.sse import ask_on_chat_page

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("api_test")]
LIMIT_MESSAGE = "You have reached your limit of answers for now. You can ask again in"


@pytest.fixture
def conversation(user, kb) -> Conversation:
    started = Conversation.objects.create(user=user, title="Leave")
    started.knowledge_bases.set([kb])
    return started


def rest_ask(api: ApiClient, conversation: Conversation):
    return api.post(f"/api/v1/conversations/{conversation.id}/ask/", {"question": "How much leave?"})


def completion(api: ApiClient):
    messages = [{"role": "user", "content": "How much leave?"}]
    return api.post("/v1/chat/completions", {"model": "kb:guide", "messages": messages})


def assert_refused_for(response) -> None:
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60


def test_answers_through_the_api_use_up_the_chat_pages_budget(settings, client, user, other, conversation):
    settings.ANSWER_RATE_PER_USER = "2/min"
    Message.objects.create(conversation=conversation, role=Message.Role.USER, content="How much leave?")
    Message.objects.create(conversation=conversation, role=Message.Role.ASSISTANT, content="25 days.")
    api = ApiClient(key_for(user))
    assert rest_ask(api, conversation).status_code == 200
    assert completion(api).status_code == 200
    client.force_login(user)
    asked = client.post(reverse("chat:ask"), {"question": "Leave?", "conversation": conversation.id})
    assert_refused_for(asked)
    assert asked.json()["error"].startswith(LIMIT_MESSAGE)
    assert_refused_for(client.post(reverse("chat:resend", args=[conversation.id])))
    assert conversation.messages.count() == 4  # refused before the last answer was replaced
    assert_refused_for(rest_ask(api, conversation))
    assert completion(api).json()["error"]["type"] == "rate_limit_error"
    assert completion(ApiClient(key_for(other))).status_code == 200  # a budget per user


@pytest.mark.anyio
async def test_answers_on_the_chat_page_use_up_the_apis_budget(settings, async_client, user, conversation):
    settings.ANSWER_RATE_PER_USER = "2/min"
    await async_client.aforce_login(user)
    for question in ("How much leave?", "And sick days?"):
        events = await ask_on_chat_page(async_client, question=question, conversation=conversation.id)
        assert events[-1][0] == "done"
    refused = await async_client.post(reverse("chat:ask"), {"question": "Parental leave?"})
    assert_refused_for(refused)
    api = ApiClient(await sync_to_async(key_for)(user))
    assert_refused_for(await sync_to_async(rest_ask)(api, conversation))
    assert await Conversation.objects.acount() == 1


def test_previews_have_a_budget_of_their_own(settings, client, user, conversation):
    settings.PREVIEW_RATE_PER_USER = "2/min"
    client.force_login(user)
    previews = [client.post(reverse("chat:preview"), {"text": "**bold**"}) for _ in range(3)]
    assert [response.status_code for response in previews] == [200, 200, 429]
    assert_refused_for(previews[-1])
    assert rest_ask(ApiClient(key_for(user)), conversation).status_code == 200


@pytest.mark.parametrize("counted_in", ["sqlite", "redis"])
def test_requests_arriving_together_do_not_slip_past_a_limit(settings, user, counted_in):
    # Each thread is a client of its own: of Redis, as with CACHE_URL set, or of the SQLite file the
    # web processes of one machine share (the default; a connection per thread, as per process).
    if counted_in == "redis":
        settings.CACHES = {"default": SHARED_CACHE}
        settings.RATE_LIMITS_STORAGE = SHARED_CACHE["LOCATION"]
        rate_limits._limiter(settings.RATE_LIMITS_STORAGE).storage.reset()  # user ids recur across runs
    assert settings.RATE_LIMITS_STORAGE.startswith(counted_in)
    settings.API_RATE_PER_USER = "10/min"
    secret = key_for(user)
    start = threading.Barrier(6)
    statuses: list[int] = []

    def send() -> None:
        api = ApiClient(secret)
        start.wait()
        statuses.extend(api.get("/v1/models").status_code for _ in range(10))
        connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 10 + [429] * 50
