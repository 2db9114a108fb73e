"""Input and output shapes of the sources endpoints (/api/v1/…/sources/)."""

import copy

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from knowledge.models import KnowledgeBase
from sources import checks
from sources.models import SOURCE_SETTINGS, Source, SyncRun


class SyncRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = SyncRun
        fields = [
            "id",
            "trigger",
            "status",
            "started_at",
            "finished_at",
            "added",
            "changed",
            "unchanged",
            "removed",
            "failed",
            "problems",
            "duplicates",
            "error",
        ]
        read_only_fields = fields


class SourceSerializer(serializers.ModelSerializer):
    knowledge_base: serializers.SlugRelatedField[KnowledgeBase] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=2000,
        help_text=_("The password (basic) or the header's value; never returned. Empty forgets it."),
    )
    secret_set = serializers.BooleanField(source="has_secret", read_only=True)
    last_sync = serializers.SerializerMethodField()

    class Meta:
        model = Source
        fields = [
            "id",
            "knowledge_base",
            *SOURCE_SETTINGS,
            "secret",
            "secret_set",
            "next_sync_at",
            "last_sync",
            "created_at",
        ]
        read_only_fields = ["next_sync_at", "created_at"]

    def get_last_sync(self, source: Source) -> dict | None:
        run = source.runs.first()
        return SyncRunSerializer(run).data if run else None

    def validate_secret(self, secret: str) -> str:
        if problem := checks.secret_problem(secret):
            raise serializers.ValidationError(problem)
        return secret

    def validate(self, attrs: dict) -> dict:
        # The source with its fields as they would be saved, not saved yet.
        source = copy.copy(self.instance) if self.instance else Source()
        secret = attrs.pop("secret", None)
        for name, value in attrs.items():
            setattr(source, name, value)
        if secret is not None:
            source.auth_secret = secret
        problems = checks.source_problems(source=source, secret_after_save=source.has_secret)
        if problems:
            raise serializers.ValidationError(problems)
        if secret is not None:
            attrs["auth_secret"] = secret
        return attrs
