"""Answering in a conversation, for the chat page, the REST ask and the `ask` command.

It records the turn (chat.recording), relays the engine's events (chat.engine) as the page's
(event, data) pairs, and renders the finished answer. The answer is saved whatever happens,
including the browser going away.
"""

from collections.abc import AsyncIterator
from contextlib import aclosing

from django.utils.translation import gettext as _

from chat import citations, engine, fixed_replies, llm, recording, rendering, stopping, suggestions
from chat.models import Conversation, Message
from chatsite.db_threads import in_pool
from knowledge.originals import citation_url, web_pages

MAX_QUESTION_CHARS = 8000

Event = tuple[str, dict]


async def answer_question(
    *,
    user,
    conversation: Conversation,
    question: str,
    revoked: engine.Check | None = None,
    reanswer: Message | None = None,
    suggest: bool = False,
) -> AsyncIterator[Event]:
    """Yield (event, data) pairs: meta, searching, passages, reasoning*, content*, withdrawn?, error?,
    done, and with `suggest` suggestions? (follow-up questions, after the answer is saved and done).
    With `reanswer` (the question, already saved, that `question` is the text of) a new version of
    its answer is written."""
    config = llm.model_config(conversation.model or None)
    turn = await in_pool(
        recording.start_turn,
        writes=True,
        user=user,
        conversation=conversation,
        question=question,
        config=config,
        reanswer=reanswer,
    )
    message = turn.message
    yield "meta", _meta(conversation, message)
    asked = engine.Question(
        text=question,
        knowledge_bases=turn.knowledge_bases,
        history=turn.history,
        config=config,
        access_lost=turn.access_lost,
        asker=user,
    )
    with stopping.watching(message.id) as watch:
        answer = engine.Answer(asked, stopped=watch.stopped, revoked=revoked)
        try:
            async with aclosing(answer.events()) as events:
                async for event in events:
                    if (shown := page_event(event, staff=sees_error_detail(user))) is not None:
                        yield shown
        finally:
            outcome = answer.outcome()
            await in_pool(recording.save_answer, writes=True, message=message, outcome=outcome)
    detail = outcome.error.detail if sees_error_detail(user) and outcome.error is not None else ""
    # Rendering takes up to a second of CPU and waits for the highlighter's processes: off the event
    # loop, where every answer this process streams would wait for it.
    # In a pool thread that gives its connection back: the cards look up the web pages cited.
    yield "done", await in_pool(done_payload, message=message, detail=detail)
    if suggest and suggestions.offered_for(outcome):
        offered = await suggestions.follow_ups(
            question=answer.question.text,  # as the model was asked it: masked by the content policy
            outcome=outcome,
            matcher=(await answer.checked_question()).matcher,
        )
        if offered:
            await in_pool(recording.save_suggestions, writes=True, message=message, suggestions=offered)
            yield "suggestions", {"message_id": message.id, "questions": offered}


def sees_error_detail(user) -> bool:
    """Whether `user` is shown the technical detail of why the model failed: staff, who run the app."""
    return user.is_staff


def _meta(conversation: Conversation, message: Message) -> dict:
    return {
        "conversation_id": conversation.id,
        "conversation_url": conversation.get_absolute_url(),
        "title": conversation.title,
        "message_id": message.id,
        "mode": message.mode,
        "model": message.model,
    }


def page_event(event: engine.Event, *, staff: bool) -> Event | None:
    """What the page (or the chat widget) shows of an engine event, if anything; administrators see why
    the model failed."""
    match event:
        case engine.Searching():
            return "searching", {}
        case engine.Passages(passages=passages):
            return "passages", {"count": len(passages)}
        case engine.providers.Reasoning(text=text):
            return "reasoning", {"text": text}
        case engine.providers.Content(text=text, replaces_reasoning=True):
            return "content", {"text": text, "replaces_reasoning": True}
        case engine.providers.Content(text=text):
            return "content", {"text": text}
        case engine.Withdrawn(notice=notice):
            # The page replaces what it showed of the answer (and its reasoning) with the notice.
            return "withdrawn", {"text": notice}
        case engine.providers.Error(code=code, retryable=retryable):
            message = engine.error_message(event, administrator=staff)
            return "error", {"message": message, "code": code, "retryable": retryable}
    return None


async def request_stop(message: Message) -> None:
    """Ask the process streaming this answer to stop it; it keeps what has arrived."""
    await stopping.request_stop(message.id)


def answer_html(message: Message, cards: list[dict], *, detail: str = "") -> str:
    """The answer as the page shows it; `detail` is the technical detail of why the model did not
    answer, for administrators. An answer that failed before saying anything (refused for a quota,
    say) has none: its error says it all."""
    if message.status == Message.Status.FAILED and not message.content:
        return ""
    if message.mode == Message.Mode.RETRIEVAL_ONLY and message.grounding != Message.Grounding.FAQ:
        unavailable = message.error_code in engine.MODEL_UNAVAILABLE
        notice = (
            fixed_replies.model_unavailable_notice if unavailable else fixed_replies.retrieval_only_notice
        )(bool(cards))
        if detail:
            notice += "\n\n" + _("Detail for administrators: %(detail)s") % {"detail": detail}
        return rendering.render_passages_html(notice, message_id=message.id, citations=cards)
    return rendering.render_html(message.content, message_id=message.id, citations=cards)


def done_payload(message: Message, *, detail: str = "") -> dict:
    """The `done` event; `detail` (for administrators only) says why the model failed or did not answer."""
    cards = citation_cards(message.citations)
    payload = {
        "message_id": message.id,
        "status": message.status,
        "mode": message.mode,
        "grounding": message.grounding,
        "model": message.model,  # the one that answered: a fallback when the model asked was unavailable
        "fallback_note": fallback_note(message),
        "thought_seconds": message.thought_seconds,
        "citations": cards,
        "html": answer_html(message, cards, detail=detail),
    }
    return payload | {"error_detail": detail} if detail else payload


def fallback_note(message: Message) -> str:
    """Which model answered, when it was a fallback of the one asked; else "". (The page says the same
    of a saved answer: chat/_message.html.)"""
    if not message.fallback_for:
        return ""
    return _("Answered by %(model)s because %(asked)s was unavailable.") % {
        "model": message.model_name,
        "asked": message.fallback_for,
    }


def citation_cards(cited: list[dict]) -> list[dict]:
    pages = web_pages({c["document_id"] for c in cited if c.get("document_id")})
    return [
        {
            **c,
            "location": citations.shown_location(c),
            # A FAQ pair cited has no document to open.
            "document_url": "" if "faq_pair_id" in c else pages.get(c["document_id"]) or citation_url(c),
        }
        for c in cited
    ]
