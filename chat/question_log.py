"""The audit event of a question: who asked which knowledge bases, with which model, what it cost
and how it was answered (its status, and the code of its error if any). The text itself only with
AUDIT_QUESTION_TEXT (it may be personal). Quotas count these events (usage.quotas)."""

from typing import TYPE_CHECKING, Any

from django.conf import settings

from audit.log import record
from audit.models import Event

if TYPE_CHECKING:
    from chat.engine import Outcome, Question


def record_question(*, question: "Question", outcome: "Outcome") -> Event:
    knowledge_bases = question.knowledge_bases
    names = [kb.name for kb in knowledge_bases]
    text: dict[str, Any] = {"question": question.text} if settings.AUDIT_QUESTION_TEXT else {}
    usage = outcome.usage
    return record(
        Event.Kind.QUESTION,
        user=question.asker,
        target="knowledge_base:" + ",".join(str(kb.id) for kb in knowledge_bases),
        summary=question.text if settings.AUDIT_QUESTION_TEXT else ", ".join(names),
        knowledge_bases=names,
        model=question.config.model if question.config else "",
        mode=outcome.mode,
        status=outcome.status,
        error_code=outcome.error.code if outcome.error else "",
        grounding=outcome.grounding,
        cost_usd=outcome.cost_usd,
        prompt_tokens=usage.prompt_tokens if usage else None,
        completion_tokens=usage.completion_tokens if usage else None,
        **text,
    )
