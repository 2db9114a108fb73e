"""FAQ pairs in the admin: scoped to the knowledge bases a manager manages, audited, and saved from
thumbs-up answers."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from audit.models import Event
from chat.models import Message
from faq.models import FaqPair
from tests.conftest import signed_in
from tests.faq_fixtures import LEAVE_EN, VPN_EN

LIST_URL = reverse("admin:faq_faqpair_changelist")
ADD_URL = reverse("admin:faq_faqpair_add")


def change_url(pair: FaqPair) -> str:
    return reverse("admin:faq_faqpair_change", args=[pair.id])


@pytest.fixture
def rated(exchange, kb) -> Message:
    """Alice's answer over `kb`, rated good, citing a passage."""
    exchange.knowledge_bases.set([kb])
    answer = exchange.messages.get(role="assistant")
    answer.content, answer.rating = "25 days [1], more after ten years [2].", "up"
    answer.save()
    return answer


def test_it_lists_the_pairs_of_managed_knowledge_bases(kb, faq, manager, other_manager):
    assert LEAVE_EN in signed_in(manager).get(LIST_URL).content.decode()
    assert LEAVE_EN not in signed_in(other_manager).get(LIST_URL).content.decode()
    assert signed_in(other_manager).get(change_url(faq[LEAVE_EN])).status_code == 302  # "not found"


def test_a_reader_cannot_see_the_pairs(kb, faq, user):
    user.is_staff = True
    user.save()
    assert signed_in(user).get(LIST_URL).status_code == 403


def test_editing_a_pair_saves_its_alternatives_and_is_audited(kb, faq, manager):
    pair = faq[VPN_EN]
    form = {
        "knowledge_base": kb.id,
        "question": VPN_EN,
        "answer": "Ask the IT desk.",
        "alternatives": "I forgot my VPN password\nVPN login fails | VPN login fails",
    }
    response = signed_in(manager).post(change_url(pair), form)
    assert response.status_code == 302
    pair.refresh_from_db()
    assert pair.answer == "Ask the IT desk."
    assert pair.alternatives == ["I forgot my VPN password", "VPN login fails"]
    assert Event.objects.filter(kind="faq", target=f"faq_pair:{pair.id}", detail__action="changed").exists()


def test_a_pair_in_another_knowledge_base_cannot_be_added(kb, other_kb, manager):
    form = {"knowledge_base": other_kb.id, "question": "Q?", "answer": "A.", "alternatives": ""}
    response = signed_in(manager).post(ADD_URL, form)
    assert response.status_code == 200 and not FaqPair.objects.exists()


def test_deleting_a_pair_is_audited(kb, faq, manager):
    pair = faq[VPN_EN]
    url = reverse("admin:faq_faqpair_delete", args=[pair.id])
    assert signed_in(manager).post(url, {"post": "yes"}).status_code == 302
    assert not FaqPair.objects.filter(id=pair.id).exists()
    assert Event.objects.filter(kind="faq", target=f"faq_pair:{pair.id}", detail__action="deleted").exists()


def test_the_add_form_is_filled_from_a_thumbs_up_answer_without_citation_markers(kb, rated, manager):
    page = signed_in(manager).get(f"{ADD_URL}?from_message={rated.id}").content.decode()
    assert "How much leave?" in page and "25 days, more after ten years." in page
    form = {"knowledge_base": kb.id, "question": "How much leave?", "answer": "25 days.", "alternatives": ""}
    signed_in(manager).post(f"{ADD_URL}?from_message={rated.id}", form)
    pair = FaqPair.objects.get()
    assert (pair.from_message, pair.created_by, pair.answer) == (rated, manager, "25 days.")


def test_the_add_form_is_not_filled_from_an_answer_of_a_knowledge_base_not_managed(kb, rated, other_manager):
    page = signed_in(other_manager).get(f"{ADD_URL}?from_message={rated.id}").content.decode()
    assert "How much leave?" not in page


def test_the_feedback_action_saves_thumbs_up_answers(kb, rated, manager):
    manager.user_permissions.add(*_feedback_permission())
    url = reverse("admin:chat_feedback_changelist")
    response = signed_in(manager).post(
        url, {"action": "save_to_faq", "_selected_action": [rated.id]}, follow=True
    )
    assert "1 answer saved to the FAQ" in response.content.decode()
    pair = FaqPair.objects.get()
    assert (pair.question, pair.answer) == ("How much leave?", "25 days, more after ten years.")
    assert pair.knowledge_base == kb


def test_the_feedback_action_skips_answers_not_rated_good(kb, rated, manager):
    manager.user_permissions.add(*_feedback_permission())
    rated.rating = "down"
    rated.save()
    url = reverse("admin:chat_feedback_changelist")
    form = {"action": "save_to_faq", "_selected_action": [rated.id]}
    response = signed_in(manager).post(url, form, follow=True)
    assert "1 answer skipped" in response.content.decode() and not FaqPair.objects.exists()


def _feedback_permission():
    return Permission.objects.filter(content_type__app_label="chat", codename="view_feedback")


def test_the_knowledge_base_list_counts_its_pairs_as_knowledge(kb, faq, manager):
    page = signed_in(manager).get(reverse("admin:knowledge_knowledgebase_changelist")).content.decode()
    assert f'<a class="kb-faq" href="{LIST_URL}?knowledge_base__id__exact={kb.id}">3</a>' in page
