from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """Signing in: local accounts, OIDC single sign-on and LDAP / Active Directory."""

    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from django_auth_ldap.backend import ldap_error

        from accounts.ldap_errors import note_directory_problem

        ldap_error.connect(note_directory_problem, dispatch_uid="accounts.note_directory_problem")
