from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext_lazy
from django.views.decorators.http import require_GET, require_POST

from chat import answering, conversations, llm, rate_limits, rendering, streaming
from chat.models import Conversation, Message
from chatsite.bad_requests import parse_id
from chatsite.db_threads import in_pool
from chatsite.signed_in import SignedInRequest
from faq import selectors as faq_selectors
from knowledge.models import KnowledgeBase

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

MAX_PREVIEW_CHARS = 200_000
ANSWER_LIMIT_MESSAGE = ngettext_lazy(
    "You have reached your limit of answers for now. You can ask again in %(seconds)d second.",
    "You have reached your limit of answers for now. You can ask again in %(seconds)d seconds.",
    "seconds",
)
PREVIEW_LIMIT_MESSAGE = ngettext_lazy(
    "Too many previews in a short time. Try again in %(seconds)d second.",
    "Too many previews in a short time. Try again in %(seconds)d seconds.",
    "seconds",
)
VERSION_SWITCH_LIMIT_MESSAGE = ngettext_lazy(
    "Too many switches between versions in a short time. Try again in %(seconds)d second.",
    "Too many switches between versions in a short time. Try again in %(seconds)d seconds.",
    "seconds",
)


def _sidebar(request: HttpRequest, current: Conversation | None) -> dict:
    query = request.GET.get("q", "").strip()
    found = conversations.conversation_search(user=request.user, query=query)
    return {"groups": conversations.conversation_groups(found), "query": query, "conversation": current}


def _page(request: HttpRequest, conversation: Conversation | None) -> HttpResponse:
    knowledge_bases = list(KnowledgeBase.objects.readable_by(request.user))
    messages = conversations.conversation_thread(conversation=conversation) if conversation else []
    staff = answering.sees_error_detail(request.user)
    for message in messages:
        message.detail = message.error_detail if staff else ""
        message.citations = answering.citation_cards(message.citations)
        message.html = answering.answer_html(message, message.citations, detail=message.detail)
    _offer_follow_ups(messages)
    chosen = set(conversation.knowledge_bases.values_list("id", flat=True)) if conversation else set()
    selected = [kb for kb in knowledge_bases if kb.id in chosen] or knowledge_bases[:1]
    config = llm.model_config(conversation.model if conversation else None)
    return render(
        request,
        "chat/chat.html",
        {
            **_sidebar(request, conversation),
            "knowledge_bases": knowledge_bases,
            "selected_kbs": selected,
            "messages": messages,
            "llm_configured": config is not None,
            "model_name": config.name if config else "",
            "model_names": [model.name for model in llm.models()],
            "stop_url": reverse("chat:stop", args=[0]).replace("/0/", "/{id}/"),
            "feedback_url": reverse("chat:feedback", args=[0]).replace("/0/", "/{id}/"),
            "resend_url": reverse("chat:resend", args=[0]).replace("/0/", "/{id}/"),
            "show_url": reverse("chat:show", args=[0]).replace("/0/", "/{id}/"),
            "can_save_faq": faq_selectors.may_save_answers(
                user=request.user, knowledge_bases=knowledge_bases
            ),
        },
    )


def _offer_follow_ups(messages: list[Message]) -> None:
    """Offer the follow-up questions of the last question's answers (each version its own); those
    of earlier answers were for a turn the conversation has gone past."""
    for message in messages:
        message.follow_ups = []
    for message in reversed(messages):
        if message.role == Message.Role.USER:
            break
        message.follow_ups = message.suggestions


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return _page(request, None)


@login_required
@require_GET
def conversation_page(request: HttpRequest, conversation_id: int) -> HttpResponse:
    return _page(request, get_object_or_404(Conversation, id=conversation_id, user=request.user))


@login_required
@require_GET
def conversation_list(request: SignedInRequest) -> HttpResponse:
    """The sidebar's list alone, for searching as the user types."""
    current_id = request.GET.get("current", "")
    current = None
    if current_id:
        current = Conversation.objects.filter(id=parse_id(current_id, "current"), user=request.user).first()
    return render(request, "chat/_conversation_list.html", _sidebar(request, current))


def _back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure())
    # Not redirect(): it reads a word such as "0" as the name of a view, and fails.
    return HttpResponseRedirect(target if safe else default)


@login_required
@require_POST
def rename(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = get_object_or_404(Conversation, id=conversation_id, user=request.user)
    title = request.POST.get("title", "")
    if title.strip():
        conversations.conversation_rename(conversation=conversation, title=title)
    return _back(request, conversation.get_absolute_url())


@login_required
@require_POST
def delete(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = get_object_or_404(Conversation, id=conversation_id, user=request.user)
    was_open = request.POST.get("next") == conversation.get_absolute_url()
    conversations.conversation_delete(conversation=conversation)
    return redirect("chat:home") if was_open else _back(request, reverse("chat:home"))


@login_required
@require_POST
def feedback(request: HttpRequest, message_id: int) -> JsonResponse:
    """Thumbs up or down on an answer ("" takes it back), with an optional comment."""
    message = get_object_or_404(
        Message, id=message_id, conversation__user=request.user, role=Message.Role.ASSISTANT
    )
    rating = request.POST.get("rating", "")
    if rating not in {"", *Message.Rating.values}:
        return JsonResponse({"error": _("Rate an answer up or down.")}, status=400)
    conversations.message_rate(message=message, rating=rating, feedback=request.POST.get("feedback", ""))
    return JsonResponse({"rating": message.rating, "feedback": message.feedback})


@login_required
@require_POST
def show(request: HttpRequest, message_id: int) -> JsonResponse:
    """Show this version of an answer; the conversation goes on from it."""
    answer = get_object_or_404(Message, id=message_id, conversation__user=request.user, reply_to__shown=True)
    if refusal := _over_limit(request, rate_limits.VERSION_SWITCHES, VERSION_SWITCH_LIMIT_MESSAGE):
        return refusal
    try:
        conversations.answer_show(answer=answer)
    except conversations.AnswerBeingWritten:
        return JsonResponse({"error": _("Wait until the answer is written.")}, status=409)
    return JsonResponse({"shown": answer.id})


def _over_limit(
    request: HttpRequest, limit: rate_limits.Limit, message: "StrOrPromise"
) -> JsonResponse | None:
    """A 429 with Retry-After when the user is over `limit`; each call counts one use."""
    wait = rate_limits.seconds_to_wait(limit, str(request.user.pk))
    if wait is None:
        return None
    response = JsonResponse({"error": message % {"seconds": wait}}, status=429)
    response["Retry-After"] = str(wait)
    return response


@login_required
@require_POST
def preview(request: HttpRequest) -> JsonResponse:
    """The answer streamed so far as sanitised HTML, so the page shows Markdown while it streams
    with the same renderer as the finished answer."""
    if refusal := _over_limit(request, rate_limits.PREVIEWS, PREVIEW_LIMIT_MESSAGE):
        return refusal
    text = request.POST.get("text", "")[:MAX_PREVIEW_CHARS]
    return JsonResponse({"html": rendering.render_partial_html(text)})


@dataclass(frozen=True)
class _Choices:
    knowledge_bases: list[KnowledgeBase] | None  # None: keep the conversation's
    model: str  # "": keep the conversation's


def _choices(request: HttpRequest) -> _Choices:
    """The knowledge bases ticked in the form (each readable by the user) and the model picked."""
    ids = request.POST.getlist("knowledge_base")
    knowledge_bases = None
    if ids:
        wanted = {parse_id(i, "knowledge_base") for i in ids}
        knowledge_bases = list(KnowledgeBase.objects.readable_by(request.user).filter(id__in=wanted))
        if len(knowledge_bases) != len(wanted):
            raise Http404
    model = request.POST.get("model", "")
    if model and model not in {config.name for config in llm.models()}:
        raise Http404
    return _Choices(knowledge_bases, model)


def _apply(choices: _Choices, conversation: Conversation) -> None:
    if choices.knowledge_bases is not None:
        conversation.knowledge_bases.set(choices.knowledge_bases)
    if choices.model and choices.model != conversation.model:
        conversation.model = choices.model
        conversation.save(update_fields=["model"])


def _own_conversation(conversation_id: int, user) -> Conversation:
    found = Conversation.objects.filter(id=conversation_id, user=user).first()
    if found is None:
        raise Http404
    return found


def _question_error(question: str) -> JsonResponse | None:
    if question and len(question) <= answering.MAX_QUESTION_CHARS:
        return None
    message = _("Ask a question of 1 to %(max)d characters.") % {"max": answering.MAX_QUESTION_CHARS}
    return JsonResponse({"error": message}, status=400)


@dataclass(frozen=True)
class _Asking:
    conversation: Conversation
    question: str
    reanswer: Message | None = None  # the question answered again (regenerate)


def _asking(request: HttpRequest) -> _Asking | JsonResponse:
    """What to answer, or why not. The request's database work before an answer starts (session,
    user, knowledge bases, conversation) runs here in one thread hop, which gives the request's
    connection back as it ends (chatsite.db_threads): as separate async ORM calls each query was a
    hop of its own, and with hundreds of questions at once the hops, not the queries, were where
    the time went. `_resending` does the same for a resend. A question refused for what it asks
    costs nothing of the user's answer budget."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": _("Log in to ask questions.")}, status=401)
    question = request.POST.get("question", "").strip()
    if error := _question_error(question):
        return error
    choices = _choices(request)
    conversation = None
    if conversation_id := request.POST.get("conversation", ""):
        conversation = _own_conversation(parse_id(conversation_id, "conversation"), request.user)
    if refusal := _over_limit(request, rate_limits.ANSWERS, ANSWER_LIMIT_MESSAGE):
        return refusal
    conversation = conversation or Conversation.objects.create(user=request.user)
    _apply(choices, conversation)
    return _Asking(conversation, question)


def _resending(request: HttpRequest, conversation_id: int) -> _Asking | JsonResponse:
    if not request.user.is_authenticated:
        return JsonResponse({"error": _("Log in to ask questions.")}, status=401)
    conversation = _own_conversation(conversation_id, request.user)
    edited = request.POST.get("question", "").strip()
    if "question" in request.POST and (error := _question_error(edited)):
        return error
    choices = _choices(request)
    if refusal := _over_limit(request, rate_limits.ANSWERS, ANSWER_LIMIT_MESSAGE):
        return refusal  # before the edited question is withdrawn
    try:
        question = conversations.last_question(conversation=conversation)
    except conversations.NothingToResend:
        return JsonResponse({"error": _("There is no finished answer to replace.")}, status=409)
    _apply(choices, conversation)
    if edited and edited != question.content:
        conversations.question_withdraw(question=question)
        return _Asking(conversation, edited)
    return _Asking(conversation, question.content, reanswer=question)


def _answered(request: HttpRequest, asking: _Asking | JsonResponse) -> JsonResponse | StreamingHttpResponse:
    if isinstance(asking, JsonResponse):
        return asking
    return streaming.answer_stream(
        request.user, asking.conversation, asking.question, reanswer=asking.reanswer, suggest=True
    )


@require_POST
async def ask(request: HttpRequest) -> JsonResponse | StreamingHttpResponse:
    return _answered(request, await in_pool(_asking, request))


@require_POST
async def resend(request: HttpRequest, conversation_id: int) -> JsonResponse | StreamingHttpResponse:
    """Answer the last question again (regenerate): a new version of its answer, the earlier ones
    kept. Or ask an edited version of it (edit and resend): the edited question and its answers
    leave the conversation (kept, with their feedback, for the admin's feedback list)."""
    return _answered(request, await in_pool(_resending, request, conversation_id))


@require_POST
async def stop(request: HttpRequest, message_id: int) -> JsonResponse:
    """Stop an answer that is streaming; the partial answer is kept and marked stopped."""
    user = await request.auser()
    if not user.is_authenticated:
        return JsonResponse({"error": _("Log in first.")}, status=401)
    message = await Message.objects.filter(
        id=message_id, conversation__user=user, role=Message.Role.ASSISTANT
    ).afirst()
    if message is None:
        raise Http404
    if message.status == Message.Status.STREAMING:
        await answering.request_stop(message)
    return JsonResponse({"status": message.status, "stopping": message.status == Message.Status.STREAMING})
