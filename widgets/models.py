import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from chatsite.env import rate_parts
from knowledge.models import KnowledgeBase
from widgets import origins


def new_key() -> str:
    return secrets.token_urlsafe(16)


def validate_origins(value: str) -> None:
    origins.parse_origins(value)


def validate_rate(value: str) -> None:
    try:
        rate_parts(value)
    except ValueError:
        raise ValidationError(_("Write a rate such as 10/min, 5/s or 100/hour.")) from None


class Widget(models.Model):
    """A chat button and panel that pages on `allowed_origins` add with one script tag (its `key` is
    in it). It answers from its knowledge bases only, for whom `access` says, within its own rate per
    visitor and its questions per day."""

    class Access(models.TextChoices):
        SESSION = "session", _("Signed-in staff (this app's session)")
        TOKEN = "token", _("A short-lived token from the host page's backend")
        ANONYMOUS = "anonymous", _("Anyone (anonymous, rate-limited)")

    name = models.CharField(_("name"), max_length=100, unique=True)
    key = models.CharField(_("key"), max_length=32, unique=True, default=new_key, editable=False)
    knowledge_bases = models.ManyToManyField(
        KnowledgeBase,
        related_name="widgets",
        verbose_name=_("knowledge bases"),
        help_text=_("The widget answers from these alone."),
    )
    allowed_origins = models.TextField(
        _("allowed origins"),
        validators=[validate_origins],
        help_text=_(
            "The sites whose pages may show the widget, one per line, as scheme://host[:port] "
            "(for example https://intranet.example.com). No wildcards."
        ),
    )
    access = models.CharField(
        _("who may use it"), max_length=16, choices=Access.choices, default=Access.SESSION
    )
    rate = models.CharField(
        _("rate per person"),
        max_length=32,
        default="10/min",
        validators=[validate_rate],
        help_text=_("Questions one user (or, anonymous, one address) may ask, e.g. 10/min or 100/hour."),
    )
    questions_per_day = models.PositiveIntegerField(
        _("questions per day"), default=1000, help_text=_("For the whole widget, everyone together.")
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    # Token mode: the SHA-256 digest of the secret the host's backend asks tokens with (shown once).
    secret_digest = models.CharField(max_length=64, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("chat widget")
        verbose_name_plural = _("chat widgets")

    def __str__(self) -> str:
        return self.name

    def origin_list(self) -> list[str]:
        return self.allowed_origins.split()

    def allows(self, origin: str | None) -> bool:
        """Whether a page of `origin` may use the widget now."""
        return self.enabled and origin is not None and origin in self.origin_list()

    @property
    def via(self) -> str:
        """How its questions are marked in the audit log."""
        return f"widget:{self.name}"
