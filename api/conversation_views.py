"""REST endpoints for your own conversations, and asking in them (/api/v1/conversations/)."""

from django.http import HttpResponseBase
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.async_views import AsyncAPIView
from api.errors import ApiError
from api.serializers import (
    AskSerializer,
    ConversationDetailSerializer,
    ConversationSerializer,
    ConversationUpdateSerializer,
    MessageSerializer,
)
from chat import streaming
from chat.models import Conversation, Message


def own_conversations(request: Request):
    return Conversation.objects.filter(user=request.user)


@extend_schema(tags=["conversations"])
class ConversationList(generics.ListCreateAPIView):
    """Your conversations, most recent first; create one on the knowledge bases to ask in."""

    serializer_class = ConversationSerializer

    def get_queryset(self):
        return own_conversations(self.request).prefetch_related("knowledge_bases")

    def perform_create(self, serializer: ConversationSerializer) -> None:
        serializer.save(user=self.request.user)


@extend_schema(tags=["conversations"])
class ConversationDetail(generics.RetrieveUpdateDestroyAPIView):
    """One of your conversations with its messages; rename it (or change its model), or delete it."""

    lookup_url_kwarg = "conversation_id"
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return own_conversations(self.request).prefetch_related("knowledge_bases", "messages")

    def get_serializer_class(self):
        if self.request.method == "PATCH":
            return ConversationUpdateSerializer
        return ConversationDetailSerializer


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
                description="With stream=true: events meta, reasoning*, content*, error?, done, each "
                "`event: <name>` with a JSON `data:` line, as the chat page receives them.",
            ),
            502: OpenApiResponse(description="The language model failed; the error names why."),
        },
    )
    async def post(self, request: Request, conversation_id: int) -> HttpResponseBase:
        ask = AskSerializer(data=request.data)
        ask.is_valid(raise_exception=True)
        conversation = await own_conversations(request).filter(id=conversation_id).afirst()
        if conversation is None:
            raise exceptions.NotFound()
        question = ask.validated_data["question"]
        if ask.validated_data["stream"]:
            return streaming.answer_stream(request.user, conversation, question)
        return await _answer_as_json(request, conversation, question)


async def _answer_as_json(request: Request, conversation: Conversation, question: str) -> Response:
    # The answer runs as its own task, as for the stream: it is saved even if the client leaves.
    queue = streaming.start_answer(request.user, conversation, question)
    done: dict = {}
    while (item := await queue.get()) is not None:
        if item[0] == "done":
            done = item[1]
    message = await Message.objects.filter(id=done.get("message_id"), conversation=conversation).afirst()
    if message is None:
        message = _("The answer could not be saved.")
        raise ApiError(message, code="internal", status_code=status.HTTP_500_INTERNAL_SERVER_ERROR)
    if message.status == Message.Status.FAILED:
        raise ApiError(
            message.error,
            code=message.error_code or "upstream_error",
            status_code=status.HTTP_502_BAD_GATEWAY,
            message_id=message.id,
        )
    return Response(MessageSerializer(message).data)
