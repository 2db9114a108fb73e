"""Content policy: the word lists administrators keep, and the flags they raise on documents."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class WordList(models.Model):
    class Action(models.TextChoices):
        BLOCK = "block", _("Block")
        MASK = "mask", _("Mask with asterisks")
        LOG = "log", _("Log only")

    name = models.CharField(_("name"), max_length=100, unique=True)
    action = models.CharField(_("action"), max_length=10, choices=Action.choices, default=Action.LOG)
    # One term a line, stripped and without duplicates (policy.terms keeps them so).
    terms = models.TextField(_("terms"), blank=True, help_text=_("One term a line, Chinese or English."))
    # Raised by every change (policy.services): processes rebuild a list's automaton when it moves.
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(_("changed"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("word list")
        verbose_name_plural = _("word lists")

    def __str__(self) -> str:
        return self.name

    @property
    def term_list(self) -> list[str]:
        return [line for line in self.terms.splitlines() if line]


class Flag(models.Model):
    """A term of a word list found in a document at ingestion, with the passage it is in."""

    document = models.ForeignKey(
        "knowledge.Document",
        on_delete=models.CASCADE,
        related_name="policy_flags",
        verbose_name=_("document"),
    )
    word_list = models.ForeignKey(
        WordList, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("word list")
    )
    list_name = models.CharField(_("word list"), max_length=100)  # kept when the list is deleted
    action = models.CharField(_("action"), max_length=10, choices=WordList.Action.choices)
    term = models.CharField(_("term"), max_length=200)
    passage = models.TextField(_("passage"))
    # Where the term is in the passage, to show it marked.
    term_start = models.PositiveIntegerField(default=0)
    term_end = models.PositiveIntegerField(default=0)
    location = models.CharField(_("location"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("found"), auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("content policy flag")
        verbose_name_plural = _("content policy flags")

    def __str__(self) -> str:
        return f"{self.list_name}: {self.term}"
