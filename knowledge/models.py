import re

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from knowledge.embedder_config import DEFAULT_NAME, NAME_CHARS
from knowledge.locations import location_label


class KnowledgeBaseQuerySet(models.QuerySet):
    def readable_by(self, user) -> "KnowledgeBaseQuerySet":
        """Knowledge bases the user may read: public ones and those naming one of the user's groups."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self.all()
        return self.filter(Q(is_public=True) | Q(groups__user=user)).distinct()


class KnowledgeBase(models.Model):
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    is_public = models.BooleanField(
        _("readable by everyone"), default=False, help_text=_("Otherwise only the groups below may read it.")
    )
    groups = models.ManyToManyField(
        Group, blank=True, related_name="knowledge_bases", verbose_name=_("groups")
    )

    class RetrievalMode(models.TextChoices):
        HYBRID = "hybrid", _("Hybrid (meaning and words)")
        DENSE = "dense", _("Meaning only (vectors)")
        LEXICAL = "lexical", _("Words only (BM25)")

    top_k = models.PositiveSmallIntegerField(
        _("passages per question"), default=5, validators=[MinValueValidator(1), MaxValueValidator(50)]
    )
    retrieval_mode = models.CharField(
        _("search"), max_length=10, choices=RetrievalMode.choices, default=RetrievalMode.HYBRID
    )
    # None: automatic, the calibrated floor of the question's script (knowledge.floors).
    relevance_floor = models.FloatField(
        _("relevance floor"),
        null=True,
        blank=True,
        default=None,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text=_(
            "Passages whose relevance (0–1, shown on the hit-testing page) is below this are never "
            "used. Empty: automatic, a floor calibrated for the question's language. 0 keeps every "
            "passage found."
        ),
    )

    class WhenNothingFound(models.TextChoices):
        REPLY = "reply", _("Reply that the documents do not cover it")
        GENERAL = "general", _("Answer from general knowledge, marked as not from the documents")

    when_nothing_found = models.CharField(
        _("when no passage is relevant"),
        max_length=10,
        choices=WhenNothingFound.choices,
        default=WhenNothingFound.REPLY,
    )
    nothing_found_reply = models.TextField(
        _("reply when nothing is found"),
        blank=True,
        help_text=_(
            "Shown instead of an answer when no passage clears the relevance floor. Empty: a standard text."
        ),
    )
    chunk_overlap = models.PositiveSmallIntegerField(
        _("chunk overlap (tokens)"),
        default=32,
        help_text=_(
            "Tokens of the previous chunk repeated at the start of the next; applies on (re-)indexing."
        ),
    )
    faq_threshold = models.FloatField(
        _("FAQ threshold"),
        default=0.9,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text=_(
            "A question that matches a curated FAQ question at least this well (0–1, shown on the "
            "hit-testing page) gets its answer at once, without the model."
        ),
    )
    ocr = models.BooleanField(
        _("read scans (OCR)"),
        default=True,
        help_text=_(
            "Read the text of images and of scanned PDF pages by optical character recognition "
            "(Chinese and English). Off: images are not indexed, and PDFs only by their text pages."
        ),
    )
    embedder = models.CharField(
        _("embedder"),
        max_length=NAME_CHARS,
        default=DEFAULT_NAME,
        help_text=_(
            "The model that turns passages and questions into vectors. Changing it re-embeds every "
            "passage in the background; until that is done, searches use the current one."
        ),
    )
    # A change of embedder in progress (knowledge.reembedding): the embedder being moved to, how many
    # chunks have their new vector, and why the last change failed. `reembed_attempt` grows with each
    # change started, so that a superseded task stops writing.
    next_embedder = models.CharField(max_length=NAME_CHARS, blank=True, editable=False)
    reembed_done = models.PositiveIntegerField(default=0, editable=False)
    reembed_total = models.PositiveIntegerField(default=0, editable=False)
    reembed_attempt = models.PositiveIntegerField(default=0, editable=False)
    reembed_error = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = KnowledgeBaseQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("knowledge base")
        verbose_name_plural = _("knowledge bases")

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        # Once created, the embedder and the change in progress are written only by
        # knowledge.reembedding, so a form or serializer holding a row read before a switch cannot
        # undo the switch (the chunks' vectors would then belong to another embedder).
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name not in EMBEDDER_STATE
            ]
        super().save(*args, **kwargs)


EMBEDDER_STATE = frozenset(
    {"embedder", "next_embedder", "reembed_done", "reembed_total", "reembed_attempt", "reembed_error"}
)


# Bytes of a stored file's name: file systems allow 255, and the storage may add a suffix to make it unique.
STORED_NAME_BYTES = 100


def stored_file_name(filename: str) -> str:
    """The name a file is stored under: its last path part (either slash), in letters, digits, `-_.`,
    cut to STORED_NAME_BYTES of UTF-8 with its extension kept. The title keeps the name as given."""
    last = filename.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, extension = last.rpartition(".")
    if not dot:
        stem, extension = extension, ""
    extension = re.sub(r"[^0-9A-Za-z]", "", extension)[:16]
    suffix = f".{extension}" if extension else ""
    stem = re.sub(r"[^\w-]+", "_", stem).strip("_")
    stem = stem.encode()[: STORED_NAME_BYTES - len(suffix)].decode(errors="ignore") or "document"
    return stem + suffix


# A document's title: the uploaded file's name, cut to fit (knowledge.services).
TITLE_CHARS = 300


def document_upload_path(document: "Document", filename: str) -> str:
    return f"documents/{document.knowledge_base_id}/{document.sha256[:16]}/{stored_file_name(filename)}"


class Document(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        PROCESSING = "processing", _("Processing")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    knowledge_base = models.ForeignKey(
        KnowledgeBase, verbose_name=_("knowledge base"), on_delete=models.CASCADE, related_name="documents"
    )
    title = models.CharField(_("title"), max_length=TITLE_CHARS)
    file = models.FileField(_("file"), upload_to=document_upload_path, max_length=500)
    sha256 = models.CharField("SHA-256", max_length=64, editable=False)
    size = models.PositiveBigIntegerField(_("size"), default=0, editable=False)
    mime = models.CharField(_("type"), max_length=100, editable=False)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.QUEUED, editable=False
    )
    error = models.TextField(_("error"), blank=True, editable=False)
    chunk_count = models.PositiveIntegerField(_("chunks"), default=0, editable=False)
    chunks_done = models.PositiveIntegerField(default=0, editable=False)
    chunks_total = models.PositiveIntegerField(default=0, editable=False)
    # Set once the document is known to hold scans (an image; a PDF with scanned pages): it is then
    # queued to the OCR worker (settings.OCR_QUEUE), so scans never hold up the text documents.
    needs_ocr = models.BooleanField(_("needs OCR"), default=False, editable=False)
    ocr_pages_done = models.PositiveIntegerField(default=0, editable=False)
    ocr_pages_total = models.PositiveIntegerField(default=0, editable=False)
    # When the task message was handed to the broker; None while it could not be (broker down).
    queued_at = models.DateTimeField(null=True, blank=True, editable=False)
    attempts = models.PositiveIntegerField(_("attempts"), default=0, editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        editable=False,
    )
    # Where a synced document comes from (the sources app): a page's URL or a file's path; empty for uploads.
    source_location = models.CharField(_("location"), max_length=2000, blank=True, editable=False)
    # The share of each script in the text, {"latin": 0.8, "han": 0.2}, recorded at ingestion
    # (knowledge.languages): the document's languages. Empty until it is first indexed.
    scripts = models.JSONField(_("languages"), default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "updated_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["knowledge_base", "sha256"], name="unique_document_content_per_kb"
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def type_name(self) -> str:
        """The name the file's type is judged by where its content cannot tell: an upload's title (its
        name as given); a synced document's stored file name, since its title is the page's."""
        return self.file.name.rsplit("/", 1)[-1] if self.source_location else self.title

    @property
    def web_url(self) -> str:
        """The page this document was read from, when it was a web page (http or https only)."""
        return self.source_location if self.source_location.startswith(("https://", "http://")) else ""

    @property
    def progress_percent(self) -> int:
        if self.status == self.Status.READY:
            return 100
        if self.reading_scans:
            return round(100 * self.ocr_pages_done / self.ocr_pages_total)
        return round(100 * self.chunks_done / self.chunks_total) if self.chunks_total else 0

    @property
    def reading_scans(self) -> bool:
        """Whether the OCR worker is reading the document's scans (before its chunks are embedded)."""
        return self.status == self.Status.PROCESSING and bool(self.ocr_pages_total) and not self.chunks_total


class Chunk(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    knowledge_base = models.ForeignKey(KnowledgeBase, on_delete=models.CASCADE, related_name="chunks")
    position = models.PositiveIntegerField()
    text = models.TextField()
    heading = models.CharField(max_length=500, blank=True)
    page = models.PositiveIntegerField(null=True, blank=True)
    char_start = models.PositiveIntegerField(default=0)
    char_end = models.PositiveIntegerField(default=0)
    # sha256 of the text: a re-index reuses the stored vector of an unchanged chunk.
    content_hash = models.CharField(max_length=64, db_index=True)
    vector = models.BinaryField()
    # The vector by the knowledge base's next embedder while it changes (knowledge.reembedding).
    next_vector = models.BinaryField(null=True)

    class Meta:
        ordering = ["document_id", "position"]
        constraints = [models.UniqueConstraint(fields=["document", "position"], name="unique_chunk_position")]

    def __str__(self) -> str:
        return f"{self.document} #{self.position}"

    @property
    def location(self) -> str:
        return location_label(page=self.page, heading=self.heading)


class IndexChange(models.Model):
    """One change to the search indexes, in the order changes committed (knowledge.index_log).

    Each node applies the log after its cursor to its own copy of the indexes (knowledge.index_sync).
    The ids of a knowledge base and a chunk are plain numbers, not keys: the change outlives them.
    """

    class Operation(models.TextChoices):
        ADD = "add"
        REMOVE = "remove"
        DROP = "drop"  # the knowledge base was deleted
        REBUILD = "rebuild"  # rebuild the knowledge base's index from the database
        PRUNE = "prune"  # older changes were deleted, up to `pruned_through`

    id = models.BigAutoField(primary_key=True)
    knowledge_base_id = models.BigIntegerField(null=True)
    chunk_id = models.BigIntegerField(null=True)
    operation = models.CharField(max_length=10, choices=Operation.choices)
    pruned_through = models.BigIntegerField(null=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"#{self.id} {self.operation} kb {self.knowledge_base_id} chunk {self.chunk_id}"
