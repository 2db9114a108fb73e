import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from chatsite import first_admin


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
        saved = first_admin.password_save(username=username, password=password)
        where = f"saved in {saved}, readable by this user only, until the password is changed"
        if self.stdout.isatty():
            message = f"Log in as {username!r} with password {password!r} ({where})."
        else:
            # Output that is not a terminal ends up in logs (a container's, a CI's): no password there.
            message = f"Log in as {username!r} with the password {where}."
        self.stdout.write(self.style.SUCCESS(f"Created the administrator account. {message}"))
