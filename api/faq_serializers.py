"""Input and output of the FAQ endpoints."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from faq import importing
from faq.models import ALTERNATIVES, ANSWER_CHARS, QUESTION_CHARS, FaqPair
from knowledge.models import KnowledgeBase


class FaqPairSerializer(serializers.ModelSerializer):
    knowledge_base: serializers.SlugRelatedField[KnowledgeBase] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    question = serializers.CharField(max_length=QUESTION_CHARS)
    answer = serializers.CharField(max_length=ANSWER_CHARS)
    alternatives = serializers.ListField(
        child=serializers.CharField(max_length=QUESTION_CHARS),
        max_length=ALTERNATIVES,
        required=False,
        help_text=_("Other ways to ask the question."),
    )
    created_by: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    from_message: serializers.PrimaryKeyRelatedField = serializers.PrimaryKeyRelatedField(
        read_only=True, help_text=_("The thumbs-up answer it was saved from, if any.")
    )

    class Meta:
        model = FaqPair
        fields = [
            "id",
            "knowledge_base",
            "question",
            "answer",
            "alternatives",
            "created_by",
            "from_message",
            "created_at",
            "updated_at",
        ]
        validators: list = []  # the question's uniqueness in its knowledge base is checked below

    def validate(self, attrs: dict) -> dict:
        pair = self.instance
        question = " ".join(attrs.get("question", pair.question if pair else "").split())
        answer = attrs.get("answer", pair.answer if pair else "")
        alternatives = attrs.get("alternatives", pair.alternatives if pair else [])
        alternatives = [
            a for a in dict.fromkeys(" ".join(a.split()) for a in alternatives) if a and a != question
        ]
        if problem := importing.row_problem(question, answer.strip(), alternatives):
            raise serializers.ValidationError(problem)
        knowledge_base = pair.knowledge_base if pair else self.context["knowledge_base"]
        same = FaqPair.objects.filter(knowledge_base=knowledge_base, question=question)
        if pair is not None:
            same = same.exclude(id=pair.id)
        if same.exists():
            raise serializers.ValidationError(
                {"question": _("This knowledge base has that question already.")}
            )
        return attrs | {"question": question, "alternatives": alternatives}


class FaqImportSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text=_(
            "CSV or Excel .xlsx; first row question, answer and optionally alternatives (or 问题, 答案, "
            "相似问题), alternatives separated by new lines or |."
        )
    )


class SkippedRowSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text=_("The row's number in the file, the header's being 1."))
    message = serializers.CharField()


class FaqImportReportSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField(help_text=_("Questions already there, given the file's answer."))
    skipped = SkippedRowSerializer(many=True)


class FaqMatchSerializer(serializers.Serializer):
    pair_id = serializers.IntegerField()
    knowledge_base_id = serializers.IntegerField()
    question = serializers.CharField()
    matched = serializers.CharField(help_text=_("The phrasing that matched best."))
    answer = serializers.CharField()
    score = serializers.FloatField(
        help_text=_("0–1; at or above the FAQ threshold the answer is given at once.")
    )
    dense_score = serializers.FloatField(allow_null=True)
    lexical_score = serializers.FloatField()
