"""The sidebar and message actions: rename, delete, search, date groups, feedback, regenerate, edit."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from chat import conversations
from chat.models import Conversation, Message
from knowledge.models import KnowledgeBase
from tests.sse import ask_on_chat_page, sse_events

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sync_orm_in_async")]


def answer_of(conversation: Conversation) -> Message:
    return conversation.messages.get(role=Message.Role.ASSISTANT)


def test_it_renames_a_conversation_and_goes_back(client, user, exchange):
    client.force_login(user)
    url = reverse("chat:rename", args=[exchange.id])
    response = client.post(url, {"title": "  Annual\n leave  ", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    exchange.refresh_from_db()
    assert exchange.title == "Annual leave"


def test_it_does_not_rename_to_nothing_or_redirect_off_site(client, user, exchange):
    client.force_login(user)
    response = client.post(
        reverse("chat:rename", args=[exchange.id]), {"title": " ", "next": "https://evil.example/"}
    )
    assert response["Location"] == exchange.get_absolute_url()
    exchange.refresh_from_db()
    assert exchange.title == "Leave"


def test_only_the_owner_renames_or_deletes(client, outsider, exchange):
    client.force_login(outsider)
    assert client.post(reverse("chat:rename", args=[exchange.id]), {"title": "Mine"}).status_code == 404
    assert client.post(reverse("chat:delete", args=[exchange.id])).status_code == 404
    exchange.refresh_from_db()
    assert exchange.title == "Leave"


def test_renaming_and_deleting_need_a_post(client, user, exchange):
    client.force_login(user)
    assert client.get(reverse("chat:rename", args=[exchange.id])).status_code == 405
    assert client.get(reverse("chat:delete", args=[exchange.id])).status_code == 405
    assert Conversation.objects.filter(id=exchange.id).exists()


def test_it_deletes_a_conversation_with_its_messages(client, user, exchange):
    client.force_login(user)
    response = client.post(reverse("chat:delete", args=[exchange.id]), {"next": exchange.get_absolute_url()})
    assert response["Location"] == reverse("chat:home")
    assert not Conversation.objects.filter(id=exchange.id).exists()
    assert not Message.objects.filter(conversation_id=exchange.id).exists()


def test_it_searches_titles_and_messages_of_the_users_own_conversations(client, user, outsider, exchange):
    Conversation.objects.create(user=user, title="Laptops")
    theirs = Conversation.objects.create(user=outsider, title="25 days too")
    Message.objects.create(conversation=theirs, role=Message.Role.USER, content="25 days.")
    client.force_login(user)
    by_content = client.get(reverse("chat:conversations"), {"q": "25 DAYS"}).content.decode()
    assert "Leave" in by_content and "Laptops" not in by_content and "25 days too" not in by_content
    by_title = client.get(reverse("chat:home"), {"q": "lapt"}).content.decode()
    assert "Laptops" in by_title and ">Leave<" not in by_title


def test_it_names_an_untitled_conversation(user):
    assert str(Conversation.objects.create(user=user, title="")) == "New chat"


def test_it_groups_conversations_by_date(user):
    now = timezone.now()
    for title, age in [("old", 400), ("month", 20), ("week", 3), ("yesterday", 1), ("today", 0)]:
        conversation = Conversation.objects.create(user=user, title=title)
        Conversation.objects.filter(id=conversation.id).update(updated_at=now - timedelta(days=age))
    groups = conversations.conversation_groups(conversations.conversation_search(user=user))
    labels = [group.label for group in groups]
    assert labels[:4] == ["Today", "Yesterday", "Previous 7 days", "Previous 30 days"]
    assert [[c.title for c in group.conversations] for group in groups][-1] == ["old"]
    assert str((now - timedelta(days=400)).year) in labels[-1]


def test_the_owner_rates_an_answer_with_a_comment(client, user, exchange):
    client.force_login(user)
    url = reverse("chat:feedback", args=[answer_of(exchange).id])
    response = client.post(url, {"rating": "down", "feedback": " Wrong year. "})
    assert response.json() == {"rating": "down", "feedback": "Wrong year."}
    assert (answer_of(exchange).rating, answer_of(exchange).feedback) == ("down", "Wrong year.")
    client.post(url, {"rating": ""})
    assert answer_of(exchange).rating == ""


def test_feedback_is_refused_to_others_and_to_questions(client, user, outsider, exchange):
    answer = answer_of(exchange)
    client.force_login(outsider)
    assert client.post(reverse("chat:feedback", args=[answer.id]), {"rating": "up"}).status_code == 404
    client.force_login(user)
    question = exchange.messages.get(role=Message.Role.USER)
    assert client.post(reverse("chat:feedback", args=[question.id]), {"rating": "up"}).status_code == 404
    assert client.post(reverse("chat:feedback", args=[answer.id]), {"rating": "meh"}).status_code == 400
    assert client.get(reverse("chat:feedback", args=[answer.id])).status_code == 405
    assert answer_of(exchange).rating == ""


@pytest.mark.anyio
async def test_edit_and_resend_replaces_the_last_question(async_client, user, kb, guide, llm):
    await async_client.aforce_login(user)
    first = await ask_on_chat_page(async_client, question="DeepSeek-V3 参数？", knowledge_base=kb.id)
    conversation_id = first[0][1]["conversation_id"]
    url = reverse("chat:resend", args=[conversation_id])
    await sse_events(await async_client.post(url, {"question": "DeepSeek-R1 用什么训练？"}))
    questions = [
        m.content
        async for m in Message.objects.filter(conversation_id=conversation_id, role="user", shown=True)
    ]
    assert questions == ["DeepSeek-R1 用什么训练？"]
    assert "DeepSeek-R1 用什么训练？" in llm.requests[-1]["messages"][-1]["content"]


def test_resend_is_refused_to_others_and_without_a_finished_answer(client, user, outsider, exchange):
    url = reverse("chat:resend", args=[exchange.id])
    client.force_login(outsider)
    assert client.post(url).status_code == 404
    answer = answer_of(exchange)
    answer.status = Message.Status.STREAMING
    answer.save()
    client.force_login(user)
    assert client.post(url).status_code == 409
    assert client.post(url, {"question": " "}).status_code == 400
    assert exchange.messages.count() == 2


@pytest.mark.anyio
async def test_a_question_searches_every_knowledge_base_ticked(async_client, user, kb, guide):
    other = await KnowledgeBase.objects.acreate(name="Handbook", slug="handbook", is_public=True)
    await async_client.aforce_login(user)
    events = await ask_on_chat_page(
        async_client, question="DeepSeek-V3 有多少参数？", knowledge_base=[kb.id, other.id]
    )
    conversation_id = events[0][1]["conversation_id"]
    chosen = {k.name async for k in KnowledgeBase.objects.filter(conversations=conversation_id)}
    assert chosen == {"Guide", "Handbook"}


def test_one_unreadable_knowledge_base_refuses_the_question(client, user, outsider, kb):
    secret = KnowledgeBase.objects.create(name="Secret", slug="secret")
    public = KnowledgeBase.objects.create(name="Open", slug="open", is_public=True)
    client.force_login(user)
    response = client.post(reverse("chat:ask"), {"question": "hi", "knowledge_base": [public.id, secret.id]})
    assert response.status_code == 404
    assert not Conversation.objects.exists()


def test_it_previews_a_streaming_answer_as_sanitised_markdown(client, user):
    url = reverse("chat:preview")
    assert client.post(url, {"text": "# Hi"}).status_code == 302  # to the login page
    client.force_login(user)
    html = client.post(
        url, {"text": "| a |\n|---|\n| 1 |\n\n```python\nimport os<script>x()</script>"}
    ).json()["html"]
    assert "<td>1</td>" in html and '<span class="kn">import</span>' in html  # the open block is closed
    assert "<script>" not in html
    assert client.get(url).status_code == 405
