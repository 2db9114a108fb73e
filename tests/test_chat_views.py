import pytest
from django.core.cache import cache
from django.urls import reverse

from chat.models import Conversation, Message
from tests.settings import SHARED_CACHE
from tests.sse import ask_on_chat_page, sse_events

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sync_orm_in_async")]


def test_it_requires_login(client):
    response = client.get(reverse("chat:home"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.post(reverse("chat:ask"), {"question": "hi"}).status_code == 401


def test_it_offers_only_readable_knowledge_bases(client, outsider, kb):
    client.force_login(outsider)
    page = client.get(reverse("chat:home")).content.decode()
    assert "Guide" not in page


def test_it_shows_the_chat_page_to_a_reader(client, user, kb):
    client.force_login(user)
    response = client.get(reverse("chat:home"))
    assert response.status_code == 200
    assert "Guide" in response.content.decode()


@pytest.mark.anyio
async def test_it_streams_an_answer_as_server_sent_events(async_client, user, kb, guide):
    await async_client.aforce_login(user)
    response = await async_client.post(
        reverse("chat:ask"), {"question": "DeepSeek-V3 有多少参数？", "knowledge_base": kb.id}
    )
    assert response["Content-Type"].startswith("text/event-stream")
    events = await sse_events(response)
    assert [name for name, _ in events] == ["meta", "searching", "passages", "content", "done"]
    assert "6710亿" in events[-1][1]["html"]


def test_it_refuses_a_knowledge_base_the_user_may_not_read(client, outsider, kb):
    client.force_login(outsider)
    response = client.post(reverse("chat:ask"), {"question": "hi", "knowledge_base": kb.id})
    assert response.status_code == 404


def test_it_keeps_conversations_private(client, user, outsider, kb):
    conversation = Conversation.objects.create(user=user, title="Alice's secret")
    Message.objects.create(conversation=conversation, role="user", content="salary question")
    client.force_login(outsider)
    assert client.get(conversation.get_absolute_url()).status_code == 404
    response = client.post(reverse("chat:ask"), {"question": "hi", "conversation": conversation.id})
    assert response.status_code == 404
    assert "Alice's secret" not in client.get(reverse("chat:home")).content.decode()


@pytest.mark.anyio
async def test_it_shows_an_earlier_answer_with_its_sources(async_client, user, kb, guide):
    await async_client.aforce_login(user)
    events = await ask_on_chat_page(async_client, question="DeepSeek-V3 有多少参数？", knowledge_base=kb.id)
    meta = events[0][1]
    page = (await async_client.get(meta["conversation_url"])).content.decode()
    assert "DeepSeek-V3 有多少参数？" in page and "6710亿（671B）" in page


def test_it_rejects_an_empty_question(client, user, kb):
    client.force_login(user)
    assert client.post(reverse("chat:ask"), {"question": "  ", "knowledge_base": kb.id}).status_code == 400


def test_it_lets_readers_download_the_document_and_no_one_else(client, user, outsider, guide):
    url = reverse("knowledge:download", args=[guide.id])
    client.force_login(user)
    assert client.get(url).status_code == 200
    client.force_login(outsider)
    assert client.get(url).status_code == 404


def test_only_the_owner_can_stop_an_answer(client, user, outsider, kb, settings):
    # Not streaming in this process: the request goes through the cache shared by the web processes.
    settings.CACHES = {"default": SHARED_CACHE}
    conversation = Conversation.objects.create(user=user)
    answer = Message.objects.create(
        conversation=conversation, role=Message.Role.ASSISTANT, status=Message.Status.STREAMING
    )
    url = reverse("chat:stop", args=[answer.id])
    client.force_login(outsider)
    assert client.post(url).status_code == 404
    assert cache.get(f"chat:stop:{answer.id}") is None
    client.force_login(user)
    assert client.post(url).json() == {"status": "streaming", "stopping": True}
    assert cache.get(f"chat:stop:{answer.id}") is True
    cache.delete(f"chat:stop:{answer.id}")
    assert client.get(url).status_code == 405


@pytest.mark.anyio
async def test_the_user_picks_the_model_of_a_conversation(async_client, user, kb, guide, two_models):
    await async_client.aforce_login(user)
    page = (await async_client.get(reverse("chat:home"))).content.decode()
    assert '<select name="model">' in page and ">DeepSeek-V3</option>" in page
    events = await ask_on_chat_page(
        async_client, question="DeepSeek-V3 有多少参数？", knowledge_base=kb.id, model="DeepSeek-V3"
    )
    assert events[0][1]["model"] == "deepseek-chat"
    assert two_models.requests[-1]["model"] == "deepseek-chat"
    conversation = await Conversation.objects.aget()
    assert conversation.model == "DeepSeek-V3"
    page = (await async_client.get(conversation.get_absolute_url())).content.decode()
    assert '<option value="DeepSeek-V3" selected>' in page


def test_an_unknown_model_is_refused(client, user, kb, two_models):
    client.force_login(user)
    response = client.post(reverse("chat:ask"), {"question": "hi", "knowledge_base": kb.id, "model": "GPT-9"})
    assert response.status_code == 404
