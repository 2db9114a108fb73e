"""REST endpoints for a knowledge base's web and folder sources and their syncs (/api/v1/)."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from api.knowledge_views import managed_knowledge_base
from api.permissions import ChangePermissionToPost, ManagerPermissions
from api.source_serializers import SourceSerializer, SyncRunSerializer
from knowledge import access
from sources import audit_trail, syncing
from sources.models import Source, SyncRun


def _managed_sources(request: Request):
    return Source.objects.filter(
        knowledge_base__in=access.managed_knowledge_bases(request.user)
    ).select_related("knowledge_base")


@extend_schema(tags=["sources"])
class SourceList(generics.ListCreateAPIView):
    """A knowledge base's web and folder sources (managers only), and new ones."""

    serializer_class = SourceSerializer
    permission_classes = [ManagerPermissions]

    def get_queryset(self):
        kb = managed_knowledge_base(self.request, self.kwargs["slug"])
        return kb.sources.select_related("knowledge_base")

    def perform_create(self, serializer: BaseSerializer[Source]) -> None:
        kb = managed_knowledge_base(self.request, self.kwargs["slug"])
        source = serializer.save(knowledge_base=kb)
        audit_trail.record_source_save(source=source, before={}, user=self.request.user)


@extend_schema(tags=["sources"])
class SourceDetail(generics.RetrieveUpdateDestroyAPIView):
    """One source (managers only); deleting it removes the documents it made."""

    serializer_class = SourceSerializer
    permission_classes = [ManagerPermissions]
    lookup_url_kwarg = "source_id"

    def get_queryset(self):
        return _managed_sources(self.request)

    def perform_update(self, serializer: BaseSerializer[Source]) -> None:
        before = audit_trail.settings_of(serializer.instance)
        source = serializer.save()
        audit_trail.record_source_save(source=source, before=before, user=self.request.user)

    def perform_destroy(self, instance: Source) -> None:
        syncing.source_delete(source=instance, user=self.request.user)


@extend_schema(tags=["sources"])
class SourceSync(generics.GenericAPIView):
    """Sync the source now (managers only): 202 once queued, 409 while a sync of it runs."""

    serializer_class = SourceSerializer
    permission_classes = [ChangePermissionToPost]
    lookup_url_kwarg = "source_id"

    def get_queryset(self):
        return _managed_sources(self.request)

    @extend_schema(request=None, responses={202: SourceSerializer, 409: None})
    def post(self, request: Request, source_id: int) -> Response:
        source = self.get_object()
        if not syncing.source_sync_later(source=source, trigger=SyncRun.Trigger.MANUAL):
            return Response(
                {"detail": _("A sync of this source is already running.")}, status=status.HTTP_409_CONFLICT
            )
        return Response(self.get_serializer(source).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["sources"])
class SyncRunList(generics.ListAPIView):
    """The source's syncs, newest first, with what each added, changed, removed and failed on."""

    serializer_class = SyncRunSerializer
    permission_classes = [ManagerPermissions]

    def get_queryset(self):
        source = generics.get_object_or_404(_managed_sources(self.request), id=self.kwargs["source_id"])
        return source.runs.all()
