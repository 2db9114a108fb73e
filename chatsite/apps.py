from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_save


class ChatsiteConfig(AppConfig):
    name = "chatsite"
    verbose_name = "Site"

    def ready(self) -> None:
        from chatsite import first_admin

        post_save.connect(
            first_admin.password_forget_once_changed,
            sender=settings.AUTH_USER_MODEL,
            dispatch_uid="first-admin-password",
        )
