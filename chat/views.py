from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from chat import answering, llm, streaming
from chat.models import Conversation, Message
from knowledge.models import KnowledgeBase

MAX_QUESTION_CHARS = 8000


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


@require_POST
async def ask(request: HttpRequest) -> HttpResponse:
    user = await request.auser()
    if not user.is_authenticated:
        return JsonResponse({"error": "Log in to ask questions."}, status=401)
    question = request.POST.get("question", "").strip()
    if not question or len(question) > MAX_QUESTION_CHARS:
        return JsonResponse({"error": f"Ask a question of 1 to {MAX_QUESTION_CHARS} characters."}, status=400)
    conversation = await _conversation_for(request, user)
    return streaming.answer_stream(user, conversation, question)


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
