"""The answer path shared by the chat page and the `ask` command.

It saves the question, retrieves passages, streams the model's reasoning and answer as events,
and saves the assistant message whatever happens (including the browser going away).
"""

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from chat import citations, llm, prompting, providers, rendering
from chat.models import Conversation, Message
from chatsite.db_threads import in_pool
from knowledge.models import KnowledgeBase
from knowledge.retrieval import Passage, retrieve_passages

logger = logging.getLogger(__name__)
MAX_QUESTION_CHARS = 8000
STOP_CHECK_SECONDS = 0.25
STOP_REQUEST_SECONDS = 3600

Event = tuple[str, dict]
# Asked as an answer streams: whether the API key the question came with has been revoked since.
Revoked = Callable[[], Awaitable[bool]]
KEY_REVOKED = "invalid_api_key"  # the code of the error that ends such an answer (OpenAI's)


@dataclass
class _Progress:
    """What has streamed so far and when, for the saved message's timings."""

    started: float = field(default_factory=time.monotonic)
    first_reasoning: float | None = None
    first_content: float | None = None
    reasoning: list[str] = field(default_factory=list)
    content: list[str] = field(default_factory=list)

    def ms_since_start(self, moment: float | None) -> int | None:
        return None if moment is None else round((moment - self.started) * 1000)

    def timings(self, retrieval_ms: int) -> dict:
        reasoning_s = None
        if self.first_reasoning is not None:
            reasoning_s = round((self.first_content or time.monotonic()) - self.first_reasoning, 2)
        return {
            "retrieval_ms": retrieval_ms,
            "first_reasoning_ms": self.ms_since_start(self.first_reasoning),
            "reasoning_s": reasoning_s,
            "first_content_ms": self.ms_since_start(self.first_content),
            "total_ms": self.ms_since_start(time.monotonic()),
        }


def retrieval_only_notice(found: bool) -> str:
    if not found:
        return _(
            "**No language model is configured**, and no relevant passages were found in the selected "
            "knowledge bases."
        )
    return _(
        "**No language model is configured**, so this is not a written answer: here are the most "
        "relevant passages from the documents."
    )


def retrieval_only_answer(passages: list[Passage]) -> str:
    blocks = [retrieval_only_notice(bool(passages))]
    for number, passage in enumerate(passages, start=1):
        where = f" — {passage.location}" if passage.location else ""
        blocks.append(f"[{number}] {passage.document_title}{where}\n\n{passage.text}")
    return "\n\n".join(blocks)


def answers_nothing_found(passages: list[Passage], knowledge_bases: list[KnowledgeBase]) -> bool:
    """Whether the reply is the fixed nothing-found one: no passage cleared the relevance floor and
    not every knowledge base searched lets the model answer from general knowledge instead."""
    general = KnowledgeBase.WhenNothingFound.GENERAL
    return not passages and not all(kb.when_nothing_found == general for kb in knowledge_bases)


def nothing_found_reply(knowledge_bases: list[KnowledgeBase]) -> str:
    """The first custom reply of the knowledge bases searched, or the standard one."""
    custom = next((kb.nothing_found_reply for kb in knowledge_bases if kb.nothing_found_reply.strip()), "")
    return custom or _(
        "The documents in the selected knowledge bases do not cover this question, so I cannot answer "
        "it from them. Try other words, or ask the people who maintain these documents."
    )


def access_lost_reply() -> str:
    return _(
        "You can no longer read the knowledge bases this conversation asks, so it cannot be answered "
        "from them. Choose a knowledge base you can read, or start a new chat."
    )


def answer_html(message: Message, cards: list[dict]) -> str:
    if message.mode == Message.Mode.RETRIEVAL_ONLY:
        notice = retrieval_only_notice(bool(cards))
        return rendering.render_passages_html(notice, message_id=message.id, citations=cards)
    return rendering.render_html(message.content, message_id=message.id, citations=cards)


@dataclass
class _Start:
    history: list[dict[str, str]]
    knowledge_bases: list[KnowledgeBase]
    message: Message
    access_lost: bool  # the conversation has knowledge bases, and the user may read none of them


def _start(
    *,
    user,
    conversation: Conversation,
    question: str,
    config: providers.ModelConfig | None,
    reanswer: Message | None = None,
) -> _Start:
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
        )
    return _Start(history, knowledge_bases, message, access_lost=bool(chosen) and not knowledge_bases)


async def retrieve(
    question: str, knowledge_bases: list[KnowledgeBase], history: list[dict[str, str]]
) -> list[Passage]:
    """The passages for a question, with the previous turn as context for a follow-up (off the loop)."""
    return await in_pool(
        retrieve_passages,
        question=question,
        knowledge_bases=knowledge_bases,
        context=retrieval_context(history),
    )


def retrieval_context(history: list[dict[str, str]]) -> list[str]:
    """The previous question and answer, for retrieving a follow-up question. Only what was said:
    reasoning is never part of the history."""
    last = {turn["role"]: turn["content"] for turn in history}
    return [last.get(Message.Role.USER, ""), citations.MARKER.sub("", last.get(Message.Role.ASSISTANT, ""))]


async def answer_question(
    *,
    user,
    conversation: Conversation,
    question: str,
    revoked: Revoked | None = None,
    reanswer: Message | None = None,
) -> AsyncIterator[Event]:
    """Yield (event, data) pairs: meta, reasoning*, content*, error?, done. With `reanswer` (the
    question, already saved, that `question` is the text of) a new version of its answer is written."""
    config = llm.model_config(conversation.model or None)
    started = {"user": user, "conversation": conversation, "question": question, "reanswer": reanswer}
    start = await in_pool(_start, writes=True, config=config, **started)
    history, knowledge_bases, message = start.history, start.knowledge_bases, start.message
    yield (
        "meta",
        {
            "conversation_id": conversation.id,
            "conversation_url": conversation.get_absolute_url(),
            "title": conversation.title,
            "message_id": message.id,
            "mode": message.mode,
            "model": message.model,
        },
    )
    progress = _Progress()
    passages: list[Passage] = []
    retrieval_ms = 0
    watch = _StopWatch(message.id)  # from here on a stop request for this answer is noticed
    try:
        passages = await retrieve(question, knowledge_bases, history)
        retrieval_ms = progress.ms_since_start(time.monotonic()) or 0
        if start.access_lost:
            # Not general knowledge either: the user asked these documents, and may no longer see them.
            message.grounding = Message.Grounding.NOT_FOUND
            text = access_lost_reply()
            progress.content.append(text)
            yield "content", {"text": text}
        elif config is None:
            text = retrieval_only_answer(passages)
            progress.content.append(text)
            yield "content", {"text": text}
        elif answers_nothing_found(passages, knowledge_bases):
            message.grounding = Message.Grounding.NOT_FOUND
            text = nothing_found_reply(knowledge_bases)
            progress.content.append(text)
            yield "content", {"text": text}
        else:
            if not passages:
                message.grounding = Message.Grounding.GENERAL
            prompt = prompting.build_prompt(
                question=question,
                passages=passages,
                history=history,
                config=config,
                general_knowledge=not passages,
            )
            passages = prompt.passages  # citations can only point at what the model saw
            stream = until_revoked(providers.stream_chat(config, prompt.messages), revoked)
            async for event in _stream_model(config, stream, message, progress, watch):
                yield event
    except Exception:
        logger.exception("Answering message %s failed", message.id)
        message.status = Message.Status.FAILED
        message.error_code = "internal"
        message.error = _("Something went wrong on our side while answering. Please try again.")
        yield "error", {"message": message.error, "code": message.error_code}
    finally:
        watch.close()
        saved = {"message": message, "progress": progress, "passages": passages, "retrieval_ms": retrieval_ms}
        await in_pool(_save, writes=True, **saved)
    # Rendering takes up to a second of CPU and waits for the highlighter's processes: off the event
    # loop, where every answer this process streams would wait for it.
    yield "done", await sync_to_async(done_payload, thread_sensitive=False)(message)


def _stop_key(message_id: int) -> str:
    return f"chat:stop:{message_id}"


# Answers this process is streaming, and those of them asked to stop: checked on every event, so a
# stop asked of this process costs nothing to notice.
_streaming: set[int] = set()
_stop_requested: set[int] = set()


async def request_stop(message: Message) -> None:
    """Ask the process streaming this answer to stop it; it keeps what has arrived."""
    if message.id in _streaming:
        _stop_requested.add(message.id)
    elif _cache_is_shared():
        await cache.aset(_stop_key(message.id), True, timeout=STOP_REQUEST_SECONDS)


def _cache_is_shared() -> bool:
    """Whether other processes see this cache (Redis), so a stop can reach an answer streamed elsewhere."""
    return not isinstance(caches["default"], LocMemCache)


class _StopWatch:
    """Notices a stop request: from this process at once, from others (through the shared cache) at
    most STOP_CHECK_SECONDS later."""

    def __init__(self, message_id: int) -> None:
        self.message_id = message_id
        self.shared = _cache_is_shared()
        self.checked = time.monotonic()
        _streaming.add(message_id)

    def close(self) -> None:
        _streaming.discard(self.message_id)
        _stop_requested.discard(self.message_id)

    async def stopped(self) -> bool:
        if self.message_id in _stop_requested:
            return True
        if not self.shared or time.monotonic() - self.checked < STOP_CHECK_SECONDS:
            return False
        self.checked = time.monotonic()
        return bool(await cache.aget(_stop_key(self.message_id)))


async def until_revoked(
    stream: AsyncIterator[providers.Event], revoked: Revoked | None
) -> AsyncIterator[providers.Event]:
    """The model's events until the API key the question came with is revoked (or its user
    deactivated): then the upstream request is closed, so no more tokens are generated or billed,
    and the stream ends with an Error, as when the upstream fails."""
    async with aclosing(stream):
        async for event in stream:
            if revoked is not None and await revoked():
                break
            yield event
        else:
            return
    yield providers.Error(
        code=KEY_REVOKED, message=_("The API key was revoked (or its user deactivated) while answering.")
    )


async def _stream_model(
    config: providers.ModelConfig,
    stream: AsyncIterator[providers.Event],
    message: Message,
    progress: _Progress,
    watch: "_StopWatch",
) -> AsyncIterator[Event]:
    if await watch.stopped():  # while the passages were being found
        message.status = Message.Status.STOPPED
        return
    async for event in stream:
        if await watch.stopped():
            await stream.aclose()  # closes the upstream request: no more tokens are generated or billed
            message.status = Message.Status.STOPPED
            return
        if (shown := _record(event, config, message, progress)) is not None:
            yield shown


def _record(
    event: providers.Event, config: providers.ModelConfig, message: Message, progress: _Progress
) -> Event | None:
    """Note a provider event on the answer; what the user should see of it, if anything."""
    match event:
        case providers.Reasoning(text=text):
            progress.first_reasoning = progress.first_reasoning or time.monotonic()
            progress.reasoning.append(text)
            return "reasoning", {"text": text}
        case providers.Content(text=text, replaces_reasoning=True):
            # A distill's untagged reply: what streamed as reasoning was the answer.
            progress.first_reasoning = None
            progress.reasoning.clear()
            progress.first_content = progress.first_content or time.monotonic()
            progress.content.append(text)
            return "content", {"text": text, "replaces_reasoning": True}
        case providers.Content(text=text):
            progress.first_content = progress.first_content or time.monotonic()
            progress.content.append(text)
            return "content", {"text": text}
        case providers.Usage():
            message.usage = {k: v for k, v in vars(event).items() if v is not None}
            message.cost_usd = config.cost(event)
        case providers.Error(code=code, message=error_message):
            message.status = Message.Status.FAILED
            message.error_code = code
            message.error = error_message
            return "error", {"message": error_message, "code": code, "retryable": event.retryable}
    return None


def _save(*, message: Message, progress: _Progress, passages: list[Passage], retrieval_ms: int) -> None:
    content, cited = citations.resolve("".join(progress.content), passages)
    if message.mode == Message.Mode.RETRIEVAL_ONLY:
        cited = [citations.passage_citation(n, p) for n, p in enumerate(passages, start=1)]
    message.content = content
    message.reasoning = "".join(progress.reasoning)
    message.citations = cited
    message.timings = progress.timings(retrieval_ms)
    if message.status == Message.Status.STREAMING:
        message.status = Message.Status.COMPLETE
    message.save()


def done_payload(message: Message) -> dict:
    cards = citation_cards(message.citations)
    return {
        "message_id": message.id,
        "status": message.status,
        "mode": message.mode,
        "grounding": message.grounding,
        "thought_seconds": message.thought_seconds,
        "citations": cards,
        "html": answer_html(message, cards),
    }


def citation_cards(cited: list[dict]) -> list[dict]:
    return [{**c, "document_url": reverse("knowledge:download", args=[c["document_id"]])} for c in cited]
