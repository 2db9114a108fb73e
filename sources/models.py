"""Sources a knowledge base is kept in step with: a web site (or one page) or a server folder."""

from datetime import timedelta
from urllib.parse import urlsplit

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from knowledge.models import Document, KnowledgeBase

URL_CHARS = 2000
PATH_CHARS = 1000


class Source(models.Model):
    class Kind(models.TextChoices):
        WEB = "web", _("Web page or site")
        FOLDER = "folder", _("Server folder")

    class Auth(models.TextChoices):
        NONE = "none", _("None")
        BASIC = "basic", _("Basic (user name and password)")
        HEADER = "header", _("A request header (e.g. Authorization: Bearer …)")

    knowledge_base = models.ForeignKey(
        KnowledgeBase, verbose_name=_("knowledge base"), on_delete=models.CASCADE, related_name="sources"
    )
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.WEB)
    # Not a URLField: Django's validator refuses intranet hosts without a dot (http://wiki/); the
    # address is checked by sources.checks, and every fetch by sources.network.
    url = models.CharField(
        _("start URL"), max_length=URL_CHARS, blank=True, help_text=_("For a web source: http or https only.")
    )
    prefix = models.CharField(
        _("stay under"),
        max_length=URL_CHARS,
        blank=True,
        help_text=_("Only pages whose URL starts with this are read. Empty: the start URL's folder."),
    )
    path = models.CharField(
        _("folder"),
        max_length=PATH_CHARS,
        blank=True,
        help_text=_(
            "For a folder source: a folder under one of the roots allowed (setting SOURCE_FOLDER_ROOTS)."
        ),
    )
    max_depth = models.PositiveSmallIntegerField(
        _("link depth"),
        default=2,
        help_text=_("Links followed from the start page; 0 reads the start page only."),
    )
    max_pages = models.PositiveIntegerField(_("page or file limit"), default=100)
    interval_minutes = models.PositiveIntegerField(
        _("sync every (minutes)"), default=1440, help_text=_("0: only when asked (“Sync now”).")
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    auth = models.CharField(_("credentials"), max_length=10, choices=Auth.choices, default=Auth.NONE)
    auth_username = models.CharField(_("user name"), max_length=200, blank=True)
    auth_header_name = models.CharField(_("header name"), max_length=100, blank=True)
    # The password or the header's value: written, never shown again (the admin and API say set / not set).
    auth_secret = models.CharField(max_length=2000, blank=True)
    next_sync_at = models.DateTimeField(_("next sync"), null=True, blank=True, editable=False)
    # Set from when a sync is queued until it ends: one at a time per source (sources.syncing takes
    # and frees it).
    syncing_since = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("source")
        verbose_name_plural = _("sources")

    def __str__(self) -> str:
        return self.name

    @property
    def scope(self) -> str:
        """The URL prefix pages must start with: the one given, or the start URL up to its last slash."""
        if self.prefix:
            return self.prefix
        parts = urlsplit(self.url)
        folder = parts.path.rpartition("/")[0] + "/"
        return f"{parts.scheme}://{parts.netloc}{folder}"

    @property
    def has_secret(self) -> bool:
        return bool(self.auth_secret)

    def schedule_next(self) -> None:
        self.next_sync_at = (
            timezone.now() + timedelta(minutes=self.interval_minutes) if self.interval_minutes else None
        )


# What a manager sets on a source (the admin form and the API), besides its knowledge base and secret.
SOURCE_SETTINGS = [
    "name",
    "kind",
    "url",
    "prefix",
    "path",
    "max_depth",
    "max_pages",
    "interval_minutes",
    "enabled",
    "auth",
    "auth_username",
    "auth_header_name",
]


class SyncRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        PARTIAL = "partial", _("Done, with failures")
        FAILED = "failed", _("Failed")
        STOPPED = "stopped", _("Stopped at the time limit")

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("Schedule")
        MANUAL = "manual", _("Sync now")

    source = models.ForeignKey(
        Source, verbose_name=_("source"), on_delete=models.CASCADE, related_name="runs"
    )
    trigger = models.CharField(_("started by"), max_length=10, choices=Trigger.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    added = models.PositiveIntegerField(_("added"), default=0)
    changed = models.PositiveIntegerField(_("changed"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    removed = models.PositiveIntegerField(_("removed"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    # [{"location": url or path, "reason": why}], the first SYNC_PROBLEMS_KEPT of them.
    problems = models.JSONField(_("failures"), default=list, blank=True)
    # [{"location": url or path, "same_as": the document with the same content}], counted as unchanged.
    duplicates = models.JSONField(_("duplicates"), default=list, blank=True)
    error = models.TextField(_("why it failed or stopped"), blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("sync")
        verbose_name_plural = _("syncs")

    def __str__(self) -> str:
        return f"{self.source} · {self.started_at:%Y-%m-%d %H:%M}"


class SourceItem(models.Model):
    """One page or file of a source, the document it became, and what tells a change."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="items")
    location = models.CharField(max_length=URL_CHARS)
    document = models.OneToOneField(Document, on_delete=models.CASCADE, related_name="source_item")
    etag = models.CharField(max_length=300, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    content_hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "location"], name="unique_source_location")]

    def __str__(self) -> str:
        return self.location
