from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """Signing in: local accounts, OIDC single sign-on and LDAP / Active Directory."""

    name = "accounts"
    verbose_name = _("Accounts")
