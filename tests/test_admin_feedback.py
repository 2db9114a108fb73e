"""The admin's read-only feedback list: a superuser sees all of it, a manager (with the permission to
view feedback) only that on conversations over knowledge bases they manage, an outsider none."""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from chat.models import Conversation, Message
from knowledge.models import KnowledgeBase
from tests.conftest import person, signed_in
from tests.test_admin import make_document

FEEDBACK = reverse("admin:chat_feedback_changelist")


def may_view_feedback(manager: User) -> Client:
    manager.user_permissions.add(Permission.objects.get(codename="view_feedback"))
    return signed_in(manager)


@pytest.fixture
def owner_admin(manager) -> Client:
    return may_view_feedback(manager)


@pytest.fixture
def other_admin(other_manager) -> Client:
    return may_view_feedback(other_manager)


def rated_answer(
    user: User, knowledge_bases: list[KnowledgeBase], question: str, comment: str, rating: str = "down"
) -> Message:
    """`user`'s question over `knowledge_bases`, and an answer citing a document of the first one."""
    conversation = Conversation.objects.create(user=user, title=question)
    conversation.knowledge_bases.set(knowledge_bases)
    asked = Message.objects.create(conversation=conversation, role=Message.Role.USER, content=question)
    document = make_document(knowledge_bases[0], f"{knowledge_bases[0].slug}.txt")
    cited = {"n": 1, "document": document.title, "document_id": document.id, "chunk_id": 1}
    return Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        reply_to=asked,
        content=f"Answer to {question} [1]",
        citations=[{**cited, "location": "p. 2", "text": f"Passage about {question}"}],
        rating=rating,
        feedback=comment,
    )


@pytest.fixture
def ours(user, kb) -> Message:
    return rated_answer(user, [kb], "How much leave?", "Wrong: it is 30 days.")


@pytest.fixture
def theirs(other_kb) -> Message:
    return rated_answer(person("sam"), [other_kb], "Secret prices?", "Great prices.", rating="up")


def listed(client: Client, query: str = "") -> list[str]:
    response = client.get(FEEDBACK + query)
    assert response.status_code == 200
    return sorted(answer.feedback for answer in response.context["cl"].result_list)


def opened(client: Client, answer: Message):
    return client.get(reverse("admin:chat_feedback_change", args=[answer.id]))


def test_it_lists_feedback_on_each_managers_knowledge_bases(
    owner_admin, other_admin, admin_client, ours, theirs
):
    Message.objects.create(conversation=ours.conversation, role=Message.Role.ASSISTANT, content="Unrated.")
    assert listed(owner_admin) == ["Wrong: it is 30 days."]
    assert listed(other_admin) == ["Great prices."]
    assert listed(admin_client) == ["Great prices.", "Wrong: it is 30 days."]


def test_it_refuses_the_feedback_list_to_an_outsider(ours):
    staff = person("mallory")
    staff.is_staff = True
    staff.save()
    outsider = signed_in(staff)
    assert outsider.get(FEEDBACK).status_code == 403
    assert opened(outsider, ours).status_code == 403


def test_a_manager_without_the_permission_sees_no_feedback(manager, ours):
    assert signed_in(manager).get(FEEDBACK).status_code == 403


def test_it_shows_the_question_answer_passages_and_comment(owner_admin, ours):
    page = opened(owner_admin, ours).content.decode()
    for shown in ["How much leave?", "Answer to How much leave? [1]", "Passage about How much leave?"]:
        assert shown in page
    assert "Wrong: it is 30 days." in page and "p. 2" in page and "alice" in page


def test_it_does_not_open_another_managers_feedback(other_admin, owner_admin, ours):
    assert opened(other_admin, ours).status_code == 302  # the admin's "does not exist"
    assert "Secret" not in owner_admin.get(FEEDBACK).content.decode()


def test_feedback_on_a_conversation_over_a_knowledge_base_not_managed_is_not_shown(
    owner_admin, user, kb, other_kb
):
    rated_answer(user, [kb, other_kb], "Both?", "Mixed.")
    assert listed(owner_admin) == []


def test_it_withholds_passages_of_knowledge_bases_not_managed(owner_admin, admin_client, ours, other_kb):
    secret = make_document(other_kb, "prices.txt")
    leaked = {"n": 2, "document": "prices.txt", "document_id": secret.id, "chunk_id": 2, "location": ""}
    ours.citations = [*ours.citations, {**leaked, "text": "Secret discount 40%"}]
    ours.save()
    assert "Secret discount" not in opened(owner_admin, ours).content.decode()
    assert "Secret discount" in opened(admin_client, ours).content.decode()


def test_it_filters_by_rating_knowledge_base_and_date(admin_client, ours, theirs, kb):
    assert listed(admin_client, "?rating=up") == ["Great prices."]
    assert listed(admin_client, f"?knowledge_base={kb.id}") == ["Wrong: it is 30 days."]
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow = today + timedelta(days=1)
    assert listed(admin_client, "?" + urlencode({"created_at__gte": tomorrow.isoformat()})) == []
    assert len(listed(admin_client, "?" + urlencode({"created_at__gte": today.isoformat()}))) == 2


def test_its_knowledge_base_filter_offers_managed_knowledge_bases_only(
    owner_admin, other_admin, ours, theirs
):
    assert "Sales price list" not in owner_admin.get(FEEDBACK).content.decode()
    assert listed(other_admin, f"?knowledge_base={ours.conversation.knowledge_bases.get().id}") == []
    assert listed(owner_admin, "?knowledge_base=not-a-number") == []


def test_feedback_is_read_only(admin_client, ours):
    assert admin_client.get(reverse("admin:chat_feedback_add")).status_code == 403
    url = reverse("admin:chat_feedback_change", args=[ours.id])
    admin_client.post(url, {"feedback": "Rewritten", "rating": "up"})
    admin_client.post(reverse("admin:chat_feedback_delete", args=[ours.id]), {"post": "yes"})
    ours.refresh_from_db()
    assert (ours.feedback, ours.rating) == ("Wrong: it is 30 days.", "down")
