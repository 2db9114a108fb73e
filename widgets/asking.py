"""Answering a question asked in a chat widget: an adapter over the answer engine, as /v1 is.

Who asks decides what is searched: the widget's knowledge bases, and for a signed-in (or token)
user only those of them the user may read; an anonymous visitor gets the widget's list, which the
manager who made the widget granted. Nothing outside the widget's list, ever. The widget's own rate
counts per user (or per address and widget, anonymous), its questions per day for everyone
together (from the audit log's question events, which every process writes); a user's answer budget
(ANSWER_RATE_PER_USER) and quotas apply as everywhere. Nothing is saved as a conversation: the
panel keeps its recent turns and sends them back as history.
"""

import json
import secrets
from collections.abc import AsyncGenerator
from contextlib import aclosing

from django.contrib.auth.models import User
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from audit.models import Event
from chat import answering, engine, llm, rate_limits, recording
from chat.models import Message
from chat.streaming import sse
from chatsite.db_threads import in_pool
from knowledge.models import KnowledgeBase
from widgets.models import Widget

MAX_HISTORY_TURNS = 6  # messages (questions and answers) sent back with a question
MAX_HISTORY_CHARS = 4000  # of each


class Refused(Exception):
    """A question the widget does not answer: `message` says why, `status` is the HTTP status."""

    def __init__(self, message: str, status: int, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message, self.status, self.retry_after = message, status, retry_after


def knowledge_bases_for(*, widget: Widget, user: User | None) -> list[KnowledgeBase]:
    """What a question in `widget` searches: its knowledge bases, those `user` may read of them."""
    chosen = widget.knowledge_bases.all()
    if user is not None:
        chosen = chosen.filter(id__in=KnowledgeBase.objects.readable_by(user).values("id"))
    return list(chosen.order_by("name"))


def parse_history(text: str) -> list[dict[str, str]]:
    """The turns the panel sent, as a JSON list of {"role", "content"}: at most MAX_HISTORY_TURNS,
    each cut to MAX_HISTORY_CHARS; a Refused (400) names what is wrong."""
    if not text:
        return []
    try:
        turns = json.loads(text)
    except json.JSONDecodeError:
        raise Refused(_("The history is not valid JSON."), 400) from None
    if not isinstance(turns, list) or len(turns) > MAX_HISTORY_TURNS:
        raise Refused(_("Send at most %(max)d earlier turns.") % {"max": MAX_HISTORY_TURNS}, 400)
    history = []
    for turn in turns:
        role, content = (turn.get("role"), turn.get("content")) if isinstance(turn, dict) else (None, None)
        if role not in (Message.Role.USER, Message.Role.ASSISTANT) or not isinstance(content, str):
            raise Refused(_("Each earlier turn needs a role (user or assistant) and a content."), 400)
        history.append({"role": role, "content": content[:MAX_HISTORY_CHARS]})
    return history


def questions_today(widget: Widget) -> int:
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return Event.objects.filter(kind=Event.Kind.QUESTION, at__gte=start, detail__via=widget.via).count()


def _wait_message(seconds: int) -> str:
    return ngettext(
        "Too many questions for now. You can ask again in %(seconds)d second.",
        "Too many questions for now. You can ask again in %(seconds)d seconds.",
        seconds,
    ) % {"seconds": seconds}


def check_limits(*, widget: Widget, user: User | None, address: str) -> None:
    """Count one question against the widget's limits (and the user's answer budget): a Refused
    (429) when over one."""
    if questions_today(widget) >= widget.questions_per_day:
        raise Refused(_("This chat has answered all the questions it may today. Please try tomorrow."), 429)
    visitor = f"user:{user.pk}" if user is not None else f"address:{address}"
    wait = rate_limits.seconds_to_wait_at(widget.rate, f"widget:{widget.pk}", visitor)
    if wait is None and user is not None:
        wait = rate_limits.seconds_to_wait(rate_limits.ANSWERS, str(user.pk))
    if wait is not None:
        raise Refused(_wait_message(wait), 429, retry_after=wait)


def question_for(
    *, widget: Widget, user: User | None, text: str, history: list[dict[str, str]]
) -> engine.Question:
    """The engine's question; a Refused (403) when `user` may read none of the widget's knowledge bases."""
    knowledge_bases = knowledge_bases_for(widget=widget, user=user)
    if not knowledge_bases:
        raise Refused(_("You may not read any of the knowledge bases this chat answers from."), 403)
    return engine.Question(
        text=text,
        knowledge_bases=knowledge_bases,
        history=history,
        config=llm.model_config(None),
        asker=user,
        via=widget.via,
    )


def done_payload(outcome: engine.Outcome, *, links: bool) -> dict:
    """The `done` event, as the chat page's: the answer rendered, its citation cards (with a link
    to the document only with `links`: for a user, who may read every knowledge base searched)."""
    message = Message(id=secrets.randbelow(2**31), role=Message.Role.ASSISTANT)  # kept nowhere: ids the cards
    recording.take_outcome(message, outcome)
    cards = answering.citation_cards(message.citations)
    if not links:
        cards = [card | {"document_url": ""} for card in cards]
    return {
        "message_id": message.id,
        "status": message.status,
        "mode": message.mode,
        "grounding": message.grounding,
        "fallback_note": answering.fallback_note(message),
        "thought_seconds": message.thought_seconds,
        "citations": cards,
        "html": answering.answer_html(message, cards),
    }


async def answer_events(question: engine.Question, language: str) -> AsyncGenerator[bytes, None]:
    """The answer as the chat page's Server-Sent Events: searching, passages, reasoning, content,
    withdrawn, error, then done."""
    translation.activate(language)
    answer = engine.Answer(question)
    async with aclosing(answer.events()) as events:
        async for event in events:
            if (shown := answering.page_event(event, staff=False)) is not None:
                yield sse(*shown)
    payload = await in_pool(done_payload, answer.outcome(), links=question.asker is not None)
    yield sse("done", payload)
