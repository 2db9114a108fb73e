"""Curated question–answer pairs: knowledge of a knowledge base beside its documents.

A pair is matched against questions by its question and its alternative phrasings; their vectors
and lexical terms are computed when the pair is saved (faq.services), so matching a question only
compares numbers and sets.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from knowledge.models import KnowledgeBase

QUESTION_CHARS = 500
ANSWER_CHARS = 10_000
ALTERNATIVES = 20  # alternative phrasings of one question, each at most QUESTION_CHARS


class FaqPair(models.Model):
    knowledge_base = models.ForeignKey(
        KnowledgeBase, verbose_name=_("knowledge base"), on_delete=models.CASCADE, related_name="faq_pairs"
    )
    question = models.CharField(_("question"), max_length=QUESTION_CHARS)
    answer = models.TextField(_("answer"), max_length=ANSWER_CHARS)
    alternatives = models.JSONField(
        _("alternative phrasings"), default=list, blank=True, help_text=_("Other ways to ask the question.")
    )
    # One unit-length float32 vector per phrasing (the question first), and their lexical terms.
    vectors = models.BinaryField(editable=False, default=b"")
    terms = models.JSONField(editable=False, default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        editable=False,
        related_name="+",
    )
    # The thumbs-up answer it was saved from, if any.
    from_message = models.ForeignKey(
        "chat.Message",
        verbose_name=_("saved from answer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        editable=False,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("FAQ pair")
        verbose_name_plural = _("FAQ pairs")
        ordering = ["question", "id"]
        constraints = [
            models.UniqueConstraint(fields=["knowledge_base", "question"], name="unique_faq_question_per_kb")
        ]

    def __str__(self) -> str:
        return self.question

    @property
    def phrasings(self) -> list[str]:
        return [self.question, *self.alternatives]
