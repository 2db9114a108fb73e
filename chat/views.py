import asyncio
import contextvars
import json
import logging
from collections.abc import AsyncIterator

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from chat import answering, llm
from chat.models import Conversation, Message
from knowledge.models import KnowledgeBase

logger = logging.getLogger(__name__)
MAX_QUESTION_CHARS = 8000
# Answers keep running when the browser goes away; holding the tasks here keeps them alive.
_running: set[asyncio.Task] = set()


def _page(request: HttpRequest, conversation: Conversation | None) -> HttpResponse:
    knowledge_bases = list(KnowledgeBase.objects.readable_by(request.user))
    messages = list(conversation.messages.all()) if conversation else []
    for message in messages:
        message.citations = answering.citation_cards(message.citations)
        message.html = answering.answer_html(message, message.citations)
    chosen = conversation.knowledge_bases.values_list("id", flat=True).first() if conversation else None
    config = llm.model_config(conversation.model if conversation else None)
    return render(
        request,
        "chat/chat.html",
        {
            "knowledge_bases": knowledge_bases,
            "selected_kb_id": chosen or (knowledge_bases[0].id if knowledge_bases else None),
            "conversations": Conversation.objects.filter(user=request.user)[:100],
            "conversation": conversation,
            "messages": messages,
            "llm_configured": config is not None,
            "model_name": config.name if config else "",
            "model_names": [model.name for model in llm.models()],
            "ask_url": reverse("chat:ask"),
            "stop_url": reverse("chat:stop", args=[0]).replace("/0/", "/{id}/"),
        },
    )


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return _page(request, None)


@login_required
@require_GET
def conversation_page(request: HttpRequest, conversation_id: int) -> HttpResponse:
    return _page(request, get_object_or_404(Conversation, id=conversation_id, user=request.user))


def _sse(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def _conversation_for(request: HttpRequest, user) -> Conversation:
    """The user's own conversation named in the form, or a new one on the chosen knowledge base."""
    kb_id = request.POST.get("knowledge_base", "")
    kb = None
    if kb_id:
        kb = (
            await KnowledgeBase.objects.readable_by(user)
            .filter(id=int(kb_id) if kb_id.isdigit() else 0)
            .afirst()
        )
        if kb is None:
            raise Http404
    conversation_id = request.POST.get("conversation", "")
    if conversation_id:
        conversation = await Conversation.objects.filter(
            id=int(conversation_id) if conversation_id.isdigit() else 0, user=user
        ).afirst()
        if conversation is None:
            raise Http404
    else:
        conversation = await Conversation.objects.acreate(user=user)
    if kb is not None:
        await conversation.knowledge_bases.aset([kb])
    model = request.POST.get("model", "")
    if model and model != conversation.model:
        if model not in {config.name for config in llm.models()}:
            raise Http404
        conversation.model = model
        await conversation.asave(update_fields=["model"])
    return conversation


async def _relay(queue: asyncio.Queue) -> AsyncIterator[bytes]:
    while (item := await queue.get()) is not None:
        yield _sse(*item)


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


@require_POST
async def ask(request: HttpRequest) -> HttpResponse:
    user = await request.auser()
    if not user.is_authenticated:
        return JsonResponse({"error": "Log in to ask questions."}, status=401)
    question = request.POST.get("question", "").strip()
    if not question or len(question) > MAX_QUESTION_CHARS:
        return JsonResponse({"error": f"Ask a question of 1 to {MAX_QUESTION_CHARS} characters."}, status=400)
    conversation = await _conversation_for(request, user)
    queue: asyncio.Queue = asyncio.Queue()
    # A context of its own: the answer outlives the request (and its thread executor) when the
    # browser goes away, and must still be saved.
    task = asyncio.create_task(
        _produce(user, conversation, question, translation.get_language(), queue),
        context=contextvars.Context(),
    )
    _running.add(task)
    task.add_done_callback(_running.discard)
    response = StreamingHttpResponse(_relay(queue), content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


@require_POST
async def stop(request: HttpRequest, message_id: int) -> JsonResponse:
    """Stop an answer that is streaming; the partial answer is kept and marked stopped."""
    user = await request.auser()
    if not user.is_authenticated:
        return JsonResponse({"error": "Log in first."}, status=401)
    message = await Message.objects.filter(
        id=message_id, conversation__user=user, role=Message.Role.ASSISTANT
    ).afirst()
    if message is None:
        raise Http404
    if message.status == Message.Status.STREAMING:
        await answering.request_stop(message)
    return JsonResponse({"status": message.status, "stopping": message.status == Message.Status.STREAMING})
