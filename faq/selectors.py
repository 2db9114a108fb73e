"""Reading for FAQ pages: which answer a user may save as a pair, and into which knowledge base."""

from django.db.models import Q

from chat import feedback
from chat.models import Message
from knowledge import access
from knowledge.models import KnowledgeBase


def answer_to_save(*, user, message_id: int) -> Message | None:
    """A thumbs-up answer `user` may turn into a pair: one of their own conversations' answers, or one
    the admin's feedback list shows them; None otherwise. Its knowledge base must be one they manage
    (`knowledge_base_for`)."""
    answers = Message.objects.filter(role=Message.Role.ASSISTANT, rating=Message.Rating.UP)
    visible = feedback.feedback_visible_to(user=user).values("id")
    found = answers.filter(Q(conversation__user=user) | Q(id__in=visible), id=message_id).select_related(
        "reply_to"
    )
    answer = found.first()
    return answer if answer is not None and knowledge_base_for(user=user, answer=answer) else None


def knowledge_base_for(*, user, answer: Message) -> KnowledgeBase | None:
    """The first (by name) of the answer's conversation's knowledge bases that `user` manages."""
    managed = access.managed_knowledge_bases(user)
    return managed.filter(conversations=answer.conversation_id).order_by("name").first()


def may_save_answers(*, user, knowledge_bases) -> bool:
    """Whether the chat page offers `user` "Save to FAQ" on thumbs-up answers over `knowledge_bases`."""
    if not user.has_perm("faq.add_faqpair"):
        return False
    managed = access.managed_knowledge_bases(user)
    return managed.filter(id__in=[kb.id for kb in knowledge_bases]).exists()
