"""REST endpoints for a knowledge base's FAQ pairs (/api/v1/): managers list, create, change, delete
and import them; readers get their answers through asking, not here."""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from api.faq_serializers import FaqImportReportSerializer, FaqImportSerializer, FaqPairSerializer
from api.knowledge_views import managed_knowledge_base
from api.permissions import ManagerPermissions
from faq import importing, services
from faq.models import FaqPair
from knowledge import access


@extend_schema(tags=["FAQ"])
class FaqPairList(generics.ListCreateAPIView):
    """A knowledge base's FAQ pairs (managers only); create one."""

    serializer_class = FaqPairSerializer
    permission_classes = [ManagerPermissions]

    def get_queryset(self) -> QuerySet[FaqPair]:
        kb = managed_knowledge_base(self.request, self.kwargs["slug"])
        return kb.faq_pairs.select_related("knowledge_base", "created_by")

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        if "slug" in self.kwargs and self.request.method == "POST":
            context["knowledge_base"] = managed_knowledge_base(self.request, self.kwargs["slug"])
        return context

    def perform_create(self, serializer: BaseSerializer[FaqPair]) -> None:
        pair = FaqPair(knowledge_base=serializer.context["knowledge_base"], **serializer.validated_data)
        _saved(serializer, pair, self.request)


def _saved(serializer: BaseSerializer[FaqPair], pair: FaqPair, request: Request) -> None:
    try:
        serializer.instance = services.pair_save(pair=pair, user=request.user)
    except services.FaqLimitError as error:
        raise serializers.ValidationError(str(error)) from None


@extend_schema(tags=["FAQ"])
class FaqPairDetail(generics.RetrieveUpdateDestroyAPIView):
    """One FAQ pair (managers only): change its question, answer or alternatives, or delete it."""

    serializer_class = FaqPairSerializer
    permission_classes = [ManagerPermissions]
    lookup_url_kwarg = "pair_id"
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[FaqPair]:
        managed = access.managed_knowledge_bases(self.request.user)
        return FaqPair.objects.filter(knowledge_base__in=managed).select_related(
            "knowledge_base", "created_by"
        )

    def perform_update(self, serializer: BaseSerializer[FaqPair]) -> None:
        pair = serializer.instance
        assert pair is not None
        for name, value in serializer.validated_data.items():
            setattr(pair, name, value)
        _saved(serializer, pair, self.request)

    def perform_destroy(self, instance: FaqPair) -> None:
        services.pair_delete(pair=instance, user=self.request.user)


@extend_schema(tags=["FAQ"])
class FaqImport(generics.GenericAPIView):
    """Import pairs from a CSV or Excel file (managers with the permission to add pairs): a question
    already there gets the file's answer; rows with a problem are skipped and named. A file that
    cannot be read imports nothing (400)."""

    permission_classes = [ManagerPermissions]
    parser_classes = [MultiPartParser]
    serializer_class = FaqImportSerializer

    def get_queryset(self) -> QuerySet[FaqPair]:
        return FaqPair.objects.none()  # for the permission check: importing adds pairs

    @extend_schema(
        request={"multipart/form-data": FaqImportSerializer}, responses={201: FaqImportReportSerializer}
    )
    def post(self, request: Request, slug: str) -> Response:
        kb = managed_knowledge_base(request, slug)
        upload = FaqImportSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        file = upload.validated_data["file"]
        try:
            report = services.pairs_import(knowledge_base=kb, name=file.name, file=file, user=request.user)
        except (importing.ImportFileError, services.FaqLimitError) as error:
            raise serializers.ValidationError({"file": [str(error)]}) from None
        body = {
            "created": report.created,
            "updated": report.updated,
            "skipped": [{"row": row, "message": message} for row, message in report.skipped],
        }
        return Response(FaqImportReportSerializer(body).data, status=status.HTTP_201_CREATED)
