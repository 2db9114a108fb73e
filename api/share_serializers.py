"""Input and output shapes of exporting and sharing conversations over the REST API: the JSON export's
shape (chat.exporting.conversation_json) and a conversation's shared links."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from chat.models import Share


class ExportQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["markdown", "json"], default="markdown")
    reasoning = serializers.BooleanField(
        default=False, help_text=_("Markdown only: quote each answer's reasoning above it.")
    )


class ExportedKnowledgeBaseSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class ExportedConversationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField(allow_blank=True)
    knowledge_bases = ExportedKnowledgeBaseSerializer(many=True)
    model = serializers.CharField(allow_blank=True, help_text=_("The configured model's name, if chosen."))
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ExportedCitationSerializer(serializers.Serializer):
    n = serializers.IntegerField(help_text=_("The number the answer cites it by, as [n]."))
    document = serializers.CharField()
    document_id = serializers.IntegerField(allow_null=True, help_text=_("None for a FAQ pair."))
    faq_pair_id = serializers.IntegerField(allow_null=True)
    location = serializers.CharField(allow_blank=True, help_text=_("Page and heading, in words."))
    page = serializers.IntegerField(allow_null=True)
    heading = serializers.CharField(allow_blank=True)
    text = serializers.CharField(allow_blank=True, help_text=_("The passage the answer was given."))
    relevance = serializers.FloatField(
        allow_null=True, help_text=_("Between 0 and 1; none for answers saved before it was kept.")
    )


class ExportedMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    role = serializers.ChoiceField(choices=["user", "assistant"])
    status = serializers.CharField()
    content = serializers.CharField(allow_blank=True)
    reasoning = serializers.CharField(allow_blank=True)
    citations = ExportedCitationSerializer(many=True)
    model = serializers.CharField(
        allow_blank=True, help_text=_("The upstream's id of the model that answered.")
    )
    created_at = serializers.DateTimeField()
    rating = serializers.ChoiceField(choices=["up", "down"], allow_null=True)


class ConversationExportSerializer(serializers.Serializer):
    conversation = ExportedConversationSerializer()
    messages = ExportedMessageSerializer(
        many=True, help_text=_("As the conversation shows them: one version of each question's answers.")
    )
    exported_at = serializers.DateTimeField()


class ShareOptionsSerializer(serializers.Serializer):
    signed_in_only = serializers.BooleanField(
        default=False, help_text=_("Only signed-in staff may open the link.")
    )
    show_reasoning = serializers.BooleanField(
        default=False, help_text=_("The shared page shows each answer's reasoning.")
    )


class ShareSerializer(serializers.ModelSerializer):
    conversation = serializers.IntegerField(source="conversation_id", read_only=True)
    is_active = serializers.BooleanField(read_only=True, help_text=_("False once revoked."))

    class Meta:
        model = Share
        fields = [
            "id",
            "conversation",
            "signed_in_only",
            "show_reasoning",
            "created_at",
            "revoked_at",
            "is_active",
        ]
        read_only_fields = fields


class NewShareSerializer(ShareSerializer):
    url = serializers.URLField(read_only=True, help_text=_("The link. Shown only now: it is stored hashed."))

    class Meta(ShareSerializer.Meta):
        fields = [*ShareSerializer.Meta.fields, "url"]
