"""Quota limits an administrator sets for one user or one group (usage/quotas.py applies them)."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class QuotaLimit(models.Model):
    """Limits for a user or a group; a blank limit is not set here (the next rule decides)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="quota_limit",
    )
    group = models.OneToOneField(
        Group,
        verbose_name=_("group"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="quota_limit",
    )
    questions_per_day = models.PositiveIntegerField(
        _("questions per day"), null=True, blank=True, help_text=_("Blank: not set here.")
    )
    spend_per_month_usd = models.DecimalField(
        _("spend per month (USD)"),
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Blank: not set here."),
    )

    class Meta:
        verbose_name = _("quota limit")
        verbose_name_plural = _("quota limits")
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, group__isnull=True)
                | Q(user__isnull=True, group__isnull=False),
                name="quota_limit_for_a_user_or_a_group",
                violation_error_message=_("Set either a user or a group, not both."),
            )
        ]
        permissions = [("view_usage_dashboard", _("Can view the usage dashboard"))]

    def __str__(self) -> str:
        if self.user is not None:
            return _("Limits of user %(name)s") % {"name": self.user.get_username()}
        return _("Limits of group %(name)s") % {"name": self.group.name if self.group else ""}
