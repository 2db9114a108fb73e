"""Delivering an answer as Server-Sent Events, for the chat page and the API alike.

The answer runs as a task of its own, so it completes and is saved when the client goes away;
the response only relays its events.
"""

import asyncio
import contextvars
import json
import logging
from collections.abc import AsyncGenerator, Sequence

from django.http import StreamingHttpResponse
from django.utils import translation
from django.utils.translation import gettext as _

from chat import answering, engine
from chat.models import Conversation, Message
from chatsite import metrics

Event = tuple[str, dict]

logger = logging.getLogger(__name__)
# Answers keep running when the client goes away; holding the tasks here keeps them alive.
_running: set[asyncio.Task] = set()


# json.dumps with options builds a new encoder on every call.
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


def sse(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {_ENCODE(data)}\n\n".encode()


# Pieces of text that arrive within this time go out as one event: a few hundred streams of single
# tokens would otherwise cost a write (and a wake-up of the browser's parser) per token.
COALESCE_SECONDS = 0.05


def _merged(items: list[Event]) -> list[Event]:
    """Consecutive reasoning or answer pieces joined into one event each."""
    merged: list[Event] = []
    for name, data in items:
        joinable = name in ("reasoning", "content") and data.keys() == {"text"}
        if joinable and merged and merged[-1][0] == name and merged[-1][1].keys() == {"text"}:
            merged[-1] = (name, {"text": merged[-1][1]["text"] + data["text"]})
        else:
            merged.append((name, data))
    return merged


async def _relay(
    queue: asyncio.Queue, watch: metrics.AnswerWatch, head: Sequence[Event | None] = ()
) -> AsyncGenerator[bytes, None]:
    """The events `head` already taken from the queue, then the queue's, until its None."""
    if head:
        yield b"".join(sse(*event) for event in head if event is not None)
        if head[-1] is None:
            return
    while True:
        items = [await queue.get()]
        while not queue.empty():
            items.append(queue.get_nowait())
        events = _merged([item for item in items if item is not None])
        text = any(name in ("reasoning", "content") for name, _data in events)
        if text:
            watch.token_sent()
        if events:
            yield b"".join(sse(*event) for event in events)
        if items[-1] is None:
            return
        if text:
            await asyncio.sleep(COALESCE_SECONDS)  # the first piece of text is never held back


async def _produce(
    user,
    conversation: Conversation,
    question: str,
    revoked: engine.Check | None,
    language: str,
    queue: asyncio.Queue,
    reanswer: Message | None,
    suggest: bool,
) -> None:
    translation.activate(language)
    try:
        answer = answering.answer_question(
            user=user,
            conversation=conversation,
            question=question,
            revoked=revoked,
            reanswer=reanswer,
            suggest=suggest,
        )
        async for item in answer:
            queue.put_nowait(item)
    except Exception:
        logger.exception("Answering in conversation %s failed", conversation.id)
        queue.put_nowait(("error", {"message": _("The answer could not be saved."), "code": "internal"}))
    finally:
        queue.put_nowait(None)


def start_answer(
    user,
    conversation: Conversation,
    question: str,
    revoked: engine.Check | None = None,
    reanswer: Message | None = None,
    suggest: bool = False,
) -> asyncio.Queue:
    """Start answering in the background; the queue yields (event, data) pairs, then None. An answer
    asked with an API key passes `revoked`, to end when the key is revoked; a regenerated one
    passes the question it answers again as `reanswer`; `suggest` adds follow-up questions after
    the answer (the chat page's)."""
    queue: asyncio.Queue = asyncio.Queue()
    # A context of its own: the answer outlives the request (and its thread executor) when the
    # client goes away, and must still be saved.
    task = asyncio.create_task(
        _produce(user, conversation, question, revoked, translation.get_language(), queue, reanswer, suggest),
        context=contextvars.Context(),
    )
    _running.add(task)
    task.add_done_callback(_running.discard)
    return queue


def running_answers() -> set[asyncio.Task]:
    """The answers this process is producing, whether or not a client still reads them."""
    return set(_running)


def answer_stream(
    user,
    conversation: Conversation,
    question: str,
    revoked: engine.Check | None = None,
    reanswer: Message | None = None,
    suggest: bool = False,
) -> StreamingHttpResponse:
    """A text/event-stream response carrying the answer's events: meta, reasoning, content, error,
    done, and with `suggest` the follow-up questions after it."""
    return relay_response(start_answer(user, conversation, question, revoked, reanswer, suggest))


def relay_response(queue: asyncio.Queue, head: list[Event | None] | None = None) -> StreamingHttpResponse:
    """A text/event-stream response relaying an answer's queue, after the events `head` already
    taken from it (see `opening_events`)."""
    watch = metrics.AnswerWatch(metrics.EVENTS)
    response = StreamingHttpResponse(
        watch.relayed(_relay(queue, watch, head or ())), content_type="text/event-stream; charset=utf-8"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


async def opening_events(queue: asyncio.Queue) -> list[Event | None]:
    """The answer's events up to the first after `meta`: `searching` once it has started, or the
    error that refused it before it did (or None, the end)."""
    head = [await queue.get()]
    while head[-1] is not None and head[-1][0] == "meta":
        head.append(await queue.get())
    return head
