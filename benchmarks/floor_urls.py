"""The start's floor (benchmarks/part_floors.py): the project's URLs, settings and middleware
(security headers, metrics, session, language, CSRF, sign-in, audit context), and one more view,
`POST /floor/start/`, which does only what every answer's request must before and after the model:
in one hop to a pool thread (as chat.views.ask does), the session and signed-in user read and the
turn recorded (a conversation, the question, the answer waiting), one event out, then the answer
saved in a second hop. No retrieval, rate limit, quota, audit, prompt or upstream request."""

from collections.abc import AsyncIterator

from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.urls import path
from django.views.decorators.http import require_POST

from chat.models import Conversation, Message
from chatsite.db_threads import in_pool
from chatsite.urls import urlpatterns as site_urls


def _turn(request: HttpRequest) -> Message | None:
    if not request.user.is_authenticated:
        return None
    conversation = Conversation.objects.create(user=request.user)
    question = Message.objects.create(
        conversation=conversation, role=Message.Role.USER, content=request.POST.get("question", "")
    )
    return Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        reply_to=question,
        status=Message.Status.STREAMING,
    )


def _save(answer: Message) -> None:
    answer.content, answer.status = "saved", Message.Status.COMPLETE
    answer.save(update_fields=["content", "status"])


async def _events(answer: Message) -> AsyncIterator[bytes]:
    yield b'event: meta\ndata: {"message_id": %d}\n\n' % answer.pk
    await in_pool(_save, writes=True, answer=answer)
    yield b'event: done\ndata: {"status": "complete"}\n\n'


@require_POST
async def start(request: HttpRequest) -> JsonResponse | StreamingHttpResponse:
    answer = await in_pool(_turn, request)
    if answer is None:
        return JsonResponse({"error": "Log in first."}, status=401)
    return StreamingHttpResponse(_events(answer), content_type="text/event-stream")


urlpatterns = [path("floor/start/", start), *site_urls]
