"""Delivering an answer as Server-Sent Events, for the chat page and the API alike.

The answer runs as a task of its own, so it completes and is saved when the client goes away;
the response only relays its events.
"""

import asyncio
import contextvars
import json
import logging
from collections.abc import AsyncIterator

from django.http import StreamingHttpResponse
from django.utils import translation
from django.utils.translation import gettext as _

from chat import answering
from chat.models import Conversation

logger = logging.getLogger(__name__)
# Answers keep running when the client goes away; holding the tasks here keeps them alive.
_running: set[asyncio.Task] = set()


def sse(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def _relay(queue: asyncio.Queue) -> AsyncIterator[bytes]:
    while (item := await queue.get()) is not None:
        yield sse(*item)


async def _produce(
    user, conversation: Conversation, question: str, language: str, queue: asyncio.Queue
) -> None:
    translation.activate(language)
    try:
        async for item in answering.answer_question(user=user, conversation=conversation, question=question):
            queue.put_nowait(item)
    except Exception:
        logger.exception("Answering in conversation %s failed", conversation.id)
        queue.put_nowait(("error", {"message": _("The answer could not be saved."), "code": "internal"}))
    finally:
        queue.put_nowait(None)


def start_answer(user, conversation: Conversation, question: str) -> asyncio.Queue:
    """Start answering in the background; the queue yields (event, data) pairs, then None."""
    queue: asyncio.Queue = asyncio.Queue()
    # A context of its own: the answer outlives the request (and its thread executor) when the
    # client goes away, and must still be saved.
    task = asyncio.create_task(
        _produce(user, conversation, question, translation.get_language(), queue),
        context=contextvars.Context(),
    )
    _running.add(task)
    task.add_done_callback(_running.discard)
    return queue


def answer_stream(user, conversation: Conversation, question: str) -> StreamingHttpResponse:
    """A text/event-stream response carrying the answer's events: meta, reasoning, content, error, done."""
    queue = start_answer(user, conversation, question)
    response = StreamingHttpResponse(_relay(queue), content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
