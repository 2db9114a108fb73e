"""Input and output shapes of the REST API (/api/v1/)."""

from typing import cast

from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from api.faq_serializers import FaqMatchSerializer
from chat import llm
from chat.answering import MAX_QUESTION_CHARS
from chat.models import Conversation, Message
from knowledge import access
from knowledge.models import Document, KnowledgeBase
from knowledge.retrieval import MODES
from knowledge.views import MAX_QUERY_CHARS, MAX_TOP_K


def _many_related(serializer: serializers.ModelSerializer, name: str) -> serializers.ManyRelatedField:
    """The field a ModelSerializer makes for a many-to-many field, whose choices a request narrows."""
    return cast(serializers.ManyRelatedField, serializer.fields[name])


class KnowledgeBaseSerializer(serializers.ModelSerializer):
    groups = serializers.SlugRelatedField(
        slug_field="name",
        queryset=Group.objects.none(),
        many=True,
        required=False,
        help_text=_(
            "Names of the groups that may read it. You can give it only to groups you are in; "
            "groups you are not in stay on it."
        ),
        error_messages={"does_not_exist": _("You are not in a group named “{value}”.")},
    )

    class Meta:
        model = KnowledgeBase
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "is_public",
            "groups",
            "top_k",
            "retrieval_mode",
            "relevance_floor",
            "faq_threshold",
            "when_nothing_found",
            "nothing_found_reply",
            "chunk_overlap",
            "ocr",
            "created_at",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            _many_related(self, "groups").child_relation.queryset = access.assignable_groups(
                user=request.user, knowledge_base=self._stored()
            )

    def _stored(self) -> KnowledgeBase:
        """The knowledge base as stored; a new, unsaved one when creating."""
        return self.instance if isinstance(self.instance, KnowledgeBase) else KnowledgeBase()

    def validate(self, attrs: dict) -> dict:
        user, stored = self.context["request"].user, self._stored()
        if "groups" in attrs:
            attrs["groups"] = access.groups_to_save(user=user, knowledge_base=stored, chosen=attrs["groups"])
        problems = access.grant_problems(
            user=user,
            knowledge_base=stored,
            groups=attrs.get("groups", stored.groups.all() if stored.pk else []),
            is_public=attrs.get("is_public", stored.is_public),
        )
        if problems:
            raise serializers.ValidationError(problems)
        return attrs


class DocumentSerializer(serializers.ModelSerializer):
    knowledge_base: serializers.SlugRelatedField[KnowledgeBase] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    progress_percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = Document
        fields = [
            "id",
            "knowledge_base",
            "title",
            "status",
            "progress_percent",
            "chunks_done",
            "chunks_total",
            "needs_ocr",
            "ocr_pages_done",
            "ocr_pages_total",
            "chunk_count",
            "error",
            "size",
            "mime",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class UploadSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        allow_empty=False,
        help_text=_("One or more files, or .zip archives of them."),
    )


class UploadProblemSerializer(serializers.Serializer):
    name = serializers.CharField(help_text=_("The file, or its path inside a .zip archive."))
    message = serializers.CharField()
    existing_document_id = serializers.IntegerField(required=False)


class UploadReportSerializer(serializers.Serializer):
    created = DocumentSerializer(many=True)
    duplicates = UploadProblemSerializer(many=True)
    rejected = UploadProblemSerializer(many=True)


class SearchSerializer(serializers.Serializer):
    query = serializers.CharField(max_length=MAX_QUERY_CHARS)
    mode = serializers.ChoiceField(
        choices=MODES, required=False, help_text=_("Default: the knowledge base's own mode.")
    )
    top_k = serializers.IntegerField(min_value=1, max_value=MAX_TOP_K, required=False)


class PassageSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    score = serializers.FloatField(help_text=_("Relevance between 0 and 1."))
    chunk_id = serializers.IntegerField()
    document_id = serializers.IntegerField()
    document_title = serializers.CharField()
    knowledge_base_id = serializers.IntegerField()
    location = serializers.CharField(allow_blank=True)
    text = serializers.CharField(
        help_text=_("What the chat sends: the chunk found, widened with its neighbours in its section.")
    )
    matched = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=2),
        help_text=_("Where the chunks found are in the text, best first, as [start, end] offsets."),
    )
    dense_score = serializers.FloatField(allow_null=True)
    dense_rank = serializers.IntegerField(allow_null=True)
    lexical_score = serializers.FloatField(allow_null=True)
    lexical_rank = serializers.IntegerField(allow_null=True)


class SearchResultSerializer(serializers.Serializer):
    faq = FaqMatchSerializer(many=True, help_text=_("The best-matching FAQ pairs, best first."))
    passages = PassageSerializer(many=True)
    below_floor = serializers.IntegerField(help_text=_("Passages found but under the relevance floor."))
    timings_ms = serializers.DictField(child=serializers.FloatField())


class CitationSerializer(serializers.Serializer):
    n = serializers.IntegerField(help_text=_("The number the answer cites it by, as [n]."))
    document = serializers.CharField()
    document_id = serializers.IntegerField()
    chunk_id = serializers.IntegerField()
    location = serializers.CharField(allow_blank=True)
    text = serializers.CharField()
    faq_pair_id = serializers.IntegerField(
        required=False,
        help_text=_("Set when the passage cited is a FAQ pair (document_id and chunk_id are 0)."),
    )


class MessageSerializer(serializers.ModelSerializer):
    citations = CitationSerializer(many=True, read_only=True)
    usage = serializers.DictField(read_only=True)
    timings = serializers.DictField(read_only=True)
    reply_to = serializers.IntegerField(
        source="reply_to_id", read_only=True, allow_null=True, help_text=_("An answer's question.")
    )
    shown = serializers.BooleanField(
        read_only=True,
        help_text=_("Whether the conversation shows it: one version of each question's answers."),
    )

    class Meta:
        model = Message
        fields = [
            "id",
            "role",
            "reply_to",
            "shown",
            "content",
            "reasoning",
            "citations",
            "status",
            "mode",
            "grounding",
            "error",
            "error_code",
            "model",
            "model_name",
            "fallback_for",
            "usage",
            "cost_usd",
            "timings",
            "created_at",
        ]
        read_only_fields = fields


def _model_name(value: str) -> str:
    if value and value not in {config.name for config in llm.models()}:
        raise serializers.ValidationError(_("No model of this name is configured."))
    return value


class ConversationSerializer(serializers.ModelSerializer):
    knowledge_bases = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=KnowledgeBase.objects.none(),
        many=True,
        allow_empty=False,
        help_text=_("Slugs of knowledge bases you may read; answers are searched in them."),
    )
    model = serializers.CharField(
        required=False, allow_blank=True, max_length=100, help_text=_("A configured model's name.")
    )

    class Meta:
        model = Conversation
        fields = ["id", "title", "knowledge_bases", "model", "created_at", "updated_at"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            # Slugs of knowledge bases the user may not read are "not found", like unknown ones.
            readable = KnowledgeBase.objects.readable_by(request.user)
            _many_related(self, "knowledge_bases").child_relation.queryset = readable

    def validate_model(self, value: str) -> str:
        return _model_name(value)


class ConversationDetailSerializer(ConversationSerializer):
    messages = MessageSerializer(many=True, read_only=True)

    class Meta(ConversationSerializer.Meta):
        fields = [*ConversationSerializer.Meta.fields, "messages"]


class ConversationUpdateSerializer(serializers.ModelSerializer):
    model = serializers.CharField(required=False, allow_blank=True, max_length=100)

    class Meta:
        model = Conversation
        fields = ["title", "model"]

    def validate_model(self, value: str) -> str:
        return _model_name(value)


class AskSerializer(serializers.Serializer):
    question = serializers.CharField(max_length=MAX_QUESTION_CHARS)
    stream = serializers.BooleanField(
        default=False,
        help_text=_(
            "true: answer as Server-Sent Events (meta, reasoning, content, error, done), as the chat "
            "page receives them. false: one JSON object once the answer is complete."
        ),
    )
