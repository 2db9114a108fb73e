"""The audit event of a question: who asked which knowledge bases, with which model, what it cost,
how it was answered (its status, the code of its error if any, its grounding) and how long each step
took, and how it was asked when that was not the app itself (`via`: a chat widget). The text itself
only with AUDIT_QUESTION_TEXT (it may be personal). Quotas count these events
(usage.quotas), and the usage dashboard adds them up (usage.dashboard): every path that answers writes
one, `/v1` included."""

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction

from audit.log import record
from audit.models import AskedKnowledgeBase, Event
from knowledge.models import KnowledgeBase

if TYPE_CHECKING:
    from chat.engine import Outcome, Question


def record_question(*, question: "Question", outcome: "Outcome") -> Event:
    knowledge_bases = question.knowledge_bases
    names = [kb.name for kb in knowledge_bases]
    text: dict[str, Any] = {"question": question.text} if settings.AUDIT_QUESTION_TEXT else {}
    via: dict[str, Any] = {"via": question.via} if question.via else {}
    usage = outcome.usage
    with transaction.atomic():
        event = record(
            Event.Kind.QUESTION,
            user=question.asker,
            target="knowledge_base:" + ",".join(str(kb.id) for kb in knowledge_bases),
            summary=question.text if settings.AUDIT_QUESTION_TEXT else ", ".join(names),
            knowledge_bases=names,
            model=outcome.model.model if outcome.model else "",
            mode=outcome.mode,
            status=outcome.status,
            error_code=outcome.error.code if outcome.error else "",
            grounding=outcome.grounding,
            cost_usd=outcome.cost_usd,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            timings=outcome.timings,
            **text,
            **via,
        )
        link_knowledge_bases(event, knowledge_bases)
    return event


def link_knowledge_bases(event: Event, knowledge_bases: Iterable[KnowledgeBase]) -> None:
    """Record which knowledge bases the question `event` asked."""
    distinct = {kb.id: kb for kb in knowledge_bases}.values()
    AskedKnowledgeBase.objects.bulk_create(
        AskedKnowledgeBase(event=event, knowledge_base_id=kb.id, name=kb.name) for kb in distinct
    )
