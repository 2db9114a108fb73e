"""Answers recorded as the chat records them, with the usage, cost, timings and feedback the quota
and the usage dashboard tests count: the conversation's messages (the dashboard's ratings and lists), and
the audit log's QUESTION event the answer engine writes for each, with the knowledge bases it asked
(the quotas' and the dashboard's figures)."""

import datetime

from django.contrib.auth.models import User
from django.utils import timezone

from audit.models import Event
from chat.models import Conversation, Message
from chat.question_log import link_knowledge_bases
from knowledge.models import KnowledgeBase


def recorded_answer(
    user: User,
    *,
    at: datetime.datetime | None = None,
    knowledge_base: KnowledgeBase | None = None,
    question: str = "How much leave?",
    **fields,
) -> Message:
    """A question and its answer in a new conversation of `user`, written `at` (now by default), and
    its audit event."""
    conversation = Conversation.objects.create(user=user)
    if knowledge_base is not None:
        conversation.knowledge_bases.set([knowledge_base])
    asked = Message.objects.create(conversation=conversation, role=Message.Role.USER, content=question)
    answer = Message.objects.create(
        conversation=conversation, role=Message.Role.ASSISTANT, content="25 days.", reply_to=asked, **fields
    )
    if at is not None:
        Message.objects.filter(id__in=[asked.id, answer.id]).update(created_at=at)
        answer.refresh_from_db()
    usage = answer.usage or {}
    detail = {
        "model": answer.model,
        "mode": answer.mode,
        "status": answer.status,
        "error_code": answer.error_code,
        "grounding": answer.grounding,
        "cost_usd": answer.cost_usd,
        "prompt_tokens": usage.get("prompt_tokens"),
        "completion_tokens": usage.get("completion_tokens"),
        "timings": answer.timings,
    }
    event = Event.objects.create(
        kind=Event.Kind.QUESTION, user=user, username=user.username, at=at or timezone.now(), detail=detail
    )
    link_knowledge_bases(event, [knowledge_base] if knowledge_base is not None else [])
    return answer
