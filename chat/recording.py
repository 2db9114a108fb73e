"""Recording a conversation's turns: the question and its answer, as the chat page and the REST
ask save them. The answer engine (chat.engine) decides nothing here and saves nothing itself.

Both functions touch the database: call them through chatsite.db_threads.in_pool(writes=True).
"""

from dataclasses import dataclass

from django.db import transaction

from chat import engine, providers
from chat.models import Conversation, Message
from knowledge.models import KnowledgeBase


@dataclass
class Turn:
    history: list[dict[str, str]]  # what was said before, oldest first (never reasoning)
    knowledge_bases: list[KnowledgeBase]  # those of the conversation the user may read
    message: Message  # the answer, saved empty and streaming
    access_lost: bool  # the conversation has knowledge bases, and the user may read none of them


def start_turn(
    *,
    user,
    conversation: Conversation,
    question: str,
    config: providers.ModelConfig | None,
    reanswer: Message | None = None,
) -> Turn:
    """Read the history and the knowledge bases, save the question (unless `reanswer`, a question
    asked before, is answered again: then the new answer is the version shown) and an empty answer
    (one transaction). The history is what the conversation shows: one answer per question."""
    said = conversation.messages.filter(shown=True).exclude(status=Message.Status.FAILED).exclude(content="")
    if reanswer is not None:
        said = said.exclude(id=reanswer.id).exclude(reply_to=reanswer)
    history = [{"role": m.role, "content": m.content} for m in said.only("role", "content")]
    chosen = list(conversation.knowledge_bases.values_list("id", flat=True))
    knowledge_bases = list(KnowledgeBase.objects.readable_by(user).filter(id__in=chosen))
    with transaction.atomic():
        if reanswer is None:
            asked = Message.objects.create(
                conversation=conversation, role=Message.Role.USER, content=question
            )
        else:
            asked = reanswer
            asked.versions.update(shown=False)
        if not conversation.title:
            conversation.title = question.strip().splitlines()[0][:80]
        conversation.save()
        message = Message.objects.create(
            conversation=conversation,
            role=Message.Role.ASSISTANT,
            reply_to=asked,
            status=Message.Status.STREAMING,
            mode=Message.Mode.LLM if config else Message.Mode.RETRIEVAL_ONLY,
            model=config.model if config else "",
            model_name=config.name if config else "",
        )
        message.searched_knowledge_bases.set(knowledge_bases)
    return Turn(history, knowledge_bases, message, access_lost=bool(chosen) and not knowledge_bases)


def save_answer(*, message: Message, outcome: engine.Outcome) -> None:
    """Save what the engine answered on the turn's answer message."""
    take_outcome(message, outcome)
    message.save()


def take_outcome(message: Message, outcome: engine.Outcome) -> None:
    """Put what the engine answered on `message` (unsaved: the chat widget renders one it keeps not)."""
    message.content = outcome.content
    message.reasoning = outcome.reasoning
    message.citations = outcome.citations
    message.timings = outcome.timings
    message.mode = outcome.mode
    message.grounding = outcome.grounding
    message.status = outcome.status
    if outcome.model is not None:  # a fallback may have answered
        message.model, message.model_name = outcome.model.model, outcome.model.name
    message.fallback_for = outcome.fallback_for
    # A withdrawn answer's text is the content policy's notice, not the model's: kept without its
    # prompt, it never becomes fine-tuning data (chat.datasets).
    message.prompt = [] if outcome.finish_reason == engine.CONTENT_FILTERED else outcome.prompt
    if outcome.usage is not None:
        message.usage = {k: v for k, v in vars(outcome.usage).items() if v is not None}
        message.cost_usd = outcome.cost_usd
    if outcome.error is not None:
        message.error_code = outcome.error.code
        message.error = outcome.error.message
        message.error_detail = outcome.error.detail


def save_suggestions(*, message: Message, suggestions: list[str]) -> None:
    """Save the follow-up questions offered under an answer, and nothing else of it: the user may
    have rated it meanwhile."""
    message.suggestions = suggestions
    message.save(update_fields=["suggestions"])
