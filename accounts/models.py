from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class OidcIdentity(models.Model):
    """Who a user is at the OIDC provider: the provider's stable subject (`sub`) finds the user at each
    sign-in, never the e-mail address or the name, which the provider lets change (and which a local
    account of the same name must not be taken over by)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="oidc_identity",
        verbose_name=_("user"),
    )
    subject = models.CharField(_("subject"), max_length=255, unique=True)
    # The groups the groups claim gave at the last sign-in: without OIDC_MIRROR_GROUPS these are the
    # groups the provider manages for this user (accounts/groups.py).
    claimed_groups = models.JSONField(_("groups from the provider"), default=list, blank=True)
    last_sign_in = models.DateTimeField(_("last sign-in"), auto_now=True)

    class Meta:
        verbose_name = _("single sign-on identity")
        verbose_name_plural = _("single sign-on identities")

    def __str__(self) -> str:
        return f"{self.user} ({self.subject})"
