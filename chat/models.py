from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from knowledge.models import KnowledgeBase


class Conversation(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    title = models.CharField(_("title"), max_length=200, blank=True)
    knowledge_bases = models.ManyToManyField(KnowledgeBase, blank=True, related_name="conversations")
    model = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.title or str(_("New chat"))

    def get_absolute_url(self) -> str:
        return reverse("chat:conversation", args=[self.id])


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user"
        ASSISTANT = "assistant"

    class Status(models.TextChoices):
        STREAMING = "streaming"
        COMPLETE = "complete"
        STOPPED = "stopped"
        FAILED = "failed"

    class Mode(models.TextChoices):
        LLM = "llm"
        RETRIEVAL_ONLY = "retrieval-only"

    class Rating(models.TextChoices):
        UP = "up", _("good")
        DOWN = "down", _("bad")

    class Grounding(models.TextChoices):
        DOCUMENTS = "documents"  # answered from the passages sent
        GENERAL = "general"  # no passage was relevant: answered from general knowledge, marked so
        NOT_FOUND = "not-found"  # no passage was relevant: the knowledge base's reply, no model call
        FAQ = "faq"  # a curated FAQ answer (faq/), no model call

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=20, choices=Role.choices)
    # An answer's question. Regenerating adds an answer to the same question: its versions.
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="versions"
    )
    # Whether the conversation shows this message: of a question's answers, the version the user
    # chose (the history sent to the model follows it); a question edited and resent is no longer shown.
    shown = models.BooleanField(default=True)
    content = models.TextField(blank=True)
    reasoning = models.TextField(blank=True)
    # The passages the answer cites, copied so old answers keep their sources when documents change.
    citations = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.COMPLETE)
    mode = models.CharField(max_length=20, choices=Mode.choices, blank=True)
    grounding = models.CharField(max_length=20, choices=Grounding.choices, default=Grounding.DOCUMENTS)
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=50, blank=True)
    # What `error` leaves out (a host, the upstream's reply): for staff only, never for the asking
    # user unless they are staff, and never through the API's conversation pages.
    error_detail = models.TextField(blank=True)
    # The upstream's id of the model that answered and its configured name; and the name of the model
    # asked, when it was unavailable and one of its fallbacks answered instead.
    model = models.CharField(_("model"), max_length=100, blank=True)
    model_name = models.CharField(max_length=100, blank=True)
    fallback_for = models.CharField(max_length=100, blank=True)
    # The messages the model that answered was sent (chat.engine.Outcome.prompt), for fine-tuning
    # data sets (chat.datasets); empty when no model was asked. Its passages come only from the
    # knowledge bases searched for the answer, which the conversation's may no longer be: they decide
    # who may export it.
    prompt = models.JSONField(default=list, blank=True)
    searched_knowledge_bases = models.ManyToManyField(KnowledgeBase, blank=True, related_name="+")
    usage = models.JSONField(default=dict, blank=True)
    cost_usd = models.FloatField(null=True, blank=True)  # from the model's configured prices
    timings = models.JSONField(default=dict, blank=True)
    # Follow-up questions offered under the answer (chat.suggestions), shown while it is the last.
    suggestions = models.JSONField(default=list, blank=True)
    # The asking user's verdict on an answer, with an optional comment.
    rating = models.CharField(_("rating"), max_length=10, choices=Rating.choices, blank=True)
    feedback = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(_("date"), auto_now_add=True)

    # Not stored: set on the messages a conversation's page shows (chat.conversations.conversation_thread
    # and chat.views), which of its question's answers this one is, of how many, the answer as HTML,
    # why it failed as a staff member may read it, and the follow-up questions the page offers under it.
    version: int
    version_count: int
    html: str
    detail: str
    follow_ups: list[str]

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["reply_to"], condition=models.Q(shown=True), name="one_shown_answer_per_question"
            )
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:60]}"

    @property
    def thought_seconds(self) -> int | None:
        seconds = self.timings.get("reasoning_s")
        return None if seconds is None else max(1, round(seconds))


class Feedback(Message):
    """Answers as the admin lists their users' ratings and comments."""

    class Meta:
        proxy = True
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")
        permissions = [("export_dataset", _("Can export answers as a fine-tuning data set"))]

    def __str__(self) -> str:
        question = self.reply_to.content if self.reply_to else self.content
        return _("Feedback on “%(question)s”") % {"question": Truncator(question).chars(60)}


class Share(models.Model):
    """A read-only link to a conversation (chat.sharing). Only the token's SHA-256 is stored: a copy of
    the database (a backup, a replica, the admin) then holds no working link, as for API keys; the
    link is shown to its owner once, when made."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="shares")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shares")
    token_hash = models.CharField(max_length=64, unique=True)
    signed_in_only = models.BooleanField(_("signed-in staff only"), default=False)
    show_reasoning = models.BooleanField(_("include reasoning"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"share {self.id} of {self.conversation_id}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
