"""The audit log: one row per thing that happened, written once and never changed.

Rows are append-only for every caller: saving an existing row, `update()` and `delete()` raise. The one
way rows leave is the retention purge (`audit.retention`), which records that it ran."""

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AppendOnlyError(Exception):
    """Raised on any attempt to change or remove an audit event."""


class EventQuerySet(models.QuerySet["Event"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("audit events cannot be changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit events are removed only by the retention purge")


class Event(models.Model):
    class Kind(models.TextChoices):
        SIGN_IN = "sign_in", _("Signed in")
        SIGN_IN_FAILED = "sign_in_failed", _("Sign-in failed")
        SIGN_OUT = "sign_out", _("Signed out")
        QUESTION = "question", _("Question asked")
        UPLOAD = "upload", _("Document uploaded")
        REINDEX = "reindex", _("Re-index")
        DELETE = "delete", _("Deleted")
        PERMISSIONS = "permissions", _("Knowledge-base access changed")
        MEMBERSHIP = "membership", _("Group membership changed")
        FAQ = "faq", _("FAQ changed")
        API_KEY_CREATED = "api_key_created", _("API key created")
        API_KEY_REVOKED = "api_key_revoked", _("API key revoked")
        QUOTA = "quota", _("Quota")
        POLICY = "policy", _("Content policy")
        SOURCE = "source", _("Source changed")
        SOURCE_SYNC = "source_sync", _("Source synced")
        PURGE = "purge", _("Audit log purged")
        SHARE = "share", _("Conversation shared")
        EXPORT = "export", _("Exported")
        WIDGET = "widget", _("Widget changed")

    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    kind = models.CharField(_("event"), max_length=32, choices=Kind.choices, db_index=True)
    # The user is kept by name too: the row outlives the account.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    username = models.CharField(_("user name"), max_length=150, blank=True, db_index=True)
    ip = models.GenericIPAddressField(_("address"), null=True, blank=True)
    target = models.CharField(_("object"), max_length=200, blank=True)
    summary = models.CharField(_("summary"), max_length=500, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        # Quotas count one user's questions since a day or month began (usage.quotas).
        indexes = [models.Index(fields=["user", "kind", "at"], name="audit_user_kind_at")]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.get_kind_display()} {self.username}".strip()

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit events cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit events are removed only by the retention purge")


class AskedKnowledgeBase(models.Model):
    """A knowledge base a QUESTION event asked, by its id and by its name at the time: what the usage
    dashboard filters, scopes and groups questions by. Not a foreign key: like the event, the row
    outlives the knowledge base. Written with its event (chat.question_log), removed with it by the
    retention purge."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="asked")
    knowledge_base_id = models.PositiveBigIntegerField(db_index=True)
    name = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "knowledge_base_id"], name="audit_asked_once_per_event")
        ]

    def __str__(self) -> str:
        return self.name
