"""A passage's page is said in the reader's language, wherever it is shown: for citations saved
now, for those saved before citations kept their page, and on the hit-testing page."""

import pytest
from django.conf import settings
from django.urls import reverse

from chat.models import Conversation, Message
from tests.conftest import ingest, signed_in
from tests.sse import ask_on_chat_page
from tests.test_document_download import pdf_bytes

ENGLISH, CHINESE = {"HTTP_ACCEPT_LANGUAGE": "en-US"}, {"HTTP_ACCEPT_LANGUAGE": "zh-CN"}


@pytest.fixture
def handbook(kb, tmp_path):
    path = tmp_path / "handbook.pdf"
    path.write_bytes(pdf_bytes())
    return ingest(kb, path)


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
async def test_a_citation_shows_its_page_in_the_language_of_each_reader(async_client, user, kb, handbook):
    await async_client.aforce_login(user)
    async_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    events = await ask_on_chat_page(async_client, question="How many vacation days?", knowledge_base=kb.id)
    done = events[-1][1]
    assert done["citations"][0]["location"] == "第 1 页" and "第 1 页" in done["html"]

    message = await Message.objects.aget(id=done["message_id"])
    url = reverse("chat:conversation", args=[message.conversation_id])
    assert "第 1 页" in (await async_client.get(url)).content.decode()
    async_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = (await async_client.get(url)).content.decode()
    assert "p. 1" in english and "第 1 页" not in english


@pytest.mark.django_db
def test_a_citation_saved_with_an_english_location_reads_in_chinese(user, kb):
    conversation = Conversation.objects.create(user=user)
    saved = {"n": 1, "document": "Handbook", "document_id": 1, "chunk_id": 1, "text": "25 days."}
    Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        content="25 days [1][2][3].",
        mode=Message.Mode.LLM,
        citations=[
            saved | {"location": "p. 2 · Leave"},
            saved | {"n": 2, "location": "Leave"},
            saved | {"n": 3, "location": "p. 12"},
        ],
    )
    page = signed_in(user).get(conversation.get_absolute_url(), **CHINESE).content.decode()
    assert ">第 2 页 · Leave<" in page and ">Leave<" in page and ">第 12 页<" in page
    assert "p. " not in page


@pytest.mark.django_db
def test_the_hit_testing_page_shows_pages_in_the_readers_language(user, kb, handbook):
    url = reverse("knowledge:hit_testing", args=[kb.slug]) + "?q=vacation"
    client = signed_in(user)
    assert "第 1 页" in client.get(url, **CHINESE).content.decode()
    assert "p. 1" in client.get(url, **ENGLISH).content.decode()
