"""REST endpoints for knowledge bases, their documents, and search (/api/v1/)."""

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import DjangoModelPermissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from api.permissions import ChangePermissionToPost, ManagerPermissions
from api.serializers import (
    DocumentSerializer,
    KnowledgeBaseSerializer,
    SearchResultSerializer,
    SearchSerializer,
    UploadReportSerializer,
    UploadSerializer,
)
from faq import matching as faq_matching
from knowledge import access, audit_trail, retrieval, services
from knowledge.models import Document, KnowledgeBase


def readable_knowledge_base(request: Request, slug: str) -> KnowledgeBase:
    """The knowledge base, if the user may read it; 404 otherwise, as if it did not exist."""
    return get_object_or_404(KnowledgeBase.objects.readable_by(request.user), slug=slug)


def managed_knowledge_base(request: Request, slug: str) -> KnowledgeBase:
    """The knowledge base, if the user manages it (the view checks the permission); 404 otherwise."""
    return get_object_or_404(access.managed_knowledge_bases(request.user), slug=slug)


@extend_schema(tags=["knowledge bases"])
class KnowledgeBaseList(generics.ListCreateAPIView):
    """The knowledge bases you may read; managers (permission to add them) create new ones."""

    serializer_class = KnowledgeBaseSerializer
    permission_classes = [DjangoModelPermissions]

    def get_queryset(self):
        return KnowledgeBase.objects.readable_by(self.request.user).prefetch_related("groups")

    def perform_create(self, serializer: BaseSerializer[KnowledgeBase]) -> None:
        _save_recording_readers(serializer, self.request)


def _save_recording_readers(serializer: BaseSerializer[KnowledgeBase], request: Request) -> None:
    """Save the knowledge base, and audit a change of who may read it."""
    before = audit_trail.Readers.of(serializer.instance or KnowledgeBase())
    knowledge_base = serializer.save()
    audit_trail.record_readers_change(knowledge_base=knowledge_base, before=before, user=request.user)


@extend_schema(tags=["knowledge bases"])
class KnowledgeBaseDetail(generics.RetrieveUpdateAPIView):
    """One readable knowledge base; managers (permission to change them) update its settings."""

    serializer_class = KnowledgeBaseSerializer
    permission_classes = [DjangoModelPermissions]
    lookup_field = "slug"

    def get_queryset(self):
        return KnowledgeBase.objects.readable_by(self.request.user).prefetch_related("groups")

    def perform_update(self, serializer: BaseSerializer[KnowledgeBase]) -> None:
        _save_recording_readers(serializer, self.request)


@extend_schema(tags=["documents"])
class DocumentList(generics.ListCreateAPIView):
    """A knowledge base's documents with their indexing status and progress (managers only), and
    uploads of one or many files (or .zip archives of them), queued for indexing."""

    serializer_class = DocumentSerializer
    permission_classes = [ManagerPermissions]
    parser_classes = [MultiPartParser]

    def get_queryset(self):
        kb = managed_knowledge_base(self.request, self.kwargs["slug"])
        return kb.documents.select_related("knowledge_base")

    @extend_schema(
        request={"multipart/form-data": UploadSerializer},
        responses={201: UploadReportSerializer, 200: UploadReportSerializer, 400: UploadReportSerializer},
        description="201 when at least one document was created; 200 when every file was already "
        "there (duplicates); 400 when files were rejected and none created.",
    )
    def post(self, request: Request, slug: str) -> Response:
        kb = managed_knowledge_base(request, slug)
        upload = UploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        files = [(file.name, file) for file in upload.validated_data["files"]]
        report = services.upload_files(
            knowledge_base=kb, files=files, user=request.user, max_files=settings.MAX_UPLOAD_FILES
        )
        body = {
            "created": DocumentSerializer(report.created, many=True).data,
            "duplicates": [
                {"name": d.name, "message": str(d), "existing_document_id": d.existing.id}
                for d in report.duplicates
            ],
            "rejected": [{"name": r.name, "message": str(r)} for r in report.rejected],
        }
        if report.created:
            return Response(body, status=status.HTTP_201_CREATED)
        return Response(body, status=status.HTTP_400_BAD_REQUEST if report.rejected else status.HTTP_200_OK)


def _managed_documents(request: Request):
    return Document.objects.filter(
        knowledge_base__in=access.managed_knowledge_bases(request.user)
    ).select_related("knowledge_base")


@extend_schema(tags=["documents"])
class DocumentDetail(generics.RetrieveDestroyAPIView):
    """One document (managers only); deleting it removes its chunks, vectors and file."""

    serializer_class = DocumentSerializer
    permission_classes = [ManagerPermissions]
    lookup_url_kwarg = "document_id"

    def get_queryset(self):
        return _managed_documents(self.request)

    def perform_destroy(self, instance: Document) -> None:
        services.document_delete(document=instance, user=self.request.user)


@extend_schema(tags=["documents"])
class DocumentReindex(generics.GenericAPIView):
    """Queue the document to be read and indexed again (managers only)."""

    serializer_class = DocumentSerializer
    permission_classes = [ChangePermissionToPost]
    lookup_url_kwarg = "document_id"

    def get_queryset(self):
        return _managed_documents(self.request)

    @extend_schema(request=None, responses={202: DocumentSerializer})
    def post(self, request: Request, document_id: int) -> Response:
        document = self.get_object()
        services.documents_reindex(documents=[document], user=request.user)
        document.refresh_from_db()
        return Response(self.get_serializer(document).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["search"])
class Search(APIView):
    """The passages a query retrieves from a knowledge base, ranked exactly as the chat ranks them
    (the hit-testing page's search), with each search's scores."""

    @extend_schema(request=SearchSerializer, responses={200: SearchResultSerializer})
    def post(self, request: Request, slug: str) -> Response:
        kb = readable_knowledge_base(request, slug)
        query = SearchSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        result = retrieval.search(
            query=query.validated_data["query"],
            knowledge_bases=[kb],
            top_k=query.validated_data.get("top_k") or kb.top_k,
            mode=query.validated_data.get("mode"),
        )
        curated = faq_matching.match(question=query.validated_data["query"], knowledge_bases=[kb])
        body = {
            "faq": [match.as_dict() for match in curated if match.score > 0],
            "passages": [passage.as_dict() for passage in result.passages],
            "below_floor": result.below_floor,
            "timings_ms": result.timings_ms,
        }
        return Response(SearchResultSerializer(body).data)
