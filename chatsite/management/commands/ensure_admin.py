import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the first administrator account if there is none, and say how to log in."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options) -> None:
        users = get_user_model().objects
        if users.filter(is_superuser=True).exists():
            return
        password = secrets.token_urlsafe(12)
        users.create_superuser(username=username, email="", password=password)
        saved = settings.DATA_DIR / "admin-password.txt"
        saved.write_text(f"{username}\n{password}\n")
        saved.chmod(0o600)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created the administrator account. Log in at http://127.0.0.1:8000/ "
                f"as {username!r} with password {password!r} (also saved in {saved})."
            )
        )
