"""Versions of an answer: regenerating adds one and keeps the others (with their feedback), the
user picks the one shown, and the conversation goes on from it."""

import pytest
from django.test import Client
from django.urls import reverse

from chat.models import Conversation, Message
from tests.conftest import signed_in
from tests.sse import ask_on_chat_page, sse_events

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sync_orm_in_async")]


def answers(conversation_id: int) -> list[Message]:
    return list(Message.objects.filter(conversation_id=conversation_id, role=Message.Role.ASSISTANT))


def sent_to_model(llm) -> str:
    return "\n".join(m["content"] for m in llm.requests[-1]["messages"])


async def asked_twice(async_client, user, kb, llm) -> int:
    """A question answered "First: 671B", then regenerated as "Second: 671B"; its conversation's id."""
    await async_client.aforce_login(user)
    llm.script(reasoning="One.", content="First: 671B [1].")
    first = await ask_on_chat_page(async_client, question="DeepSeek-V3 有多少参数？", knowledge_base=kb.id)
    conversation_id = first[0][1]["conversation_id"]
    llm.script(reasoning="Two.", content="Second: 671B [1].")
    await sse_events(await async_client.post(reverse("chat:resend", args=[conversation_id])))
    return conversation_id


@pytest.mark.anyio
async def test_regenerate_keeps_the_rated_answer_and_its_feedback(async_client, user, kb, guide, llm):
    await async_client.aforce_login(user)
    llm.script(reasoning="One.", content="DeepSeek-V3 has 7B parameters.")
    first = await ask_on_chat_page(async_client, question="DeepSeek-V3 有多少参数？", knowledge_base=kb.id)
    conversation_id, rated_id = first[0][1]["conversation_id"], first[0][1]["message_id"]
    rating = {"rating": "down", "feedback": "It is 671B."}
    await async_client.post(reverse("chat:feedback", args=[rated_id]), rating)
    llm.script(reasoning="Two.", content="DeepSeek-V3 has 671B parameters [1].")
    await sse_events(await async_client.post(reverse("chat:resend", args=[conversation_id])))

    rated, regenerated = answers(conversation_id)
    assert (rated.id, rated.rating, rated.feedback, rated.shown) == (rated_id, "down", "It is 671B.", False)
    assert (regenerated.content, regenerated.rating, regenerated.shown) == (
        "DeepSeek-V3 has 671B parameters [1].",
        "",
        True,
    )
    question = Message.objects.get(conversation_id=conversation_id, role=Message.Role.USER)
    assert rated.reply_to_id == regenerated.reply_to_id == question.id


@pytest.mark.anyio
async def test_a_regenerated_answer_is_not_sent_the_answers_it_replaces(async_client, user, kb, guide, llm):
    await asked_twice(async_client, user, kb, llm)
    sent = llm.requests[-1]["messages"]
    assert "First: 671B" not in sent_to_model(llm)
    assert [m["role"] for m in sent if m["role"] != "system"] == ["user"]


@pytest.mark.anyio
async def test_the_next_question_is_sent_with_the_version_shown(async_client, user, kb, guide, llm):
    conversation_id = await asked_twice(async_client, user, kb, llm)
    first, _second = answers(conversation_id)
    assert (await async_client.post(reverse("chat:show", args=[first.id]))).status_code == 200
    await ask_on_chat_page(async_client, question="它用什么训练？", conversation=conversation_id)
    assert "First: 671B" in sent_to_model(llm) and "Second: 671B" not in sent_to_model(llm)


@pytest.mark.anyio
async def test_without_a_choice_the_next_question_follows_the_newest_version(
    async_client, user, kb, guide, llm
):
    conversation_id = await asked_twice(async_client, user, kb, llm)
    await ask_on_chat_page(async_client, question="它用什么训练？", conversation=conversation_id)
    assert "Second: 671B" in sent_to_model(llm) and "First: 671B" not in sent_to_model(llm)


@pytest.mark.anyio
async def test_edit_and_resend_keeps_the_old_question_and_its_feedback_out_of_the_conversation(
    async_client, user, kb, guide, llm
):
    await async_client.aforce_login(user)
    first = await ask_on_chat_page(async_client, question="DeepSeek-V3 参数？", knowledge_base=kb.id)
    conversation_id, rated_id = first[0][1]["conversation_id"], first[0][1]["message_id"]
    await async_client.post(reverse("chat:feedback", args=[rated_id]), {"rating": "up"})
    url = reverse("chat:resend", args=[conversation_id])
    await sse_events(await async_client.post(url, {"question": "DeepSeek-R1 用什么训练？"}))

    kept = await Message.objects.aget(id=rated_id)
    assert (kept.rating, kept.shown) == ("up", False)
    questions = Message.objects.filter(conversation_id=conversation_id, role="user")
    asked = [(m.content, m.shown) async for m in questions]
    assert asked == [("DeepSeek-V3 参数？", False), ("DeepSeek-R1 用什么训练？", True)]
    assert "DeepSeek-V3 参数？" not in sent_to_model(llm)
    page = (await async_client.get(reverse("chat:conversation", args=[conversation_id]))).content.decode()
    assert '"bubble">DeepSeek-R1 用什么训练？<' in page and '"bubble">DeepSeek-V3 参数？<' not in page


@pytest.mark.anyio
async def test_resending_the_question_unchanged_regenerates(async_client, user, kb, guide, llm):
    await async_client.aforce_login(user)
    first = await ask_on_chat_page(async_client, question="DeepSeek-V3 参数？", knowledge_base=kb.id)
    conversation_id = first[0][1]["conversation_id"]
    url = reverse("chat:resend", args=[conversation_id])
    await sse_events(await async_client.post(url, {"question": " DeepSeek-V3 参数？ "}))
    assert await Message.objects.filter(conversation_id=conversation_id, role="user").acount() == 1
    assert len(answers(conversation_id)) == 2


@pytest.fixture
def versions(exchange) -> list[Message]:
    """Alice's exchange with a second version of its answer, shown."""
    first = exchange.messages.get(role=Message.Role.ASSISTANT)
    Message.objects.filter(id=first.id).update(shown=False)
    second = Message.objects.create(
        conversation=exchange, role=Message.Role.ASSISTANT, content="30 days.", reply_to=first.reply_to
    )
    first.refresh_from_db()
    return [first, second]


def shown(conversation: Conversation) -> list[str]:
    return [m.content for m in conversation.messages.filter(role=Message.Role.ASSISTANT, shown=True)]


def test_the_page_shows_every_version_numbered_and_hides_all_but_the_chosen_one(client, user, versions):
    client.force_login(user)
    page = client.get(versions[0].conversation.get_absolute_url()).content.decode()
    first = page.index(f'id="m-{versions[0].id}"')
    second = page.index(f'id="m-{versions[1].id}"')
    assert " hidden" in page[first : page.index(">", first)]
    assert " hidden" not in page[second : page.index(">", second)]
    assert '"version-label">1/2<' in page[first:second] and '"version-label">2/2<' in page[second:]


def test_the_owner_chooses_the_version_shown(client, user, versions, exchange):
    response = signed_in(user).post(reverse("chat:show", args=[versions[0].id]))
    assert response.status_code == 200 and response.json() == {"shown": versions[0].id}
    assert shown(exchange) == ["25 days."]
    page = signed_in(user).get(exchange.get_absolute_url()).content.decode()
    hidden_one = page.index(f'id="m-{versions[1].id}"')
    assert " hidden" in page[hidden_one : page.index(">", hidden_one)]


@pytest.mark.parametrize("who", ["other", "outsider"])
def test_no_one_else_chooses_a_version(request, who, versions, exchange):
    response = signed_in(request.getfixturevalue(who)).post(reverse("chat:show", args=[versions[0].id]))
    assert response.status_code == 404
    assert shown(exchange) == ["30 days."]


def test_choosing_a_version_needs_a_signed_in_post(versions, exchange):
    url = reverse("chat:show", args=[versions[0].id])
    assert Client().post(url).status_code == 302  # to the login page
    assert signed_in(exchange.user).get(url).status_code == 405
    assert shown(exchange) == ["30 days."]


def test_only_answers_of_questions_still_asked_are_chosen(user, versions, exchange):
    client = signed_in(user)
    question = versions[0].reply_to
    assert client.post(reverse("chat:show", args=[question.id])).status_code == 404
    assert client.post(reverse("chat:show", args=[999_999])).status_code == 404
    Message.objects.filter(id=question.id).update(shown=False)  # edited and resent
    assert client.post(reverse("chat:show", args=[versions[0].id])).status_code == 404
    assert shown(exchange) == ["30 days."]


def test_no_version_is_chosen_while_one_is_being_written(user, versions, exchange):
    Message.objects.filter(id=versions[1].id).update(status=Message.Status.STREAMING)
    response = signed_in(user).post(reverse("chat:show", args=[versions[0].id]))
    assert response.status_code == 409 and response.json()["error"]
    assert shown(exchange) == ["30 days."]


def test_regenerate_is_refused_while_a_version_is_being_written(user, versions, exchange):
    Message.objects.filter(id=versions[0].id).update(status=Message.Status.STREAMING)
    response = signed_in(user).post(reverse("chat:resend", args=[exchange.id]))
    assert response.status_code == 409
    assert exchange.messages.count() == 3


def test_the_api_lists_every_version_and_marks_the_one_shown(user, versions, exchange):
    response = signed_in(user).get(reverse("api:conversation", args=[exchange.id]))
    question = versions[0].reply_to_id
    said = [(m["role"], m["reply_to"], m["shown"]) for m in response.json()["messages"]]
    assert said == [("user", None, True), ("assistant", question, False), ("assistant", question, True)]


def test_switching_versions_is_limited_per_user(settings, user, other, versions, exchange):
    settings.VERSION_SWITCH_RATE_PER_USER = "2/min"
    client = signed_in(user)
    switches = [client.post(reverse("chat:show", args=[version.id])) for version in (*versions, versions[0])]
    assert [response.status_code for response in switches] == [200, 200, 429]
    assert 0 < int(switches[-1]["Retry-After"]) <= 60
    assert switches[-1].json()["error"].startswith("Too many switches between versions")
    assert shown(exchange) == ["30 days."]  # the refused switch changed nothing
    theirs = Conversation.objects.create(user=other)
    question = Message.objects.create(conversation=theirs, role=Message.Role.USER, content="Leave?")
    answer = Message.objects.create(
        conversation=theirs, role=Message.Role.ASSISTANT, content="25 days.", reply_to=question
    )
    assert signed_in(other).post(reverse("chat:show", args=[answer.id])).status_code == 200
