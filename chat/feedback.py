"""The feedback users give answers, as the admin shows it to the people who look after the
knowledge bases: scoped like the rest of the admin (knowledge.access)."""

from django.db.models import QuerySet

from chat.models import Conversation, Feedback, Message
from knowledge import access
from knowledge.models import Document


def feedback_visible_to(*, user) -> QuerySet[Feedback]:
    """The answers rated or commented on that `user` may see: all for a superuser; for a manager,
    those in conversations over knowledge bases that they all manage."""
    given = Feedback.objects.filter(role=Message.Role.ASSISTANT).exclude(rating="", feedback="")
    return in_managed_conversations(given, user=user)


def in_managed_conversations(messages: QuerySet, *, user) -> QuerySet:
    """The messages of conversations over knowledge bases that `user` all manages (all messages for a
    superuser): what the admin's feedback list and the usage dashboard show them."""
    if user.is_superuser:
        return messages
    managed = access.managed_knowledge_bases(user).values("id")
    over = Conversation.knowledge_bases.through.objects
    with_any = over.values("conversation_id")
    with_unmanaged = over.exclude(knowledgebase_id__in=managed).values("conversation_id")
    return messages.filter(conversation_id__in=with_any).exclude(conversation_id__in=with_unmanaged)


def citations_visible_to(*, user, answer: Message) -> list[dict]:
    """The passages an answer cited, less those of documents in knowledge bases `user` does not
    manage (a conversation can have searched another knowledge base before)."""
    if user.is_superuser:
        return answer.citations
    ids = [cited.get("document_id") for cited in answer.citations]
    managed = access.managed_knowledge_bases(user)
    readable = set(
        Document.objects.filter(id__in=ids, knowledge_base__in=managed).values_list("id", flat=True)
    )
    return [cited for cited in answer.citations if cited.get("document_id") in readable]
