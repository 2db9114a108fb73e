"""Local accounts: passwords kept in this app's database."""

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser, User


class LocalPasswordBackend(ModelBackend):
    """Django's password sign-in (and permissions). With LOCAL_SIGN_IN=false only superusers may sign
    in with a password, on the admin's sign-in page (the break-glass way in when the provider is
    down); the sign-in page itself then takes no password at all (accounts.views.SignInView)."""

    def user_can_authenticate(self, user: User | AnonymousUser | None) -> bool:
        allowed = settings.LOCAL_SIGN_IN or getattr(user, "is_superuser", False)
        return allowed and super().user_can_authenticate(user)
