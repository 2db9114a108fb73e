"""REST endpoints for exporting your conversations and sharing them as read-only links."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.conversation_views import own_conversations
from api.errors import ApiError
from api.share_serializers import (
    ConversationExportSerializer,
    ExportQuerySerializer,
    NewShareSerializer,
    ShareOptionsSerializer,
    ShareSerializer,
)
from chat import exporting, sharing
from chat.models import Conversation, Share
from chatsite.signed_in import SignedInApiRequest


class _ExportFormatIsOurs(BaseContentNegotiation):
    """`?format=` names the export's format here, not one of DRF's renderers (which would make
    `format=markdown` a 404): the response's type follows from it, and errors are JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type

    def select_parser(self, request, parsers):
        return None  # a GET has no body


@extend_schema(tags=["conversations"])
class ConversationExport(APIView):
    """One of your conversations as a Markdown document (citations as footnotes) or as JSON."""

    throttle_scope = "exports"  # one export budget with the chat page's (api/throttles.py)
    content_negotiation_class = _ExportFormatIsOurs
    renderer_classes = [JSONRenderer]

    @extend_schema(
        parameters=[ExportQuerySerializer],
        responses={
            (200, "text/markdown"): OpenApiResponse(
                OpenApiTypes.STR, description="format=markdown: the document; format=json: the object."
            ),
            (200, "application/json"): ConversationExportSerializer,
        },
    )
    def get(self, request: SignedInApiRequest, conversation_id: int) -> HttpResponse:
        query = ExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        conversation = get_object_or_404(own_conversations(request), id=conversation_id)
        export = exporting.conversation_export(
            conversation=conversation,
            kind=query.validated_data["format"],
            reasoning=query.validated_data["reasoning"],
            request=request._request,
        )
        response = HttpResponse(export.body, content_type=export.content_type)
        response["Content-Disposition"] = exporting.attachment_header(export.filename)
        return response


@extend_schema(tags=["conversations"])
@extend_schema_view(post=extend_schema(request=ShareOptionsSerializer, responses={201: NewShareSerializer}))
class ConversationShares(generics.ListCreateAPIView):
    """The read-only links to one of your conversations, revoked ones too; make a new one."""

    request: SignedInApiRequest
    serializer_class = ShareSerializer

    def _conversation(self) -> Conversation:
        return get_object_or_404(own_conversations(self.request), id=self.kwargs["conversation_id"])

    def get_queryset(self):
        return Share.objects.filter(conversation=self._conversation())

    def create(self, request: Request, *args, **kwargs) -> Response:
        options = ShareOptionsSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        try:
            new = sharing.share_create(conversation=self._conversation(), **options.validated_data)
        except sharing.TooManyShares:
            message = _("You have %(count)d active links: revoke one first.")
            raise ApiError(message % {"count": sharing.max_active_shares()}, code="too_many_shares") from None
        body = NewShareSerializer(new.share).data
        body["url"] = request.build_absolute_uri(reverse("chat:shared", args=[new.token]))
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema(tags=["conversations"])
class ShareRevoke(generics.DestroyAPIView):
    """Revoke one of your links: it opens nothing from now on. Revoking it again is no error."""

    request: SignedInApiRequest
    serializer_class = ShareSerializer
    lookup_url_kwarg = "share_id"

    def get_queryset(self):
        return Share.objects.filter(created_by=self.request.user).select_related("conversation")

    def perform_destroy(self, instance: Share) -> None:
        sharing.share_revoke(share=instance)
