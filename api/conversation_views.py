"""REST endpoints for your own conversations, and asking in them (/api/v1/conversations/)."""

from django.db.models import Prefetch, QuerySet
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from api.async_views import AsyncAPIView, Handled
from api.errors import ApiError
from api.key_watch import revocation_check
from api.serializers import (
    AskSerializer,
    ConversationDetailSerializer,
    ConversationSerializer,
    ConversationUpdateSerializer,
    MessageSerializer,
)
from chat import conversations, engine, streaming
from chat.models import Conversation, Message
from chatsite.db_threads import in_pool
from chatsite.signed_in import SignedInApiRequest
from usage import quotas


def own_conversations(request: SignedInApiRequest) -> QuerySet[Conversation]:
    return Conversation.objects.filter(user=request.user)


@extend_schema(tags=["conversations"])
class ConversationList(generics.ListCreateAPIView):
    """Your conversations, most recent first; create one on the knowledge bases to ask in."""

    request: SignedInApiRequest  # IsAuthenticated, the API's default permission
    serializer_class = ConversationSerializer

    def get_queryset(self):
        return own_conversations(self.request).prefetch_related("knowledge_bases")

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        serializer.save(user=self.request.user)


@extend_schema(tags=["conversations"])
class ConversationDetail(generics.RetrieveUpdateDestroyAPIView):
    """One of your conversations with its messages; rename it (or change its model), or delete it."""

    request: SignedInApiRequest
    lookup_url_kwarg = "conversation_id"
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_queryset(self):
        messages = Prefetch("messages", queryset=Message.objects.defer("prompt"))  # not part of the API
        return own_conversations(self.request).prefetch_related("knowledge_bases", messages)

    def get_serializer_class(self):
        if self.request.method == "PATCH":
            return ConversationUpdateSerializer
        return ConversationDetailSerializer

    def perform_destroy(self, instance: Conversation) -> None:
        conversations.conversation_delete(conversation=instance)


@extend_schema(tags=["conversations"])
class ConversationAsk(AsyncAPIView):
    """Ask a question in one of your conversations; answered from its knowledge bases."""

    throttle_scope = "answers"  # one answer budget with the chat page's (api/throttles.py)

    @extend_schema(
        request=AskSerializer,
        responses={
            (200, "application/json"): MessageSerializer,
            (200, "text/event-stream"): OpenApiResponse(
                OpenApiTypes.STR,
                description="With stream=true: events meta, searching, passages, reasoning*, content*, "
                "withdrawn?, error?, done, each `event: <name>` with a JSON `data:` line, as the chat page "
                "receives them.",
            ),
            429: OpenApiResponse(description="Over your quota (questions a day or spend a month)."),
            502: OpenApiResponse(description="The language model failed; the error names why."),
        },
    )
    def post(self, request: SignedInApiRequest, conversation_id: int) -> Handled:
        ask = AskSerializer(data=request.data)
        ask.is_valid(raise_exception=True)
        conversation = get_object_or_404(own_conversations(request), id=conversation_id)
        asked = (request.user, conversation, ask.validated_data["question"], revocation_check(request))
        return _answer_as_stream(*asked) if ask.validated_data["stream"] else _answer_as_json(*asked)


async def _answer_as_stream(
    user, conversation: Conversation, question: str, revoked: engine.Check | None
) -> StreamingHttpResponse:
    """The answer's events; refused for a quota, a 429 as without streaming, before anything streams."""
    queue = streaming.start_answer(user, conversation, question, revoked)  # on the event loop
    head = await streaming.opening_events(queue)
    for name, data in (event for event in head if event is not None):
        if name == "error" and data.get("code") == quotas.QUOTA_EXCEEDED:
            raise ApiError(data["message"], code=data["code"], status_code=status.HTTP_429_TOO_MANY_REQUESTS)
    return streaming.relay_response(queue, head)


async def _answer_as_json(
    user, conversation: Conversation, question: str, revoked: engine.Check | None
) -> Response:
    # The answer runs as its own task, as for the stream: it is saved even if the client leaves.
    queue = streaming.start_answer(user, conversation, question, revoked)
    done: dict = {}
    while (item := await queue.get()) is not None:
        if item[0] == "done":
            done = item[1]
    message = await in_pool(_saved_answer, message_id=done.get("message_id"), conversation=conversation)
    if message is None:
        raise ApiError(
            _("The answer could not be saved."),
            code="internal",
            status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if message.status == Message.Status.FAILED:
        raise ApiError(
            message.error,
            code=message.error_code or "upstream_error",
            status_code=_FAILED_STATUS.get(message.error_code, status.HTTP_502_BAD_GATEWAY),
            message_id=message.id,
            **_detail(done),
        )
    return Response(MessageSerializer(message).data | _detail(done))


# How an answer that failed for a reason of ours is reported; the model's own failures are 502.
_FAILED_STATUS = {
    engine.KEY_REVOKED: status.HTTP_401_UNAUTHORIZED,
    engine.CONTENT_POLICY: status.HTTP_400_BAD_REQUEST,  # the question was refused
    quotas.QUOTA_EXCEEDED: status.HTTP_429_TOO_MANY_REQUESTS,  # over the asker's quota
}


def _detail(done: dict) -> dict:
    """Why the model failed or did not answer, technically: given to administrators only."""
    return {"error_detail": done["error_detail"]} if "error_detail" in done else {}


def _saved_answer(*, message_id: int | None, conversation: Conversation) -> Message | None:
    if message_id is None:
        return None
    return Message.objects.filter(id=message_id, conversation=conversation).first()
