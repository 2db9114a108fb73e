from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from api.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a user and print it (it cannot be shown again)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="command line", help="What the key is for.")

    def handle(self, *args, username: str, name: str, **options) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if not user.is_active:
            raise CommandError(f"The user {username!r} is inactive; a key would not work.")
        _key, secret = api_key_create(user=user, name=name)
        self.stdout.write(secret)
